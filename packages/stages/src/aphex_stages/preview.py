"""The preview stage's core: what deploying an environment of a built commit would change.

    result = preview_environment(job, on_line=print)
    result.changes.render()      # "change set of prod (222222222222/us-east-1) at ..."

The steps are the environment stage's up to its deploy (:mod:`aphex_stages.deploy`):
download and verify the commit's artifact, install (or reuse) the app's toolchain, assume
the environment's role and synthesize the app once; then ``cdk diff`` of each of the
environment's stacks, in deploy order, against what is deployed there (a stack that does
not exist yet shows every resource as new). Nothing is deployed and no head moves. The
change set is stored beside the artifact as ``changesets/<environment>.json`` and ``.txt``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aphex_generator import changeset_json_name, changeset_text_name
from aphex_stages.artifact import ArtifactLocation, read_beside, s3_client, upload_beside
from aphex_stages.cdk import CdkCliNotFoundError, CdkError, CdkRunner, CdkTimeoutError
from aphex_stages.changeset import (
    ChangeSet,
    StackChange,
    diff_report,
)
from aphex_stages.deploy import SYNTH_TIMEOUT, synth_environment
from aphex_stages.environment_job import (
    EnvironmentJob,
    app_path,
    environment_target,
    fetch_environment,
    newer_deployed,
)
from aphex_stages.errors import ExitCode, StageError

__all__ = ["DIFF_TIMEOUT", "PreviewResult", "preview_environment", "read_changeset"]

#: Seconds one stack's ``cdk diff`` may take.
DIFF_TIMEOUT = 10 * 60.0

_log = logging.getLogger("aphex.preview")


@dataclass(frozen=True)
class PreviewResult:
    """The change set and where it is stored (the keys of its JSON and text)."""

    changes: ChangeSet
    json_key: str
    text_key: str
    bucket: str

    @property
    def uri(self) -> str:
        """The stored text's S3 URI."""
        return f"s3://{self.bucket}/{self.text_key}"


def _diff(runner: CdkRunner, assembly_dir: Any, stack: str) -> StackChange:
    try:
        changed, lines = runner.diff_stack(assembly_dir, stack, timeout=DIFF_TIMEOUT)
    except CdkTimeoutError:
        raise StageError(
            ExitCode.TIMEOUT, f"cdk diff of {stack} did not finish within {DIFF_TIMEOUT:g} s"
        ) from None
    except CdkError as error:
        raise StageError(ExitCode.DEPLOY_FAILED, str(error)) from None
    return StackChange(stack, changed, diff_report(lines, stack) if changed else "")


def preview_environment(
    job: EnvironmentJob,
    *,
    workflow: str | None = None,
    s3: Any | None = None,
    cli: str | os.PathLike[str] | None = None,
    on_line: Callable[[str], None] | None = None,
    log: logging.Logger | None = None,
) -> PreviewResult:
    """Compute and store the change set of ``job.environment`` at ``job.commit``; raise
    StageError on any failure. ``cli`` is the ``cdk`` executable (default: the pinned one)."""
    log = log or _log
    s3 = s3 if s3 is not None else s3_client()
    fetched = fetch_environment(job, s3)
    env = fetched.env
    target = environment_target(job, env)
    log.info("previewing %s in %s/%s (%s)", env.name, env.account, env.region, target.describe())
    app_environ = app_path(fetched, log=log, on_line=on_line)
    try:
        runner = CdkRunner(
            target=target, cli=cli, on_line=on_line, timeout=SYNTH_TIMEOUT, env=app_environ
        )
    except CdkCliNotFoundError as error:
        raise StageError(ExitCode.DEPLOY_FAILED, str(error)) from None
    assembly = synth_environment(runner, fetched, fetched.scratch / "cdk.out", SYNTH_TIMEOUT)
    stacks = tuple(_diff(runner, assembly.directory, stack.name) for stack in env.stacks)
    stale = newer_deployed(job, fetched.committed_at, s3)
    if stale is not None:
        log.warning("%s", stale)
    changes = ChangeSet(
        pipeline=job.pipeline,
        commit=job.commit,
        environment=env.name,
        account=env.account,
        region=env.region,
        stacks=stacks,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        workflow=workflow,
        notes=() if stale is None else (stale,),
    )
    json_key = upload_beside(
        s3, job.bucket, fetched.location, changeset_json_name(env.name), changes.to_bytes()
    )
    text_key = upload_beside(
        s3,
        job.bucket,
        fetched.location,
        changeset_text_name(env.name),
        changes.render().encode("utf-8"),
        content_type="text/plain; charset=utf-8",
    )
    return PreviewResult(changes, json_key, text_key, job.bucket)


def read_changeset(
    s3: Any, bucket: str, pipeline: str, commit: str, environment: str
) -> ChangeSet | None:
    """The change set stored beside the commit's artifact for ``environment``; None when
    there is none (no artifact, no preview yet) or it cannot be read."""
    try:
        location = ArtifactLocation.from_latest(s3, bucket, pipeline, commit)
        data = read_beside(
            s3, bucket, location, changeset_json_name(environment), missing="no change set"
        )
        return ChangeSet.from_json(json.loads(data))
    except (StageError, ValueError):
        return None
