"""``aphex-stage-build``: run the commit's build commands and package the artifact.

It runs in the build pod's ``build`` container, which has no AWS identity (it never calls
AWS) and no repository token. The pod's ``checkout`` container (``aphex-stage-checkout``)
checked the commit out before it; its ``main`` container (``aphex-stage-upload``) uploads
what it packaged.

1. opens the checkout of exactly the commit (``APHEX_SOURCE``; run on its own, without
   it, it clones the commit itself) and loads its ``aphex-config.yaml``;
2. runs ``build.commands`` in order in the checkout (argv without a shell, strings by
   ``/bin/sh -c``), output streamed to the log, redacted. Together they get
   ``build.timeout_minutes`` (``--timeout-seconds`` overrides it for local runs);
3. packages ``build.artifacts`` (default: the whole tree minus ``.git``; ``aphex-config.yaml``
   always, the later stages read it) reproducibly into the folder it shares with the upload
   container (``APHEX_BUILD_OUTPUT``): ``artifact.tar.gz``, then ``packaged.json`` with its
   SHA-256 and manifest (:mod:`aphex_stages.artifact.packaged`).

A retried or restarted run builds again; the upload container then keeps the commit's first
artifact (artifacts are write-once).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from aphex_config import Command
from aphex_generator import BUILD, CONFIG_FILE
from aphex_stages.artifact import (
    PACKAGED_FILE,
    TARBALL_FILE,
    build_output_dir,
    package_artifact,
    write_packaged,
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


def _output_folder() -> Path:
    """The shared folder, emptied of an earlier attempt's files (a restarted container)."""
    folder = build_output_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in (PACKAGED_FILE, TARBALL_FILE):  # the record first: never a stale pair
        (folder / name).unlink(missing_ok=True)
    return folder


def _work(context: StageContext) -> None:
    inputs, log = context.inputs, context.log
    override = context.args.timeout_seconds
    if override is not None and override <= 0:
        raise StageError(ExitCode.USAGE, "--timeout-seconds must be positive")
    folder = _output_folder()
    workspace = open_workspace(context)
    config = workspace.config
    timeout = float(override if override is not None else config.build.timeout_minutes * 60)
    run_build_commands(config.build.commands, cwd=workspace.path, timeout=timeout, context=context)

    patterns = config.build.artifacts
    if patterns is not None and CONFIG_FILE not in patterns:
        patterns = (*patterns, CONFIG_FILE)  # the later stages read their environment from it
    manifest = package_artifact(
        workspace.path,
        patterns,
        folder / TARBALL_FILE,
        commit=inputs.commit,
        created=workspace.checkout.committed_at,
    )
    packaged = write_packaged(folder, manifest)
    log.info(
        "packaged %d files (%d bytes, sha256 %s) from %s into %s for the upload",
        len(manifest.files) + len(manifest.links),
        packaged.size,
        packaged.sha256,
        ", ".join(config.build.artifacts) if config.build.artifacts else "the whole tree",
        folder,
    )


stage = Stage(
    spec=BUILD,
    description="Run the commit's build commands in the pod's checkout and package the"
    " artifact for the upload container (no AWS access, no repository token).",
    work=_work,
    add_options=_add_options,
)
main = stage.main
