from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from monitoring_cases import T0, stage
from pydantic import ValidationError

from aphex_monitoring import layout
from aphex_monitoring.argo import argo_link, parse_failures
from aphex_monitoring.fold import fold_run
from aphex_monitoring.records import (
    RunRecord,
    StageRecord,
    normalise_run_status,
    one_line,
)
from aphex_monitoring.render import format_duration, render_run, render_runs, short_sha


def test_stage_record_fills_duration_and_normalises() -> None:
    record = StageRecord.model_validate(
        {
            "stage": "environment",
            "environment": "dev",
            "status": "succeeded",
            "started_at": "2026-01-01T12:00:00",
            "finished_at": datetime(2026, 1, 1, 12, 1, 30),
            "error": "boom\n  at line 3\n",
            "output_keys": ["BucketName"],
        }
    )
    assert record.status == "Succeeded"
    assert record.duration_seconds == 90.0
    assert record.started_at.tzinfo is not None
    assert record.error == "boom at line 3"
    assert record.output_keys == ("BucketName",)
    assert record.object_name == "environment.dev.json"
    assert stage("build").object_name == "build.json"


@pytest.mark.parametrize(
    "field, value",
    [("stage", "Build"), ("stage", "../x"), ("environment", "a/b"), ("status", "Weird")],
)
def test_stage_record_rejects_bad_values(field: str, value: str) -> None:
    data = {"stage": "build", "status": "Succeeded", "started_at": T0, field: value}
    with pytest.raises(ValidationError):
        StageRecord.model_validate(data)


def test_run_record_rejects_path_like_names() -> None:
    for name in ("a/b", "..", "x..y", ""):
        with pytest.raises(ValidationError):
            RunRecord(pipeline="p", workflow_name=name, status="Running", started_at=T0)
    with pytest.raises(ValidationError):
        RunRecord(pipeline="P_1", workflow_name="w", status="Running", started_at=T0)


def test_one_line_and_status() -> None:
    assert one_line("a\n\tb   c") == "a b c"
    assert one_line("   ") is None
    assert one_line(None) is None
    long = one_line("x" * 1000)
    assert long is not None and len(long) == 300 and long.endswith("…")
    assert normalise_run_status("SUCCEEDED") == "Succeeded"
    assert normalise_run_status("failed") == "Failed"
    assert normalise_run_status("Pending") == "Running"
    assert normalise_run_status("") == "Error"
    assert normalise_run_status("Omitted") == "Error"


def test_json_round_trip() -> None:
    run = fold_run(
        pipeline="shop",
        workflow_name="shop-abc12",
        status="Succeeded",
        stages=[stage("build"), stage("environment", "dev", start=T0 + timedelta(minutes=1))],
        commit_sha="a" * 40,
        finished_at=T0 + timedelta(minutes=5),
    )
    again = RunRecord.model_validate_json(run.model_dump_json())
    assert again == run
    assert run.duration_seconds == 300.0
    assert run.environments == ("dev",)
    assert run.deployed_environments() == ("dev",)


def test_deployed_environments_need_successful_deploy_stage() -> None:
    run = fold_run(
        pipeline="shop",
        workflow_name="w",
        status="Failed",
        stages=[
            stage("environment", "dev"),
            stage("test", "dev", "Failed", T0 + timedelta(minutes=1), error="2 tests failed"),
            stage("environment", "prod", "Failed", T0 + timedelta(minutes=2), error="rollback"),
        ],
    )
    assert run.environments == ("dev", "prod")
    assert run.deployed_environments() == ("dev",)
    assert run.environment_status("prod") == "Failed"
    assert run.environment_status("dev") == "Succeeded"
    assert run.error == "test (dev): 2 tests failed"


def test_fold_prefers_start_marker_and_failures() -> None:
    marker = RunRecord(
        pipeline="shop",
        workflow_name="w",
        status="Running",
        started_at=T0 - timedelta(minutes=2),
        repository="https://github.com/o/r",
        trigger="push",
        commit_sha="b" * 40,
    )
    failures = parse_failures(
        '[{"displayName":"deploy-prod","message":"exit code 1","templateName":"env","phase":"Failed"}]'
    )
    run = fold_run(
        pipeline="shop",
        workflow_name="w",
        status="Error",
        start=marker,
        stages=[stage("build")],
        started_at=T0 + timedelta(days=3),
        workflow_uid="uid-1",
        failures=failures,
    )
    assert run.started_at == marker.started_at
    assert run.repository == "https://github.com/o/r"
    assert run.trigger == "push"
    assert run.commit_sha == "b" * 40
    assert run.workflow_uid == "uid-1"
    assert run.error == "deploy-prod: exit code 1"
    assert run.failures[0].template == "env"
    assert run.finished_at is not None


@pytest.mark.parametrize("text", ["", "null", "  ", None, "[]", "42", "{{workflow.failures}}"])
def test_parse_failures_empty(text: str | None) -> None:
    assert parse_failures(text) == ()


def test_parse_failures_garbage_kept_as_message() -> None:
    (only,) = parse_failures("not json\nat all")
    assert only.name == "workflow" and only.message == "not json at all"


def test_argo_link() -> None:
    assert argo_link(None, "w") is None
    assert argo_link("javascript:alert(1)", "w") is None
    assert argo_link("https://argo.example.com/", "w-1", "ci") == (
        "https://argo.example.com/workflows/ci/w-1"
    )
    assert argo_link("https://argo.example.com/workflows/ci/w-1", "w-1") == (
        "https://argo.example.com/workflows/ci/w-1"
    )
    assert argo_link("https://argo", "w") == "https://argo/workflows?name=w"


def test_layout_keys() -> None:
    when = datetime(2026, 3, 4, 23, 59, tzinfo=UTC)
    key = layout.run_key("shop", "shop-x1", when)
    assert key == "runs/shop/2026/03/04/shop-x1.json"
    assert layout.is_run_key(key)
    assert layout.is_run_key(key, "shop-x1")
    assert not layout.is_run_key(key, "shop-x")
    assert not layout.is_run_key("runs/shop/workflows/shop-x1/run.json")
    assert layout.pointer_key("shop", "dev") == "deployed/shop/dev.json"
    assert layout.stage_key("shop", "w", "environment.dev.json") == (
        "runs/shop/workflows/w/stages/environment.dev.json"
    )


def test_render() -> None:
    assert format_duration(None) == "-"
    assert format_duration(5.4) == "5s"
    assert format_duration(95) == "1m 35s"
    assert format_duration(3725) == "1h 2m 5s"
    assert short_sha("abcdef1234") == "abcdef1"
    run = fold_run(
        pipeline="shop",
        workflow_name="w",
        status="Failed",
        stages=[stage("environment", "dev", status="Failed", error="nope")],
        commit_sha="c" * 40,
        finished_at=T0 + timedelta(seconds=61),
    )
    table = render_runs([run])
    assert "shop" in table and "Failed" in table and "ccccccc" in table and "1m 1s" in table
    detail = render_run(run)
    assert "environment  dev" in detail and "nope" in detail
    assert render_runs([]) == "no runs found"
