"""`aphex`: the command people run. `aphex run --local` runs the pipeline on this machine;
`aphex redeploy` goes back to an older commit on purpose; `aphex install` installs it on AWS;
`validate`, `render`, `diff`, `runs` and `logs` look at configs, templates, history and logs.

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
    diff.add_argument("-o", "--output", choices=("text", "json"), default="text")

    runs = commands.add_parser("runs", help="run history and what is deployed where")
    runs.add_argument("view", nargs="?", choices=("list", "show", "deployed"), default="list")
    runs.add_argument("workflow", nargs="?", help="the run to show")
    runs.add_argument("--repo", default=".", help="repository whose local runs to read")
    runs.add_argument("-o", "--output", choices=("text", "json"), default="text")
    runs.add_argument(
        "--status", type=_run_status, help="list: only runs that ended so (Succeeded, Failed, ...)"
    )
    runs.add_argument("--environment", help="list: only runs that touched this environment")
    runs.add_argument(
        "--limit", type=_positive, default=20, help="list: at most N runs, newest first (20)"
    )

    logs = commands.add_parser(
        "logs",
        help="a local run's task log, or its tasks",
        description="Print the log of TASK of the local run WORKFLOW; without TASK, list the"
        " run's tasks with their phase and log file.",
    )
    logs.add_argument("workflow", metavar="WORKFLOW", help="the run (as `aphex runs` lists it)")
    logs.add_argument("task", nargs="?", metavar="TASK", help="the task whose log to print")
    logs.add_argument("--repo", default=".", help="repository whose local runs to read")
    logs.add_argument("-o", "--output", choices=("text", "json"), default="text")

    _add_install(commands)
    from aphex_stages.approve import add_approve_parser

    add_approve_parser(commands)
    from aphex_stages.local.reset_command import add_local_parser

    add_local_parser(commands)
    from aphex_stages.init.options import add_init_parser

    add_init_parser(commands)
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


def _positive(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return value


def _run_status(text: str) -> str:
    """A run's final status, in any case: Running, Succeeded, Failed, Error, Superseded."""
    from aphex_monitoring import RUN_STATUSES

    for status in RUN_STATUSES:
        if status.lower() == text.strip().lower():
            return status
    raise argparse.ArgumentTypeError(f"not one of {', '.join(RUN_STATUSES)}: {text!r}")


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
    from aphex_stages.clierror import EXIT_USAGE, report_error
    from aphex_stages.cluster import ClusterError
    from aphex_stages.errors import StageError
    from aphex_stages.local.layout import LocalRunError
    from aphex_stages.redeploy import redeploy_request, submit_redeploy

    problem = _local_options_problem(args)
    if problem is None and not args.local and (args.images or args.aws_endpoint):
        problem = "--images and --aws-endpoint need --local"
    if problem:
        return report_error("redeploy", problem, args.output, EXIT_USAGE)
    try:
        request = redeploy_request(Path(args.repo), args.commit, args.reason, args.by)
    except StageError as error:
        cause = error.cause.replace("--redeploy-", "--")
        return report_error("redeploy", cause, args.output, EXIT_USAGE)
    except (LocalRunError, ConfigError) as error:
        return report_error("redeploy", str(error), args.output)
    if args.local:
        return _run_local(args, request.repo, request.commit, redeploy=request.redeploy)
    try:
        name = submit_redeploy(request)
    except ClusterError as error:
        return report_error("redeploy", str(error), args.output)
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

    code = config_main(["validate", *args.files, "--output", args.output])
    return 1 if code == 2 else code  # a file it cannot read: a failure, as everywhere else


