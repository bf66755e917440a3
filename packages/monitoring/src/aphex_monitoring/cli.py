"""``aphex-monitor``: record stage results, notify at the end of a run, show runs.

``record``, ``start`` and ``notify`` always exit 0 (monitoring must not fail the
pipeline) except on a usage error (2). ``runs ...`` exits 1 when it cannot answer.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TextIO

from pydantic import ValidationError

from aphex_monitoring.aws import make_client
from aphex_monitoring.guard import describe_error
from aphex_monitoring.records import StageRecord
from aphex_monitoring.render import render_deployed, render_run, render_runs
from aphex_monitoring.secrets import RedactingFilter, install_redaction
from aphex_monitoring.service import RunFacts, notify_run, record_run_start, record_stage
from aphex_monitoring.settings import BUCKET_ENV, WORKFLOW_NAME_ENV, MonitorSettings
from aphex_monitoring.store import RunStore
from aphex_monitoring.version import __version__

__all__ = ["build_parser", "main"]

PROG = "aphex-monitor"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

logger = logging.getLogger("aphex_monitoring")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _configure_logging(verbose: int) -> _StderrHandler:
    root = logging.getLogger()
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    handler.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
        if root.level == logging.NOTSET or root.level > level:
            root.setLevel(level)
    install_redaction()
    return handler


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


_PIPELINE_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _pipeline(text: str) -> str:
    """A pipeline name: a DNS label (it becomes part of S3 keys and metric dimensions)."""
    if not _PIPELINE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a pipeline name (a DNS label, a-z0-9-): {text!r}")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``aphex-monitor``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output"
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="AphexPipeline monitoring: run records, metrics, logs, notifications.",
        parents=[common],
    )
    parser.set_defaults(verbose=0)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    record = commands.add_parser(
        "record",
        parents=[common],
        help="store one stage's result (always exits 0)",
        description=f"Store one stage's result in the artifact bucket (${BUCKET_ENV}).",
    )
    record.add_argument("--pipeline", required=True, type=_pipeline)
    record.add_argument(
        "--workflow-name",
        default=os.environ.get(WORKFLOW_NAME_ENV),
        required=not os.environ.get(WORKFLOW_NAME_ENV),
        help=f"Argo workflow name (default: ${WORKFLOW_NAME_ENV})",
    )
    record.add_argument("--stage", required=True)
    record.add_argument("--environment")
    record.add_argument("--status", required=True, help="Succeeded, Failed, Error, Skipped, ...")
    record.add_argument("--started-at", type=_timestamp, required=True, help="ISO 8601")
    record.add_argument("--finished-at", type=_timestamp, help="ISO 8601 (default: now)")
    record.add_argument("--error", help="one-line failure cause")
    record.add_argument(
        "--output-key", action="append", default=[], dest="output_keys", help="repeatable"
    )
    record.add_argument("--bucket", help=f"default: ${BUCKET_ENV}")

    start = commands.add_parser(
        "start",
        parents=[common],
        help="mark a run as started (always exits 0)",
        description="Store a Running run record and set GitHub commit status 'pending'.",
    )
    _run_identity(start)
    start.add_argument("--trigger", help="what started the run, e.g. push")
    start.add_argument("--started-at", type=_timestamp, help="ISO 8601 (default: now)")

    notify = commands.add_parser(
        "notify",
        parents=[common],
        help="finish a run: record, metrics, logs, notifications",
        description=(
            "Used by the workflow's onExit step. Always exits 0 unless the arguments are "
            "wrong: monitoring never fails the pipeline."
        ),
    )
    _run_identity(notify)
    notify.add_argument("--status", required=True, help="Argo {{workflow.status}}")
    notify.add_argument(
        "--failures", default="", help="Argo {{workflow.failures}} (JSON; may be empty or null)"
    )
    notify.add_argument("--started-at", type=_timestamp, help="ISO 8601, if no start marker")
    notify.add_argument("-o", "--output", choices=("text", "json"), default="text")

    runs = commands.add_parser(
        "runs",
        parents=[common],
        help="show runs and what is deployed where",
        description="Read run records from the artifact bucket.",
    )
    views = runs.add_subparsers(dest="view", metavar="VIEW", required=True)
    listing = views.add_parser("list", parents=[common], help="runs, newest first")
    listing.add_argument("--status", help="only runs with this final status")
    listing.add_argument("--environment", help="only runs that touched this environment")
    listing.add_argument("--limit", type=_positive, default=20)
    show = views.add_parser("show", parents=[common], help="one run with its stages")
    show.add_argument("workflow", metavar="WORKFLOW")
    deployed = views.add_parser(
        "deployed", parents=[common], help="commit deployed per environment"
    )
    for view in (listing, show, deployed):
        view.add_argument("--pipeline", type=_pipeline, help="only this pipeline")
        view.add_argument("--bucket", help=f"default: ${BUCKET_ENV}")
        view.add_argument("-o", "--output", choices=("text", "json"), default="text")
    return parser


def _run_identity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", required=True, type=_pipeline)
    parser.add_argument("--commit", required=True, help="commit SHA")
    parser.add_argument("--workflow-name", required=True)
    parser.add_argument("--workflow-uid")
    parser.add_argument("--repository", help="repository URL (https or ssh), for GitHub statuses")
    parser.add_argument("--argo-url", help="Argo UI base URL (default: $APHEX_ARGO_URL)")
    parser.add_argument("--bucket", help=f"default: ${BUCKET_ENV}")


def _settings(args: argparse.Namespace) -> MonitorSettings:
    settings = MonitorSettings.from_env()
    bucket = getattr(args, "bucket", None)
    if bucket:
        settings = replace(settings, bucket=bucket)
    return settings


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _record(args: argparse.Namespace) -> int:
    try:
        stage = StageRecord(
            stage=args.stage,
            environment=args.environment,
            status=args.status,
            started_at=args.started_at,
            finished_at=args.finished_at or datetime.now().astimezone(),
            error=args.error,
            output_keys=tuple(args.output_keys),
        )
    except ValidationError as exc:
        return _usage(f"invalid stage record: {_first_problem(exc)}")
    settings = _settings(args)
    record_stage(settings.bucket, args.pipeline, args.workflow_name, stage, settings=settings)
    return EXIT_OK


def _facts(args: argparse.Namespace, status: str) -> RunFacts:
    return RunFacts(
        pipeline=args.pipeline,
        workflow_name=args.workflow_name,
        status=status,
        commit_sha=args.commit,
        workflow_uid=args.workflow_uid,
        repository=args.repository,
        trigger=getattr(args, "trigger", None),
        failures=getattr(args, "failures", None),
        argo_url=args.argo_url,
        started_at=args.started_at,
    )


def _start(args: argparse.Namespace) -> int:
    record_run_start(_facts(args, "Running"), settings=_settings(args))
    return EXIT_OK


def _notify(args: argparse.Namespace) -> int:
    result = notify_run(_facts(args, args.status), settings=_settings(args))
    if args.output == "json":
        _print_json(
            {
                "run_key": result.run_key,
                "pointer_keys": result.pointer_keys,
                "outcomes": dict(result.outcomes),
                "finished": result.finished,
                "record": result.record.model_dump(mode="json") if result.record else None,
            }
        )
    else:  # the exit handler's log says where the run was reported
        said = ", ".join(f"{sink} {outcome}" for sink, outcome in result.outcomes.items())
        print(f"{PROG}: notified: {said or 'nothing configured'}", file=sys.stderr)
    return EXIT_OK


def _runs(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.bucket:
        return _usage(f"no bucket: pass --bucket or set {BUCKET_ENV}")
    try:
        store = RunStore(settings.bucket, make_client("s3", settings.aws))
        if args.view == "list":
            runs = store.list_runs(
                pipeline=args.pipeline,
                status=args.status,
                environment=args.environment,
                limit=args.limit,
            )
            if args.output == "json":
                _print_json([r.model_dump(mode="json") for r in runs])
            else:
                print(render_runs(runs))
            return EXIT_OK
        if args.view == "show":
            run = store.find_run(args.workflow, pipeline=args.pipeline)
            if run is None:
                print(f"{PROG}: error: no run named {args.workflow!r}", file=sys.stderr)
                return EXIT_FAILURE
            if args.output == "json":
                _print_json(run.model_dump(mode="json"))
            else:
                print(render_run(run))
            return EXIT_OK
        pointers = store.deployed(pipeline=args.pipeline)
        if args.output == "json":
            _print_json([p.model_dump(mode="json") for p in pointers])
        else:
            print(render_deployed(pointers))
        return EXIT_OK
    except Exception as exc:
        print(f"{PROG}: error: cannot read runs: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILURE


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "value"
    return f"{where}: {error.get('msg', 'invalid')}"


def _usage(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aphex-monitor``; returns the exit code (0 ok, 1 failure, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    root = logging.getLogger()
    root_level = root.level
    handler = _configure_logging(args.verbose)
    commands = {"record": _record, "start": _start, "notify": _notify, "runs": _runs}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: never a traceback, never fail a deployment
        logger.warning("unexpected error: %s", describe_error(exc))
        return EXIT_OK if args.command in ("record", "start", "notify") else EXIT_FAILURE
    finally:  # main() may run in-process (tests, other tools): leave logging as it was
        root.removeHandler(handler)
        root.setLevel(root_level)
