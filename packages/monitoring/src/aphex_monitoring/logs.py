"""CloudWatch Logs: one stream per run in log group ``/aphex/<pipeline>``.

Each stage becomes one JSON event (Logs Insights parses it), then one run summary.
Group and stream are created idempotently.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from aphex_monitoring.records import RunRecord, utcnow

__all__ = ["build_log_events", "log_group_name", "log_stream_name", "write_run_log"]

MAX_EVENTS_PER_CALL = 10_000
MAX_BYTES_PER_CALL = 1_000_000
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD
_SPAN = timedelta(hours=23)
_OLDEST = timedelta(days=13)
_STREAM_BAD = re.compile(r"[:*]")


def log_group_name(pipeline: str) -> str:
    """``/aphex/<pipeline>``."""
    return f"/aphex/{pipeline}"


def log_stream_name(record: RunRecord) -> str:
    """One stream per run, named after the workflow (``:`` and ``*`` are not allowed)."""
    return _STREAM_BAD.sub("_", record.workflow_name)[:512]


def _millis(when: datetime | None, now: datetime) -> int:
    chosen = when or now
    chosen = min(max(chosen, now - _OLDEST), now)
    return int(chosen.timestamp() * 1000)


def _message(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, default=str, separators=(",", ":"))
    return text.encode("utf-8")[:MAX_EVENT_BYTES].decode("utf-8", "ignore")


def build_log_events(record: RunRecord, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Log events for ``record``: one per stage, then one run summary, in time order."""
    now = now or utcnow()
    events: list[dict[str, Any]] = []
    for stage in record.stages:
        payload = {
            "event": "stage",
            "pipeline": record.pipeline,
            "workflow": record.workflow_name,
            "commit": record.commit_sha,
            "stage": stage.stage,
            "environment": stage.environment,
            "status": stage.status,
            "started_at": stage.started_at.isoformat(),
            "finished_at": stage.finished_at.isoformat() if stage.finished_at else None,
            "duration_seconds": stage.duration_seconds,
            "error": stage.error,
            "output_keys": list(stage.output_keys),
        }
        events.append(
            {
                "timestamp": _millis(stage.finished_at or stage.started_at, now),
                "message": _message(payload),
            }
        )
    summary = {
        "event": "run",
        "pipeline": record.pipeline,
        "workflow": record.workflow_name,
        "workflow_uid": record.workflow_uid,
        "commit": record.commit_sha,
        "status": record.status,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "duration_seconds": record.duration_seconds,
        "error": record.error,
        "environments": {env: record.environment_status(env) for env in record.environments},
    }
    events.append({"timestamp": _millis(record.finished_at, now), "message": _message(summary)})
    events.sort(key=lambda e: e["timestamp"])
    return events


def _batches(events: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Batches within PutLogEvents limits: count, bytes, and a span under 24 hours."""
    batch: list[dict[str, Any]] = []
    size = 0
    first = 0
    span_ms = int(_SPAN.total_seconds() * 1000)
    for event in events:
        item = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD
        if batch and (
            len(batch) >= MAX_EVENTS_PER_CALL
            or size + item > MAX_BYTES_PER_CALL
            or event["timestamp"] - first > span_ms
        ):
            yield batch
            batch, size = [], 0
        if not batch:
            first = event["timestamp"]
        batch.append(event)
        size += item
    if batch:
        yield batch


def _ignore_exists(call: Any, exists: type[BaseException], **kwargs: Any) -> None:
    with contextlib.suppress(exists):
        call(**kwargs)


def write_run_log(logs_client: Any, record: RunRecord) -> int:
    """Create ``/aphex/<pipeline>`` and the run's stream if needed, write events; returns count."""
    group = log_group_name(record.pipeline)
    stream = log_stream_name(record)
    exists = logs_client.exceptions.ResourceAlreadyExistsException
    _ignore_exists(logs_client.create_log_group, exists, logGroupName=group)
    _ignore_exists(logs_client.create_log_stream, exists, logGroupName=group, logStreamName=stream)
    count = 0
    for batch in _batches(build_log_events(record)):
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        count += len(batch)
    return count
