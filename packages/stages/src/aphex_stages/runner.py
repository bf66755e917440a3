"""The one skeleton every stage runs in.

A stage module declares a `Stage` (its name, whether it needs `--environment`, extra
options and the function that does the work) and exposes `main = stage.main`. The
skeleton then, for every stage alike:

1. parses the common options (`--pipeline --commit --repository [--environment]
   [--workflow-name] [--log-format]`) and validates them (exit 2 on bad input);
2. sets up structured, redacted logs;
3. times the work and maps a failure to its exit code and a one-line cause;
4. hands a stage record to monitoring (bounded in time; never changes the result).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aphex_generator import OUTPUTS_DIR, EnvVar, Option, StageSpec
from aphex_monitoring import StageRecord, record_stage
from aphex_stages.errors import ExitCode, StageError, StageSuperseded
from aphex_stages.inputs import StageInputs, check_inputs, redeploy_from
from aphex_stages.logs import configure_logging
from aphex_stages.termination import terminate_as_interrupt

DEFAULT_REGION = "us-east-1"


def pipeline_region(environ: Mapping[str, str] | None = None) -> str:
    """The pipeline's own region: `AWS_REGION` (the template sets it), `AWS_DEFAULT_REGION`,
    else us-east-1."""
    env = os.environ if environ is None else environ
    return env.get(EnvVar.REGION) or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


@dataclass(frozen=True)
class StageSettings:
    """Deployment settings that reach the pod as environment variables, never as config."""

    artifact_bucket: str | None
    namespace: str
    work_dir: Path
    #: True when the folder was made for this stage (no `APHEX_WORK_DIR`): removed at its end.
    temporary_work_dir: bool = False

    @classmethod
    def from_env(cls) -> StageSettings:
        """Read the artifact bucket, namespace and work folder (see `EnvVar`)."""
        given = os.environ.get(EnvVar.WORK_DIR)
        work = given or tempfile.mkdtemp(prefix="aphex-")
        return cls(
            artifact_bucket=os.environ.get(EnvVar.ARTIFACT_BUCKET) or None,
            namespace=os.environ.get(EnvVar.NAMESPACE) or "argo",
            work_dir=Path(work),
            temporary_work_dir=not given,
        )

    def require_bucket(self) -> str:
        """The artifact bucket, or a usage error telling how to set it."""
        if not self.artifact_bucket:
            raise StageError(
                ExitCode.USAGE,
                f"{EnvVar.ARTIFACT_BUCKET} is not set; the template sets it for every pod",
            )
        return self.artifact_bucket


@dataclass
class StageContext:
    """What a stage's work function receives."""

    inputs: StageInputs
    settings: StageSettings
    args: argparse.Namespace
    log: logging.Logger
    output_keys: list[str] = field(default_factory=list)
    #: Output parameters (contract `Output` names) written for Argo when the stage ends.
    outputs: dict[str, str] = field(default_factory=dict)


StageWork = Callable[[StageContext], None]


@dataclass(frozen=True)
class Stage:
    """A stage: its contract entry (name, console script, whether it takes an
    environment), its description, its own options and its work."""

    spec: StageSpec
    description: str
    work: StageWork
    add_options: Callable[[argparse.ArgumentParser], None] | None = None

    @property
    def name(self) -> str:
        """The stage's name in logs and run records."""
        return self.spec.name

    @property
    def needs_environment(self) -> bool:
        """Whether the stage runs for one environment (``--environment``)."""
        return self.spec.takes_environment

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Console-script entry point: run the stage and return its exit code."""
        return run_stage(self, sys.argv[1:] if argv is None else list(argv))


def build_parser(stage: Stage) -> argparse.ArgumentParser:
    """The argument parser shared by every stage, plus the stage's own options."""
    parser = argparse.ArgumentParser(
        prog=stage.spec.script,
        description=stage.description,
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad input, "
        "4-13 stage failures (see aphex_stages.errors.ExitCode), 130 interrupted.",
    )
    parser.add_argument(Option.PIPELINE, required=True, help="pipeline name (DNS label)")
    parser.add_argument(Option.COMMIT, required=True, help="full 40-hex-digit commit SHA")
    parser.add_argument(Option.REPOSITORY, required=True, help="https, ssh or file git URL")
    if stage.needs_environment:
        parser.add_argument(Option.ENVIRONMENT, required=True, help="environment name")
        parser.add_argument(
            Option.ARTIFACT_SHA256,
            default=None,
            help="SHA-256 of the artifact this run's build stage made (the template passes it);"
            " any other artifact of the commit is refused",
        )
    parser.add_argument(
        Option.WORKFLOW_NAME,
        default=os.environ.get(EnvVar.WORKFLOW_NAME) or None,
        help=f"the Argo workflow this stage runs in (default: ${EnvVar.WORKFLOW_NAME})",
    )
    parser.add_argument(Option.LOG_FORMAT, choices=("text", "json"), default="text")
    if stage.spec.moves_head:
        parser.add_argument(
            Option.REDEPLOY_BY, default="", help="`aphex redeploy` only: who asked to go back"
        )
        parser.add_argument(
            Option.REDEPLOY_REASON,
            default="",
            help="`aphex redeploy` only: why; with it this run may deploy an older commit",
        )
    if stage.add_options is not None:
        stage.add_options(parser)
    return parser


