"""CloudWatch Logs against a moto server over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from monitoring_cases import client, stage

from aphex_monitoring.fold import fold_run
from aphex_monitoring.logs import build_log_events, log_group_name, log_stream_name, write_run_log
from aphex_monitoring.records import RunRecord, utcnow


def _record(pipeline: str, workflow: str) -> RunRecord:
    start = utcnow() - timedelta(minutes=30)
    return fold_run(
        pipeline=pipeline,
        workflow_name=workflow,
        status="Failed",
        stages=[
            stage("build", start=start, output_keys=("artifact",)),
            stage("environment", "dev", "Failed", start + timedelta(minutes=1), error="rollback"),
        ],
        commit_sha="d" * 40,
        started_at=start,
        finished_at=start + timedelta(minutes=3),
    )


def test_events_are_json_and_ordered() -> None:
    events = build_log_events(_record("shop", "shop-1"))
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    messages = [json.loads(e["message"]) for e in events]
    assert [m["event"] for m in messages] == ["stage", "stage", "run"]
    assert messages[0]["output_keys"] == ["artifact"]
    assert messages[1]["error"] == "rollback"
    assert messages[2]["environments"] == {"dev": "Failed"}
    assert log_group_name("shop") == "/aphex/shop"
    odd = _record("shop", "shop-1").model_copy(update={"workflow_name": "a:b*c"})
    assert log_stream_name(odd) == "a_b_c"


def test_write_run_log_is_idempotent(aws_env: Any, pipeline: str) -> None:
    logs = client("logs")
    record = _record(pipeline, f"{pipeline}-1")
    assert write_run_log(logs, record) == 3
    assert write_run_log(logs, record) == 3  # group and stream already exist: fine
    other = _record(pipeline, f"{pipeline}-2")
    write_run_log(logs, other)

    streams = logs.describe_log_streams(logGroupName=f"/aphex/{pipeline}")["logStreams"]
    assert sorted(s["logStreamName"] for s in streams) == [f"{pipeline}-1", f"{pipeline}-2"]
    events = logs.get_log_events(
        logGroupName=f"/aphex/{pipeline}", logStreamName=f"{pipeline}-1", startFromHead=True
    )["events"]
    assert len(events) == 6
    first = json.loads(events[0]["message"])
    assert first["stage"] == "build" and first["commit"] == "d" * 40
    assert json.loads(events[2]["message"])["status"] == "Failed"
