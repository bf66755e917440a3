"""CloudWatch metrics against a moto server over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitoring_cases import client, stage

from aphex_monitoring.fold import fold_run
from aphex_monitoring.metrics import (
    NAMESPACE,
    build_metric_data,
    chunk_metric_data,
    put_run_metrics,
)
from aphex_monitoring.records import RunRecord, utcnow


def _record(pipeline: str) -> RunRecord:
    start = utcnow() - timedelta(minutes=20)
    return fold_run(
        pipeline=pipeline,
        workflow_name=f"{pipeline}-w",
        status="Failed",
        stages=[
            stage("build", start=start, seconds=60),
            stage("environment", "dev", start=start + timedelta(minutes=2), seconds=120),
            stage("environment", "prod", "Failed", start + timedelta(minutes=5), seconds=30),
        ],
        started_at=start,
        finished_at=start + timedelta(minutes=10),
    )


def _dims(datum: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in datum["Dimensions"]}


def test_build_metric_data_shapes() -> None:
    data = build_metric_data(_record("shop"))
    by_name: dict[str, list[dict[str, Any]]] = {}
    for datum in data:
        by_name.setdefault(datum["MetricName"], []).append(datum)
    durations = by_name["StageDurationSeconds"]
    assert [(_dims(d)["Stage"], _dims(d)["Environment"], d["Value"]) for d in durations] == [
        ("build", "none", 60.0),
        ("environment", "dev", 120.0),
        ("environment", "prod", 30.0),
    ]
    assert all(set(_dims(d)) == {"Pipeline", "Environment", "Stage"} for d in durations)
    succeeded = {(_dims(d).get("Environment"), d["Value"]) for d in by_name["DeploymentSucceeded"]}
    assert succeeded == {("dev", 1.0), ("prod", 0.0), (None, 0.0)}
    failed = {(_dims(d).get("Environment"), d["Value"]) for d in by_name["DeploymentFailed"]}
    assert failed == {("dev", 0.0), ("prod", 1.0), (None, 1.0)}
    (run_duration,) = by_name["RunDurationSeconds"]
    assert _dims(run_duration) == {"Pipeline": "shop"} and run_duration["Value"] == 600.0


def test_chunking_respects_item_and_byte_limits() -> None:
    datum = build_metric_data(_record("shop"))[0]
    data = [datum] * 2500
    batches = list(chunk_metric_data(data))
    assert sum(len(b) for b in batches) == 2500
    assert all(len(b) <= 1000 for b in batches)
    small = list(chunk_metric_data(data[:10], max_items=3))
    assert [len(b) for b in small] == [3, 3, 3, 1]
    tiny = list(chunk_metric_data(data[:10], max_bytes=1))
    assert [len(b) for b in tiny] == [1] * 10


def test_put_run_metrics_reach_cloudwatch(aws_env: Any, pipeline: str) -> None:
    cloudwatch = client("cloudwatch")
    record = _record(pipeline)
    calls = put_run_metrics(cloudwatch, record, max_items=4)
    assert calls == 3  # 10 data items in batches of 4

    listed = cloudwatch.list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "Pipeline", "Value": pipeline}]
    )["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert names == {
        "StageDurationSeconds",
        "DeploymentSucceeded",
        "DeploymentFailed",
        "RunDurationSeconds",
    }
    now = utcnow()
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="DeploymentFailed",
        Dimensions=[
            {"Name": "Pipeline", "Value": pipeline},
            {"Name": "Environment", "Value": "prod"},
            {"Name": "Stage", "Value": "environment"},
        ],
        StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(hours=1),
        Period=86400,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in stats) == 1.0
    durations = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="StageDurationSeconds",
        Dimensions=[
            {"Name": "Pipeline", "Value": pipeline},
            {"Name": "Environment", "Value": "dev"},
            {"Name": "Stage", "Value": "environment"},
        ],
        StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(hours=1),
        Period=86400,
        Statistics=["Maximum"],
        Unit="Seconds",
    )["Datapoints"]
    assert [p["Maximum"] for p in durations] == [120.0]


def test_a_superseded_run_emits_no_deployment_outcome() -> None:
    """The first run of a commit that adds an environment is restarted, not failed: no
    DeploymentFailed (the alarm's metric), and no DeploymentSucceeded either."""
    from aphex_monitoring.metrics import build_metric_data
    from aphex_monitoring.records import StageRecord

    pipeline = StageRecord.model_validate(
        {
            "stage": "pipeline",
            "status": "Superseded",
            "started_at": "2026-01-01T00:00:00Z",
            "finished_at": "2026-01-01T00:00:10Z",
        }
    )
    record = fold_run(
        pipeline="shop", workflow_name="shop-1", status="Succeeded", stages=[pipeline]
    )
    assert record.status == "Superseded"
    names = {datum["MetricName"] for datum in build_metric_data(record)}
    assert "DeploymentFailed" not in names and "DeploymentSucceeded" not in names
    assert "RunDurationSeconds" in names
