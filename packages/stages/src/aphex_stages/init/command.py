"""`aphex init`: write a pipeline's files into a CDK app's repository, from the app itself.

It synthesizes the app once (offline, :mod:`aphex_stages.init.synth`), then writes
``aphex-config.yaml`` (the app's stacks in dependency order, environments ``dev`` and
``staging``; first line: the yaml-language-server schema line), the schema it names,
the example post-deploy test ``tests/post_deploy/test_stacks.py`` with its
``requirements-test.txt``, and the ``.gitignore`` lines. It never overwrites: an existing
config stops it, other existing files are kept. Nothing is written unless everything
succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from aphex_config import ConfigError, parse_config, schema_text
from aphex_stages.init.errors import InitError, InitUsageError
from aphex_stages.init.options import CONFIG_FILE, DEFAULT_REGION, PLACEHOLDER_ACCOUNT
from aphex_stages.init.project import Project, inspect_project, pipeline_name
from aphex_stages.init.render import (
    REQUIREMENTS_TEST,
    SCHEMA_FILE,
    TEST_FILE,
    EnvironmentPlan,
    render_config,
    render_requirements,
    render_test,
)
from aphex_stages.init.scaffold import Plan, missing_ignores, write_plan
from aphex_stages.init.synth import AppStack, synthesize
from aphex_stages.termination import terminate_as_interrupt

__all__ = ["CONFIG_FILE", "run_init"]

_PLACEHOLDER_REPOSITORY = "https://github.com/OWNER/{name}.git"
_OPTIONS = {"pipeline.name": "--name", "account": "--account", "region": "--region"}


def run_init(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run `aphex init` with parsed `args`: 0 written, 1 nothing written, 2 usage error."""
    out = out or sys.stdout
    err = err or sys.stderr

    def fail(message: str, code: int) -> int:
        print(f"aphex init: {message}", file=err)
        if args.output == "json":
            print(json.dumps({"error": message}), file=out)
        return code

    try:
        with terminate_as_interrupt():
            result = _init(args, err)
    except InitUsageError as error:
        return fail(str(error), 2)
    except InitError as error:
        return fail(str(error), 1)
    except KeyboardInterrupt:
        return fail("interrupted; nothing was written", 130)
    except Exception as error:  # the last guard: still one line (and the JSON object)
        if os.environ.get("APHEX_DEBUG"):
            raise
        return fail(f"{type(error).__name__}: {error}", 1)
    if args.output == "json":
        print(json.dumps(result, indent=2), file=out)
    else:
        _print_text(result, out)
    return 0


def _check_options(name: str, account: str | None, region: str | None) -> None:
    """Check --name, --account and --region with the config's own rules (InitUsageError)."""
    probe = "\n".join(
        [
            "version: 1",
            "pipeline:",
            f"  name: {json.dumps(name)}",
            "  repository: https://example.com/probe.git",
            "build:",
            "  commands: [probe]",
            "environments:",
            "  - name: probe",
            f"    account: {json.dumps(account or PLACEHOLDER_ACCOUNT)}",
            f"    region: {json.dumps(region or DEFAULT_REGION)}",
            "    stacks: [{name: Probe}]",
        ]
    )
    try:
        parse_config(probe, source="options")
    except ConfigError as error:
        for problem in error.problems:
            for key, option in _OPTIONS.items():
                if problem.path.endswith(key):
                    raise InitUsageError(f"{option}: {problem.message}") from None
        raise InitUsageError(str(error.problems[0].message)) from None


def _other_region(region: str) -> str:
    return "us-west-2" if region != "us-west-2" else "us-east-1"


def _first(values: list[str | None]) -> str | None:
    return next((value for value in values if value), None)


