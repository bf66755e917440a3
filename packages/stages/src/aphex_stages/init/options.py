"""The options of `aphex init` (cheap to import: the parser of `aphex` builds them)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["CONFIG_FILE", "DEFAULT_REGION", "PLACEHOLDER_ACCOUNT", "add_init_parser"]

CONFIG_FILE = "aphex-config.yaml"
DEFAULT_REGION = "us-east-1"
#: The account a config gets when nothing better is known: the one local runs deploy to.
PLACEHOLDER_ACCOUNT = "111111111111"


def add_init_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `aphex init` to the subcommands `commands`; return its parser."""
    init = commands.add_parser(
        "init",
        help="write aphex-config.yaml (and an example test) from a CDK app",
        description="Synthesize the CDK app in PATH with the pinned CDK CLI (offline: no AWS"
        " call) and write aphex-config.yaml with its stacks in dependency order and two"
        " environments (dev, then staging), the JSON Schema the config's first line names,"
        " an example post-deploy test (tests/post_deploy/test_stacks.py, requirements-test.txt)"
        " and the .gitignore lines .aphex/ and cdk.out/. An existing aphex-config.yaml stops"
        " it; other existing files are kept.",
        epilog="Exit codes: 0 written, 1 nothing written (the cause is named), 2 usage error.",
    )
    init.add_argument("path", nargs="?", default=".", metavar="PATH", help="the app (.)")
    init.add_argument("--name", help="the pipeline's name (default: the folder's name)")
    init.add_argument(
        "--account",
        help=f"the environments' AWS account (default: the stacks' own, else {PLACEHOLDER_ACCOUNT},"
        " the account of local runs)",
    )
    init.add_argument(
        "--region",
        help=f"dev's region (default: the stacks' own, else {DEFAULT_REGION}); staging gets"
        " another one",
    )
    init.add_argument("-o", "--output", choices=("text", "json"), default="text")
    return init
