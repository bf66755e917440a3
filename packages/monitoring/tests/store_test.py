"""RunStore against a moto server over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from monitoring_cases import T0, stage

from aphex_monitoring import layout
from aphex_monitoring.fold import fold_run
from aphex_monitoring.records import RunRecord
from aphex_monitoring.store import RunStore


def _run(
    pipeline: str, workflow: str, status: str, start_offset_h: float, *stages: Any
) -> RunRecord:
    start = T0 + timedelta(hours=start_offset_h)
    return fold_run(
        pipeline=pipeline,
        workflow_name=workflow,
        status=status,  # type: ignore[arg-type]
        stages=[s.model_copy(update={"started_at": start, "finished_at": start}) for s in stages]
        or (),
        started_at=start,
        finished_at=start + timedelta(minutes=10),
        commit_sha=f"{workflow[-1]}" * 40 if workflow[-1] in "0123456789abcdef" else None,
    )


def test_stage_objects_round_trip(s3: Any, bucket: str) -> None:
    store = RunStore(bucket, s3)
    key = store.put_stage("shop", "shop-1", stage("environment", "dev"))
    assert key == "runs/shop/workflows/shop-1/stages/environment.dev.json"
    store.put_stage("shop", "shop-1", stage("build", start=T0 - timedelta(minutes=5)))
    # a retried stage overwrites its own object: one writer per object, last wins
    store.put_stage("shop", "shop-1", stage("environment", "dev", status="Failed", error="x"))
    stages = store.read_stages("shop", "shop-1")
    assert [(s.stage, s.environment, s.status) for s in stages] == [
        ("build", None, "Succeeded"),
        ("environment", "dev", "Failed"),
    ]
    assert store.read_stages("shop", "other") == []
    body = s3.get_object(Bucket=bucket, Key=key)
    assert body["ContentType"] == "application/json"


def test_run_record_key_and_json(s3: Any, bucket: str) -> None:
    store = RunStore(bucket, s3)
    run = _run("shop", "shop-a", "Succeeded", 0, stage("environment", "dev"))
    key = store.put_run(run)
    assert key == "runs/shop/2026/11/20/shop-a.json"
    data = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert data["workflow_name"] == "shop-a"
    assert data["status"] == "Succeeded"
    assert data["stages"][0]["environment"] == "dev"
    assert data["started_at"].startswith("2026-11-20T10:00:00")


def test_start_marker(s3: Any, bucket: str) -> None:
    store = RunStore(bucket, s3)
    marker = RunRecord(
        pipeline="shop", workflow_name="shop-b", status="Running", started_at=T0, trigger="push"
    )
    key = store.put_start(marker)
    assert key == layout.run_key("shop", "shop-b", T0)
    assert store.read_start("shop", "shop-b") == marker
    assert store.read_start("shop", "nope") is None


def test_pointers_follow_successful_deploys_only(s3: Any, bucket: str) -> None:
    store = RunStore(bucket, s3)
    run = _run(
        "shop",
        "shop-1",
        "Failed",
        0,
        stage("environment", "dev"),
        stage("environment", "prod", status="Failed"),
    )
    key = store.put_run(run)
    written = store.update_pointers(run, key)
    assert written == ["deployed/shop/dev.json"]
    (pointer,) = store.deployed()
    assert pointer.environment == "dev"
    assert pointer.commit_sha == "1" * 40
    assert pointer.run_key == key
    assert pointer.workflow_name == "shop-1"


def test_late_older_run_does_not_move_pointer(s3: Any, bucket: str) -> None:
    store = RunStore(bucket, s3)
    newer = _run("shop", "shop-2", "Succeeded", 5, stage("environment", "dev"))
    older = _run("shop", "shop-1", "Succeeded", 1, stage("environment", "dev"))
    store.update_pointers(newer, store.put_run(newer))
    assert store.update_pointers(older, store.put_run(older)) == []
    assert [p.workflow_name for p in store.deployed(pipeline="shop")] == ["shop-2"]
    # the same run re-notified may rewrite its own pointer
    assert store.update_pointers(newer, store.put_run(newer)) == ["deployed/shop/dev.json"]


def test_list_runs_newest_first_with_filters(s3: Any, bucket: str) -> None:
    store = RunStore(bucket, s3)
    runs = [
        _run("shop", "shop-1", "Succeeded", 0, stage("environment", "dev")),
        _run("shop", "shop-2", "Failed", 2, stage("environment", "prod", status="Failed")),
        _run("shop", "shop-3", "Succeeded", 30, stage("environment", "dev")),  # next day
        _run("shop", "shop-4", "Succeeded", 24 * 40, stage("build")),  # next month
        _run("blog", "blog-5", "Error", 3),
    ]
    for run in runs:
        store.put_run(run)
    # noise that must be ignored: stage objects, markers, junk
    store.put_stage("shop", "shop-1", stage("build"))
    s3.put_object(Bucket=bucket, Key="runs/shop/2026/11/20/broken.json", Body=b"{not json")
    s3.put_object(Bucket=bucket, Key="runs/shop/2026/11/20/readme.txt", Body=b"hi")

    assert store.pipelines() == ["blog", "shop"]
    names = [r.workflow_name for r in store.list_runs()]
    assert names == ["shop-4", "shop-3", "blog-5", "shop-2", "shop-1"]
    assert [r.workflow_name for r in store.list_runs(limit=2)] == ["shop-4", "shop-3"]
    assert [r.workflow_name for r in store.list_runs(pipeline="shop", status="failed")] == [
        "shop-2"
    ]
    assert [r.workflow_name for r in store.list_runs(environment="dev")] == ["shop-3", "shop-1"]
    assert [
        r.workflow_name for r in store.list_runs(status="Succeeded", environment="dev", limit=1)
    ] == ["shop-3"]
    assert store.list_runs(pipeline="nothing") == []


def test_find_run_and_deployed(s3: Any, bucket: str) -> None:
    store = RunStore(bucket, s3)
    a = _run("shop", "shop-a", "Succeeded", 0, stage("environment", "dev"))
    b = _run("blog", "blog-b", "Succeeded", 1, stage("environment", "prod"))
    for run in (a, b):
        store.update_pointers(run, store.put_run(run))
    found = store.find_run("blog-b")
    assert found is not None and found.pipeline == "blog"
    assert store.find_run("shop-a", pipeline="blog") is None
    assert store.find_run("shop") is None  # no prefix matches
    deployed = [(p.pipeline, p.environment, p.workflow_name) for p in store.deployed()]
    assert deployed == [("blog", "prod", "blog-b"), ("shop", "dev", "shop-a")]
    assert [p.pipeline for p in store.deployed(pipeline="shop")] == ["shop"]