def _render(args: argparse.Namespace) -> int:
    import contextlib
    import io

    from aphex_generator import main as generator_main
    from aphex_stages.clierror import report_error

    if not Path(args.config).is_file():
        message = f"no config file {args.config}: give the path of an aphex-config.yaml"
        return report_error("render", message, args.output)
    argv = ["render", args.config, "--output", args.output]
    if args.events:
        argv = ["events", args.config, "--webhook-secret", args.events, "--output", args.output]
    if args.output != "json":
        return generator_main(argv)
    errors = io.StringIO()  # -o json: its errors as JSON too
    with contextlib.redirect_stderr(errors):
        code = generator_main(argv)
    sys.stderr.write(errors.getvalue())
    if code != 0:
        problems = errors.getvalue().strip().splitlines()
        print(json.dumps({"error": "; ".join(problems) or f"exit {code}", "exit_code": code}))
    return code


def _diff(args: argparse.Namespace) -> int:
    from aphex_stages.local.inspect import CHANGED, topology_diff_lines

    lines, code = topology_diff_lines(Path(args.repo))
    if args.output == "json":
        if code in (0, CHANGED):
            print(json.dumps({"changed": code == CHANGED, "lines": lines}))
        else:
            problem = "; ".join(lines).removeprefix("aphex diff: ")
            print(json.dumps({"error": problem, "exit_code": code}))
    for line in lines:
        if args.output != "json" or code not in (0, CHANGED):
            print(line, file=sys.stdout if code in (0, CHANGED) else sys.stderr)
    if code == CHANGED:  # like `git diff --exit-code`: 1 means "there is a change"
        return 1 if args.exit_code else 0
    return code


def _runs(args: argparse.Namespace) -> int:
    from aphex_stages.clierror import EXIT_USAGE, report_error
    from aphex_stages.local.inspect import RunsQuery, local_runs

    if args.view == "show" and not args.workflow:
        return report_error("runs", "show needs WORKFLOW", args.output, EXIT_USAGE)
    if args.view != "show" and args.workflow:
        message = f"{args.view} takes no WORKFLOW (did you mean `aphex runs show {args.workflow}`?)"
        return report_error("runs", message, args.output, EXIT_USAGE)
    if args.view != "list" and (args.status or args.environment):
        return report_error(
            "runs", "--status and --environment are for list", args.output, EXIT_USAGE
        )
    query = RunsQuery(
        view=args.view,
        workflow=args.workflow,
        output=args.output,
        status=args.status,
        environment=args.environment,
        limit=args.limit,
    )
    return local_runs(Path(args.repo), query)


def _logs(args: argparse.Namespace) -> int:
    from aphex_stages.local.logs_command import run_logs

    return run_logs(Path(args.repo), args.workflow, args.task, args.output)


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


def _local(args: argparse.Namespace) -> int:
    from aphex_stages.local.reset_command import run_local_command

    return run_local_command(args)


def _approve(args: argparse.Namespace) -> int:
    from aphex_stages.approve import run_approve

    return run_approve(args)


def _init(args: argparse.Namespace) -> int:
    from aphex_stages.init.command import run_init

    return run_init(args)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; a usage error exits 2 as argparse does, with `-o json` also as JSON."""
    import contextlib
    import io
    import itertools

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return _parser().parse_args(argv)
    except SystemExit as stop:
        sys.stderr.write(errors.getvalue())
        words = list(sys.argv[1:] if argv is None else argv)
        pairs = {f"{a} {b}" for a, b in itertools.pairwise(words)} | set(words)
        if stop.code == 2 and pairs & {"-o json", "--output json", "--output=json", "-ojson"}:
            lines = errors.getvalue().strip().splitlines()
            print(json.dumps({"error": lines[-1] if lines else "usage error", "exit_code": 2}))
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run `aphex` with `argv`; return the exit code. Never prints a traceback."""
    args = _parse(argv)
    handlers = {
        "run": _run,
        "redeploy": _redeploy,
        "validate": _validate,
        "render": _render,
        "diff": _diff,
        "runs": _runs,
        "logs": _logs,
        "install": _install,
        "approve": _approve,
        "local": _local,
        "init": _init,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last guard: one line, no traceback
        if os.environ.get("APHEX_DEBUG"):
            raise
        from aphex_stages.clierror import report_error

        output = getattr(args, "output", "text")
        return report_error(args.command, f"{type(error).__name__}: {error}", output)
