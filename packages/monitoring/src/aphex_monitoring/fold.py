"""Fold the run-start marker, stage objects and exit-handler facts into one RunRecord."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aphex_monitoring.records import (
    FailureInfo,
    RunRecord,
    RunStatus,
    StageRecord,
    one_line,
    utcnow,
)

__all__ = ["fold_run", "run_error"]


def run_error(stages: Sequence[StageRecord], failures: Sequence[FailureInfo]) -> str | None:
    """One-line cause of a failed run: first Argo failure, else first failed stage."""
    for failure in failures:
        if failure.message:
            return one_line(f"{failure.name}: {failure.message}")
    for stage in stages:
        if stage.status in ("Failed", "Error"):
            where = f"{stage.stage} ({stage.environment})" if stage.environment else stage.stage
            return one_line(f"{where}: {stage.error or stage.status}")
    if failures:
        return one_line(f"{failures[0].name}: {failures[0].phase or 'failed'}")
    return None


def fold_run(
    *,
    pipeline: str,
    workflow_name: str,
    status: RunStatus,
    start: RunRecord | None = None,
    stages: Sequence[StageRecord] = (),
    workflow_uid: str | None = None,
    commit_sha: str | None = None,
    repository: str | None = None,
    trigger: str | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    failures: Sequence[FailureInfo] = (),
    argo_url: str | None = None,
) -> RunRecord:
    """Build the final run record. Explicit arguments win over the start marker.

    The start time comes from the marker when there is one (so the record's dated
    key does not move), else ``started_at``, else the earliest stage, else now.
    """
    ordered = sorted(stages, key=lambda s: (s.started_at, s.stage, s.environment or ""))
    end = finished_at or (utcnow() if status != "Running" else None)
    if start is not None:
        begin = start.started_at
    elif started_at is not None:
        begin = started_at
    elif ordered:
        begin = ordered[0].started_at
    else:
        begin = end or utcnow()
    if status == "Succeeded" and any(stage.status == "Superseded" for stage in ordered):
        status = "Superseded"
    error = run_error(ordered, failures) if status in ("Failed", "Error") else None
    return RunRecord(
        pipeline=pipeline,
        workflow_name=workflow_name,
        workflow_uid=workflow_uid or (start.workflow_uid if start else None),
        commit_sha=commit_sha or (start.commit_sha if start else None),
        repository=repository or (start.repository if start else None),
        trigger=trigger or (start.trigger if start else None),
        started_at=begin,
        finished_at=end,
        status=status,
        error=error,
        failures=tuple(failures),
        argo_url=argo_url or (start.argo_url if start else None),
        stages=tuple(ordered),
    )