def _record(
    stage: Stage, inputs: StageInputs, settings: StageSettings, status: str, **fields: object
) -> None:
    if not (settings.artifact_bucket and inputs.workflow_name):
        return
    record = StageRecord.model_validate(
        {"stage": stage.name, "environment": inputs.environment, "status": status, **fields}
    )
    record_stage(settings.artifact_bucket, inputs.pipeline, inputs.workflow_name, record)


def write_output(name: str, text: str) -> Path:
    """Write output parameter `name` as a file of the pod's outputs folder, where Argo reads
    it (``APHEX_OUTPUTS_DIR`` locally); its path. Logs nothing: the caller decides."""
    folder = Path(os.environ.get(EnvVar.OUTPUTS_DIR) or OUTPUTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _write_outputs(outputs: Mapping[str, str], log: logging.Logger) -> None:
    """Each output parameter as a file of the pod's outputs folder, logged."""
    for name, value in outputs.items():
        write_output(name, value + "\n")
        log.info("output %s = %s", name, value)


def run_stage(stage: Stage, argv: Sequence[str]) -> int:
    """Run `stage` with `argv`; log, time, record and return the exit code. Never raises."""
    args = build_parser(stage).parse_args(argv)
    log = configure_logging(
        args.log_format,
        stage=stage.name,
        environment=getattr(args, "environment", None),
        pipeline=args.pipeline,
        commit=args.commit[:12],
    )
    started = datetime.now(UTC)
    try:
        inputs = check_inputs(
            StageInputs(
                pipeline=args.pipeline,
                commit=args.commit,
                repository=args.repository,
                environment=getattr(args, "environment", None),
                workflow_name=args.workflow_name,
                redeploy=redeploy_from(
                    getattr(args, "redeploy_by", None), getattr(args, "redeploy_reason", None)
                ),
            )
        )
    except StageError as error:
        log.error("%s", error.cause)
        return int(error.code)
    settings = StageSettings.from_env()
    context = StageContext(inputs=inputs, settings=settings, args=args, log=log)
    log.info("starting %s for %s at %s", stage.name, inputs.pipeline, inputs.commit[:12])
    status, code, cause = "Succeeded", ExitCode.OK, None
    try:
        with terminate_as_interrupt():  # a pod's SIGTERM stops the commands it started
            stage.work(context)
    except StageSuperseded as superseded:  # an outcome, not a failure: the run succeeds
        status, code, cause = "Superseded", ExitCode.OK, superseded.reason
    except StageError as error:
        for line in error.details:
            log.error("  %s", line)
        status, code, cause = "Failed", error.code, error.cause
    except KeyboardInterrupt:
        status, code, cause = "Failed", ExitCode.INTERRUPTED, "interrupted"
    except Exception as error:  # the one place an unexpected error becomes a one-line cause
        log.debug("unexpected error", exc_info=True)
        cause = f"internal error: {type(error).__name__}: {error}"
        status, code = "Error", ExitCode.FAILED
    finally:
        if settings.temporary_work_dir:
            shutil.rmtree(settings.work_dir, ignore_errors=True)
    finished = datetime.now(UTC)
    elapsed = (finished - started).total_seconds()
    _record(
        stage,
        inputs,
        settings,
        status,
        started_at=started,
        finished_at=finished,
        error=cause,
        output_keys=tuple(context.output_keys),
    )
    if code is ExitCode.OK:
        _write_outputs(context.outputs, log)
    if status == "Superseded":
        log.info("%s superseded in %.1f s: %s", stage.name, elapsed, cause)
    elif code is ExitCode.OK:
        log.info("%s succeeded in %.1f s", stage.name, elapsed)
    else:
        log.error("%s %s in %.1f s (exit %d): %s", stage.name, status.lower(), elapsed, code, cause)
    return int(code)
