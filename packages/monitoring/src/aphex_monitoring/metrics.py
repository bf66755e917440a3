"""CloudWatch metrics for a finished run (namespace ``AphexPipeline``).

Per stage: ``StageDurationSeconds`` with dimensions Pipeline, Environment, Stage
(Environment is ``none`` for stages without one). Per environment deploy stage:
``DeploymentSucceeded`` / ``DeploymentFailed`` (1 for the one that happened, 0 for
the other, so Average is a rate) with Pipeline, Environment, Stage. Per run:
``RunDurationSeconds``, ``DeploymentSucceeded`` / ``DeploymentFailed`` with Pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from aphex_monitoring.records import DEPLOY_STAGES, RunRecord, utcnow

__all__ = ["NAMESPACE", "build_metric_data", "chunk_metric_data", "put_run_metrics"]

NAMESPACE = "AphexPipeline"
NO_ENVIRONMENT = "none"
MAX_ITEMS_PER_CALL = 1000
MAX_BYTES_PER_CALL = 200_000
_OLDEST = timedelta(days=13)
_NEWEST = timedelta(hours=1)


def _clamp(when: datetime | None, now: datetime) -> datetime:
    """CloudWatch rejects timestamps older than two weeks or in the future."""
    if when is None:
        return now
    return min(max(when, now - _OLDEST), now + _NEWEST)


def _datum(
    name: str, value: float, unit: str, when: datetime, dimensions: dict[str, str]
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Timestamp": when,
        "Value": float(value),
        "Unit": unit,
    }


def build_metric_data(record: RunRecord, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The MetricData items for ``record`` (see module docstring)."""
    now = now or utcnow()
    data: list[dict[str, Any]] = []
    for stage in record.stages:
        dims = {
            "Pipeline": record.pipeline,
            "Environment": stage.environment or NO_ENVIRONMENT,
            "Stage": stage.stage,
        }
        when = _clamp(stage.finished_at or stage.started_at, now)
        if stage.duration_seconds is not None:
            data.append(
                _datum("StageDurationSeconds", stage.duration_seconds, "Seconds", when, dims)
            )
        if stage.stage in DEPLOY_STAGES and stage.status in ("Succeeded", "Failed", "Error"):
            ok = stage.status == "Succeeded"
            data.append(_datum("DeploymentSucceeded", 1 if ok else 0, "Count", when, dims))
            data.append(_datum("DeploymentFailed", 0 if ok else 1, "Count", when, dims))
    if record.status != "Running":
        when = _clamp(record.finished_at, now)
        dims = {"Pipeline": record.pipeline}
        if record.duration_seconds is not None:
            data.append(
                _datum("RunDurationSeconds", record.duration_seconds, "Seconds", when, dims)
            )
        if record.status != "Superseded":  # neither a success nor a failure: no alarm
            ok = record.status == "Succeeded"
            data.append(_datum("DeploymentSucceeded", 1 if ok else 0, "Count", when, dims))
            data.append(_datum("DeploymentFailed", 0 if ok else 1, "Count", when, dims))
    return data


def _size(datum: dict[str, Any]) -> int:
    return len(json.dumps(datum, default=str)) + 64


def chunk_metric_data(
    data: Sequence[dict[str, Any]],
    *,
    max_items: int = MAX_ITEMS_PER_CALL,
    max_bytes: int = MAX_BYTES_PER_CALL,
) -> Iterator[list[dict[str, Any]]]:
    """Split ``data`` into batches within the item limit and an approximate byte budget."""
    max_items = max(1, min(max_items, MAX_ITEMS_PER_CALL))
    batch: list[dict[str, Any]] = []
    size = 0
    for datum in data:
        item = _size(datum)
        if batch and (len(batch) >= max_items or size + item > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(datum)
        size += item
    if batch:
        yield batch


def put_run_metrics(
    cloudwatch: Any, record: RunRecord, *, max_items: int = MAX_ITEMS_PER_CALL
) -> int:
    """Publish the run's metrics; returns the number of ``PutMetricData`` calls."""
    calls = 0
    for batch in chunk_metric_data(build_metric_data(record), max_items=max_items):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
        calls += 1
    return calls
