"""``aphex-stage-build``: check out the commit, run its build commands, upload the artifact.

1. checks that the artifact bucket (``APHEX_ARTIFACT_BUCKET``) answers, before any work;
2. checks out exactly the commit and loads its ``aphex-config.yaml``;
3. runs ``build.commands`` in order in the checkout (argv without a shell, strings by
   ``/bin/sh -c``), output streamed to the log, redacted. Together they get
   ``build.timeout_minutes`` (``--timeout-seconds`` overrides it for local runs);
4. packages ``build.artifacts`` (default: the whole tree minus ``.git``; ``aphex-config.yaml``
   always, the later stages read it) reproducibly and
   uploads it to ``s3://<bucket>/<pipeline>/<sha>/<timestamp>/``, ``latest.json`` last.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aphex_config import Command
from aphex_generator import BUILD, CONFIG_FILE, Output
from aphex_stages.artifact import (
    check_bucket,
    find_artifact,
    package_artifact,
    s3_client,
    upload_artifact,
)
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.logs import command_output
from aphex_stages.process import describe_command, describe_exit, run_command
from aphex_stages.runner import Stage, StageContext
from aphex_stages.workspace import open_workspace

__all__ = ["main", "run_build_commands", "stage"]


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=None,
        metavar="N",
        help="time for all build commands together (default: build.timeout_minutes)",
    )


def _seconds(value: float) -> str:
    return f"{value / 60:g} min" if value >= 60 and value % 60 == 0 else f"{value:g} s"


def run_build_commands(
    commands: Sequence[Command],
    *,
    cwd: Path,
    timeout: float,
    context: StageContext,
) -> None:
    """Run ``commands`` in order within ``timeout`` seconds in all; the first failure raises.

    StageError(COMMAND_FAILED) names the command, its exit code and last output line, with
    the output's tail as details; StageError(TIMEOUT) when the time runs out.
    """
    log = context.log
    deadline = time.monotonic() + timeout
    total = len(commands)
    for number, command in enumerate(commands, start=1):
        shown = describe_command(command)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StageError(
                ExitCode.TIMEOUT,
                f"build ran out of its {_seconds(timeout)} before command {number}/{total} `{shown}`",
            )
        log.info("build command %d/%d: %s", number, total, shown)
        result = run_command(
            command,
            cwd=cwd,
            timeout=remaining,
            on_line=command_output(log),
        )
        where = f"build command {number}/{total} `{shown}`"
        if result.timed_out:
            raise StageError(
                ExitCode.TIMEOUT,
                f"{where} did not finish within the build's {_seconds(timeout)} and was stopped",
                details=["last output:", *result.tail],
            )
        if result.exit_code != 0:
            last = next((line for line in reversed(result.tail) if line.strip()), "no output")
            raise StageError(
                ExitCode.COMMAND_FAILED,
                f"{where} {describe_exit(result.exit_code)}: {last.strip()[:200]}",
                details=[f"last {len(result.tail)} lines of output:", *result.tail],
            )
        log.info("build command %d/%d finished in %.1f s", number, total, result.duration)


def _work(context: StageContext) -> None:
    inputs, settings, log = context.inputs, context.settings, context.log
    bucket = settings.require_bucket()
    s3 = s3_client()
    check_bucket(s3, bucket)
    existing = find_artifact(s3, bucket, inputs.pipeline, inputs.commit)
    if existing is not None:
        # Artifacts are write-once: a second build of a commit (a retried or restarted
        # run) deploys what the first one built, never a rebuilt replacement.
        log.info(
            "commit %s already has its artifact (%s, sha256 %s, uploaded %s); using it:"
            " artifacts are never rebuilt or replaced",
            inputs.commit[:12],
            existing.uri,
            existing.sha256,
            existing.uploaded,
        )
        context.outputs[Output.ARTIFACT_SHA256] = existing.sha256
        return
    workspace = open_workspace(context)
    config = workspace.config
    override = context.args.timeout_seconds
    if override is not None and override <= 0:
        raise StageError(ExitCode.USAGE, "--timeout-seconds must be positive")
    timeout = float(override if override is not None else config.build.timeout_minutes * 60)
    run_build_commands(config.build.commands, cwd=workspace.path, timeout=timeout, context=context)

    out_dir = Path(tempfile.mkdtemp(prefix="artifact-", dir=settings.work_dir))
    tarball = out_dir / "artifact.tar.gz"
    patterns = config.build.artifacts
    if patterns is not None and CONFIG_FILE not in patterns:
        patterns = (*patterns, CONFIG_FILE)  # the later stages read their environment from it
    manifest = package_artifact(
        workspace.path,
        patterns,
        tarball,
        commit=inputs.commit,
        created=workspace.checkout.committed_at,
    )
    log.info(
        "packaged %d files (%d bytes) from %s",
        len(manifest.files) + len(manifest.links),
        tarball.stat().st_size,
        ", ".join(config.build.artifacts) if config.build.artifacts else "the whole tree",
    )
    location = upload_artifact(s3, bucket, inputs.pipeline, inputs.commit, tarball, manifest)
    context.output_keys.extend([location.artifact_key, location.manifest_key, location.latest_key])
    log.info("artifact uploaded to %s (sha256 %s)", location.uri, location.sha256)
    context.outputs[Output.ARTIFACT_SHA256] = location.sha256


stage = Stage(
    spec=BUILD,
    description="Check out the commit, run its build commands and upload the artifact to S3.",
    work=_work,
    add_options=_add_options,
)
main = stage.main
