"""`aphex`: the command people run. `aphex run --local` runs the pipeline on this machine;
`validate`, `render`, `diff` and `runs` look at configs, templates and history.

Exit codes: 0 success, 1 pipeline failure or invalid input, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from aphex_stages.version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aphex", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the pipeline for one commit")
    run.add_argument("repo", nargs="?", default=".", help="git repository (default: .)")
    run.add_argument(
        "--local",
        action="store_true",
        help="run here against an embedded AWS (on a cluster, pushes trigger runs)",
    )
    run.add_argument("--commit", help="commit to run (default: HEAD)")
    run.add_argument("--approve", choices=("all", "none", "ask"), default="ask")
    run.add_argument("--parallelism", type=int, default=4, help="tasks at once (default 4)")
    run.add_argument(
        "--aws-endpoint",
        type=_endpoint,
        metavar="URL",
        help="use this AWS endpoint (http[s]://host[:port]) instead of an embedded moto",
    )
    run.add_argument(
        "--images",
        action="store_true",
        help="run each task in the image its template names (build-support/images.sh builds "
        "them), not as a host process",
    )
    run.add_argument("--builder-image", help="with --images: the builder image to run")
    run.add_argument("--deployer-image", help="with --images: the deployer image to run")
    run.add_argument(
        "--engine", choices=("podman", "docker"), help="with --images: the container engine"
    )

    validate = commands.add_parser("validate", help="validate aphex-config.yaml")
    validate.add_argument("files", nargs="*", default=["aphex-config.yaml"], metavar="FILE")
    validate.add_argument("-o", "--output", choices=("text", "json"), default="text")

    render = commands.add_parser("render", help="print the WorkflowTemplate (or --events)")
    render.add_argument("config", nargs="?", default="aphex-config.yaml")
    render.add_argument("--events", metavar="SECRET[:KEY]", help="render Argo Events manifests")
    render.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")

    diff = commands.add_parser("diff", help="topology change: live template vs config at HEAD")
    diff.add_argument("repo", nargs="?", default=".")
    diff.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when the topology would change (as `git diff --exit-code`), else 0",
    )

    runs = commands.add_parser("runs", help="run history and what is deployed where")
    runs.add_argument("view", nargs="?", choices=("list", "show", "deployed"), default="list")
    runs.add_argument("workflow", nargs="?", help="the run to show")
    runs.add_argument("--repo", default=".", help="repository whose local runs to read")
    runs.add_argument("-o", "--output", choices=("text", "json"), default="text")
    return parser


def _endpoint(text: str) -> str:
    """An endpoint URL: http or https, a host, an optional port, nothing else."""
    parts = urlsplit(text)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise argparse.ArgumentTypeError(f"not an endpoint URL (http[s]://host[:port]): {text!r}")
    return text.rstrip("/")


def _run(args: argparse.Namespace) -> int:
    if not args.local:
        print(
            "aphex run: only --local runs here; on a cluster a push to the branch starts a run",
            file=sys.stderr,
        )
        return 2
    if args.parallelism < 1:
        print("aphex run: --parallelism must be at least 1", file=sys.stderr)
        return 2
    image_options = (args.builder_image, args.deployer_image, args.engine)
    if any(image_options) and not args.images:
        print(
            "aphex run: --builder-image, --deployer-image and --engine need --images",
            file=sys.stderr,
        )
        return 2
    from aphex_stages.local.session import LocalRunOptions, run_local

    return run_local(
        LocalRunOptions(
            repo=Path(args.repo),
            commit=args.commit,
            approve=args.approve,
            parallelism=args.parallelism,
            aws_endpoint=args.aws_endpoint,
            images=args.images,
            builder_image=args.builder_image,
            deployer_image=args.deployer_image,
            engine=args.engine,
        )
    )


def _validate(args: argparse.Namespace) -> int:
    from aphex_config import main as config_main

    return config_main(["validate", *args.files, "--output", args.output])


def _render(args: argparse.Namespace) -> int:
    from aphex_generator import main as generator_main

    if args.events:
        return generator_main(
            ["events", args.config, "--webhook-secret", args.events, "--output", args.output]
        )
    return generator_main(["render", args.config, "--output", args.output])


def _diff(args: argparse.Namespace) -> int:
    from aphex_stages.local.inspect import CHANGED, topology_diff_lines

    lines, code = topology_diff_lines(Path(args.repo))
    for line in lines:
        print(line, file=sys.stdout if code in (0, CHANGED) else sys.stderr)
    if code == CHANGED:  # like `git diff --exit-code`: 1 means "there is a change"
        return 1 if args.exit_code else 0
    return code


def _runs(args: argparse.Namespace) -> int:
    from aphex_stages.local.inspect import local_runs

    return local_runs(Path(args.repo), args.view, args.workflow, args.output)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `aphex` with `argv`; return the exit code. Never prints a traceback."""
    args = _parser().parse_args(argv)
    handlers = {
        "run": _run,
        "validate": _validate,
        "render": _render,
        "diff": _diff,
        "runs": _runs,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last guard: one line, no traceback
        if os.environ.get("APHEX_DEBUG"):
            raise
        print(f"aphex {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
