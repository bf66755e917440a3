"""`aphex`: the command people run. `aphex run --local` runs the pipeline on this machine;
`aphex redeploy` goes back to an older commit on purpose; `aphex install` installs it on AWS;
`validate`, `render`, `diff` and `runs` look at configs, templates and history.

Exit codes: 0 success, 1 pipeline failure or invalid input, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
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
    _add_local_options(run)

    redeploy = commands.add_parser(
        "redeploy",
        help="run an older commit on purpose (the pipeline otherwise only moves forward)",
        description="Submit a run of COMMIT that may go back past newer commits. The heads it"
        " moves record who asked and why. On a cluster it is submitted with your kubeconfig;"
        " with --local it runs here.",
    )
    redeploy.add_argument("commit", metavar="COMMIT", help="the commit to go back to")
    redeploy.add_argument("--reason", required=True, help="why (recorded with the run)")
    redeploy.add_argument("--by", help="who asks (default: git user.email, else the login)")
    redeploy.add_argument("--repo", default=".", help="the repository (default: .)")
    redeploy.add_argument("--local", action="store_true", help="run it here, as aphex run --local")
    redeploy.add_argument("-o", "--output", choices=("text", "json"), default="text")
    _add_local_options(redeploy)

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

    _add_install(commands)
    return parser


def _add_install(commands: Any) -> None:
    """`aphex install`: its options and --help."""
    from aphex_stages.install.steps import STEPS

    steps = "\n".join(f"  {n}. {title}" for n, title in enumerate(STEPS, start=1))
    install = commands.add_parser(
        "install",
        help="install the pipeline on AWS and its cluster (resumable)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Do every step of docs/install-on-aws.md a program can do, each only"
        " when it is not done yet,\nso running it again after a failure resumes:\n\n"
        f"{steps}\n\n"
        "Not done here: the images, `cdk bootstrap` of each account/region, the Slack and"
        " GitHub\ntoken Secrets, and registering the webhook in GitHub (the last step says"
        " how).\nThe ExternalId is made once in the Secret aphex-external-id and never"
        " shown; the webhook\nsecret is shown only as the kubectl command that reads it.",
        epilog="environment: APHEX_INFRA_APP (the folder of the pipeline's own CDK app,"
        " infra/), APHEX_INFRA_BIN\n(the bin folder of its venv), APHEX_CDK_CLI (the"
        " pinned cdk; default: node_modules/.bin/cdk above),\nthe AWS credentials of the"
        " pipeline account. Exit codes: 0 installed, 1 a step failed (run\nagain to"
        " resume), 2 usage error, 130 interrupted.",
    )
    install.add_argument(
        "path", nargs="?", default=".", metavar="PATH", help="the repository or its config (.)"
    )
    install.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="the cluster's kubeconfig ($KUBECONFIG, ~/.kube/config)",
    )
    install.add_argument("--context", help="the kubeconfig context (default: its current one)")
    install.add_argument(
        "--region", help="the pipeline's AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION)"
    )
    install.add_argument(
        "--infra-context",
        default="",
        metavar="aphex:KEY=VALUE,...",
        help="install-time settings of the pipeline's own stacks (docs/install-on-aws.md step"
        " 3: aphex:stacks, aphex:adminRoleArn, ...); the WorkflowTemplate keeps them so"
        " self-updates do not revert them",
    )
    install.add_argument(
        "--webhook-secret-file",
        type=Path,
        metavar="FILE",
        help="a file holding the GitHub webhook secret (default: keep the live one, else"
        " make a random one)",
    )
    install.add_argument(
        "--account-profile",
        action="append",
        default=[],
        metavar="ACCOUNT=PROFILE",
        help="the AWS profile of another account's admin, for its deploy role (repeat)",
    )
    install.add_argument(
        "--aws-endpoint",
        type=_endpoint,
        metavar="URL",
        help="a local AWS (a moto server) instead of AWS; every account is reached through it",
    )
    install.add_argument(
        "--git-token-secret",
        metavar="NAME:KEY",
        help="a private repository's token (a Secret you make): mounted only where the"
        " commit is cloned, never into the build commands' container",
    )
    install.add_argument(
        "--github-api-url",
        metavar="URL",
        help="the GitHub API of the commit statuses (GitHub Enterprise: https://HOST/api/v3)",
    )
    install.add_argument("-o", "--output", choices=("text", "json"), default="text")


def _add_local_options(run: argparse.ArgumentParser) -> None:
    """The options of a local run, shared by `run` and `redeploy`."""
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


def _local_options_problem(args: argparse.Namespace) -> str | None:
    if args.parallelism < 1:
        return "--parallelism must be at least 1"
    if any((args.builder_image, args.deployer_image, args.engine)) and not args.images:
        return "--builder-image, --deployer-image and --engine need --images"
    return None


def _run_local(args: argparse.Namespace, repo: Path, commit: str | None, **extra: Any) -> int:
    from aphex_stages.local.session import LocalRunOptions, run_local

    return run_local(
        LocalRunOptions(
            repo=repo,
            commit=commit,
            approve=args.approve,
            parallelism=args.parallelism,
            aws_endpoint=args.aws_endpoint,
            images=args.images,
            builder_image=args.builder_image,
            deployer_image=args.deployer_image,
            engine=args.engine,
            **extra,
        )
    )


def _run(args: argparse.Namespace) -> int:
    if not args.local:
        print(
            "aphex run: only --local runs here; on a cluster a push to the branch starts a run",
            file=sys.stderr,
        )
        return 2
    problem = _local_options_problem(args)
    if problem:
        print(f"aphex run: {problem}", file=sys.stderr)
        return 2
    return _run_local(args, Path(args.repo), args.commit)


def _redeploy(args: argparse.Namespace) -> int:
    from aphex_config import ConfigError
    from aphex_stages.cluster import ClusterError
    from aphex_stages.errors import StageError
    from aphex_stages.local.layout import LocalRunError
    from aphex_stages.redeploy import redeploy_request, submit_redeploy

    problem = _local_options_problem(args)
    if problem is None and not args.local and (args.images or args.aws_endpoint):
        problem = "--images and --aws-endpoint need --local"
    if problem:
        print(f"aphex redeploy: {problem}", file=sys.stderr)
        return 2
    try:
        request = redeploy_request(Path(args.repo), args.commit, args.reason, args.by)
    except StageError as error:
        print(f"aphex redeploy: {error.cause.replace('--redeploy-', '--')}", file=sys.stderr)
        return 2
    except (LocalRunError, ConfigError) as error:
        print(f"aphex redeploy: {error}", file=sys.stderr)
        return 1
    if args.local:
        return _run_local(args, request.repo, request.commit, redeploy=request.redeploy)
    try:
        name = submit_redeploy(request)
    except ClusterError as error:
        print(f"aphex redeploy: {error}", file=sys.stderr)
        return 1
    result = {
        "workflow": name,
        "namespace": request.namespace,
        "commit": request.commit,
        "by": request.redeploy.by,
        "reason": request.redeploy.reason,
    }
    if args.output == "json":
        print(json.dumps(result))
    else:
        print(
            f"submitted {name} in {request.namespace}: redeploy of {request.commit[:12]}"
            f" requested by {request.redeploy.by}"
        )
    return 0


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


def _install(args: argparse.Namespace) -> int:
    from aphex_stages.install.command import run_install
    from aphex_stages.install.options import InstallOptions

    return run_install(
        InstallOptions(
            path=args.path,
            region=args.region,
            kubeconfig=args.kubeconfig,
            context=args.context,
            infra_context=args.infra_context,
            webhook_secret_file=args.webhook_secret_file,
            aws_endpoint=args.aws_endpoint,
            account_profiles=tuple(args.account_profile),
            git_token_secret=args.git_token_secret,
            github_api_url=args.github_api_url,
            output=args.output,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run `aphex` with `argv`; return the exit code. Never prints a traceback."""
    args = _parser().parse_args(argv)
    handlers = {
        "run": _run,
        "redeploy": _redeploy,
        "validate": _validate,
        "render": _render,
        "diff": _diff,
        "runs": _runs,
        "install": _install,
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
