"""Human-readable text: durations, short SHAs, and the tables ``aphex-monitor runs`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aphex_monitoring.records import DeployedPointer, RunRecord

__all__ = [
    "format_duration",
    "format_time",
    "render_deployed",
    "render_run",
    "render_runs",
    "short_sha",
]


def format_duration(seconds: float | None) -> str:
    """``95.2`` -> ``1m 35s``; None -> ``-``."""
    if seconds is None:
        return "-"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def short_sha(sha: str | None) -> str:
    """First 7 characters of a commit SHA, or ``-``."""
    return sha[:7] if sha else "-"


def format_time(when: datetime | None) -> str:
    """``2026-11-27 07:13:14Z`` or ``-``."""
    return when.strftime("%Y-%m-%d %H:%M:%SZ") if when else "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]
    return "\n".join(lines)


def render_runs(runs: Sequence[RunRecord]) -> str:
    """A table of runs, one per line."""
    if not runs:
        return "no runs found"
    rows = [
        [
            format_time(r.started_at),
            r.pipeline,
            r.workflow_name,
            r.status,
            short_sha(r.commit_sha),
            format_duration(r.duration_seconds),
            ",".join(r.environments) or "-",
        ]
        for r in runs
    ]
    return _table(["STARTED", "PIPELINE", "WORKFLOW", "STATUS", "COMMIT", "DURATION", "ENVS"], rows)


def render_run(run: RunRecord) -> str:
    """One run in detail, stages included."""
    lines = [
        f"workflow:  {run.workflow_name} ({run.workflow_uid or '-'})",
        f"pipeline:  {run.pipeline}",
        f"status:    {run.status}",
        f"commit:    {run.commit_sha or '-'}",
        f"started:   {format_time(run.started_at)}",
        f"finished:  {format_time(run.finished_at)}",
        f"duration:  {format_duration(run.duration_seconds)}",
    ]
    if run.trigger:
        lines.append(f"trigger:   {run.trigger}")
    if run.error:
        lines.append(f"error:     {run.error}")
    if run.argo_url:
        lines.append(f"argo:      {run.argo_url}")
    if run.stages:
        rows = [
            [
                s.stage,
                s.environment or "-",
                s.status,
                format_duration(s.duration_seconds),
                s.error or "",
            ]
            for s in run.stages
        ]
        lines += ["", _table(["STAGE", "ENV", "STATUS", "DURATION", "ERROR"], rows)]
    return "\n".join(lines)


def render_deployed(pointers: Sequence[DeployedPointer]) -> str:
    """What is deployed where."""
    if not pointers:
        return "nothing deployed yet"
    rows = [
        [
            p.pipeline,
            p.environment,
            short_sha(p.commit_sha),
            p.workflow_name,
            format_time(p.deployed_at),
        ]
        for p in pointers
    ]
    return _table(["PIPELINE", "ENVIRONMENT", "COMMIT", "WORKFLOW", "DEPLOYED"], rows)