def _init(args: argparse.Namespace, err: TextIO) -> dict[str, Any]:
    root = Path(args.path).resolve()
    if not root.is_dir():
        raise InitError(f"{args.path} is not a folder; give the CDK app's folder")
    config = root / CONFIG_FILE
    if config.exists() or config.is_symlink():
        raise InitError(
            f"{config} exists; aphex init never overwrites it (edit it, or remove it and run"
            " aphex init again)"
        )
    project = inspect_project(root)
    name = args.name or pipeline_name(root.name)
    _check_options(name, args.account, args.region)
    account = args.account or PLACEHOLDER_ACCOUNT
    region = args.region or DEFAULT_REGION
    print(
        f"aphex init: synthesizing the app with cdk synth (account {account}, region {region})...",
        file=err,
        flush=True,
    )
    stacks = synthesize(root, account=account, region=region, environment="dev")
    environments, placeholder = _environments(args, stacks, err)
    repository = project.repository or _PLACEHOLDER_REPOSITORY.format(name=name)
    text = render_config(
        name=name,
        repository=repository,
        repository_known=project.repository is not None,
        branch=project.branch or "main",
        project=project,
        stacks=stacks,
        environments=environments,
        placeholder_account=placeholder,
    )
    try:
        parse_config(text, source=str(config))
    except ConfigError as error:
        problem = error.problems[0]
        hint = " (is the git remote origin a URL the pipeline can clone?)"
        raise InitError(
            f"the config made from this app is not valid: {problem.path}: {problem.message}"
            + (hint if problem.path == "pipeline.repository" else "")
        ) from None
    plan, kept = _plan(root, project, name, stacks, text, err)
    write_plan(plan)
    return {
        "config": str(config),
        "files": plan.files(),
        "kept": kept,
        "stacks": [stack.name for stack in stacks],
        "environments": [
            {"name": env.name, "account": env.account, "region": env.region} for env in environments
        ],
    }


def _environments(
    args: argparse.Namespace, stacks: tuple[AppStack, ...], err: TextIO
) -> tuple[list[EnvironmentPlan], bool]:
    """dev and staging (after dev): the account and region the stacks allow. Stacks that
    pin an account or region (not from the context) decide it; else the options do."""
    pinned_account = _first([stack.account for stack in stacks])
    pinned_region = _first([stack.region for stack in stacks])
    account = args.account or pinned_account or PLACEHOLDER_ACCOUNT
    region = args.region or DEFAULT_REGION
    if pinned_account and pinned_account != account:
        print(f"aphex init: note: the app pins its stacks to account {pinned_account}", file=err)
    staging_region = _other_region(region)
    if pinned_region and pinned_region != region:
        print(
            f"aphex init: note: the app pins its stacks to region {pinned_region}, not the"
            f" context's region {region}: both environments deploy there; build the stacks'"
            " env from the context's account and region to deploy each environment apart",
            file=err,
        )
        region = staging_region = pinned_region
    environments = [
        EnvironmentPlan("dev", account, region, ()),
        EnvironmentPlan("staging", account, staging_region, ("dev",)),
    ]
    return environments, account == PLACEHOLDER_ACCOUNT and not args.account


def _plan(
    root: Path, project: Project, name: str, stacks: tuple[AppStack, ...], config: str, err: TextIO
) -> tuple[Plan, list[str]]:
    plan = Plan(root, created={CONFIG_FILE: config}, gitignore=missing_ignores(root))
    kept: list[str] = []
    optional = {
        SCHEMA_FILE: schema_text(),
        TEST_FILE: render_test(name, stacks),
        REQUIREMENTS_TEST: render_requirements(),
    }
    for relative, text in optional.items():
        if (root / relative).exists():
            kept.append(relative)
        else:
            plan.created[relative] = text
    if REQUIREMENTS_TEST in kept:
        existing = (root / REQUIREMENTS_TEST).read_text("utf-8", errors="replace").lower()
        lacking = [package for package in ("pytest", "boto3") if package not in existing]
        if lacking:
            print(
                f"aphex init: note: {REQUIREMENTS_TEST} is kept; the example test also needs"
                f" {' and '.join(lacking)}",
                file=err,
            )
    return plan, kept


def _print_text(result: dict[str, Any], out: TextIO) -> None:
    environments = ", ".join(
        f"{env['name']} ({env['account']}/{env['region']})" for env in result["environments"]
    )
    print(f"wrote {result['config']}", file=out)
    print(f"  stacks, in deploy order: {', '.join(result['stacks'])}", file=out)
    print(f"  environments: {environments}", file=out)
    print(f"  files: {', '.join(result['files'])}", file=out)
    if result["kept"]:
        print(f"  kept as they were: {', '.join(result['kept'])}", file=out)
    print("next: aphex validate, then aphex run --local to run the pipeline here", file=out)
