"""record_stage / record_run_start / notify_run end to end: moto over HTTP + local HTTP servers."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from monitoring_cases import assert_no_secrets, client, fast_settings, stage
from pytest_httpserver import HTTPServer
from sns_test import receive, subscribe_queue

from aphex_monitoring import RunFacts, notify_run, record_run_start, record_stage
from aphex_monitoring.records import RunRecord, utcnow
from aphex_monitoring.settings import AwsSettings
from aphex_monitoring.store import RunStore
from aphex_testing.pytest_plugin import apply_aws_env

SHA = "fedcba9876543210fedcba9876543210fedcba98"
TOKEN = "ghp_ServiceTestToken0123456789abcdefgh"
HOOK = "/services/T1/B2/slack-secret-service"
FAILURES = json.dumps(
    [
        {
            "displayName": "deploy-prod",
            "message": "Error (exit code 1)",
            "templateName": "environment",
            "phase": "Failed",
        }
    ]
)


def _env(httpserver: HTTPServer) -> dict[str, str]:
    env = dict(os.environ)
    env["APHEX_SLACK_WEBHOOK_URL"] = httpserver.url_for(HOOK)
    env["APHEX_GITHUB_TOKEN"] = TOKEN
    return env


def test_full_run(
    aws_env: Any,
    bucket: str,
    pipeline: str,
    httpserver: HTTPServer,
    unique_name: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    topic_arn, queue_url = subscribe_queue(unique_name)
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    status_path = f"/gh/repos/acme/shop/statuses/{SHA}"
    httpserver.expect_request(status_path, method="POST").respond_with_json({}, status=201)
    settings = fast_settings(
        bucket=bucket,
        sns_topic_arn=topic_arn,
        github_api_url=httpserver.url_for("/gh"),
        argo_url="https://argo.example.com",
        namespace="ci",
        environ=_env(httpserver),
    )
    workflow = f"{pipeline}-abc12"
    begin = utcnow() - timedelta(minutes=10)
    started = record_run_start(
        RunFacts(
            pipeline=pipeline,
            workflow_name=workflow,
            commit_sha=SHA,
            repository="git@github.com:acme/shop.git",
            trigger="push",
            started_at=begin,
        ),
        settings=settings,
    )
    assert started.outcomes == {"s3 client": "ok", "run start": "ok", "github status": "ok"}
    assert httpserver.log[-1][0].json["state"] == "pending"
    store = RunStore(bucket, client("s3"))
    assert [r.status for r in store.list_runs(pipeline=pipeline)] == ["Running"]

    for record in (
        stage("build", start=begin + timedelta(minutes=1), seconds=60, output_keys=("artifact",)),
        stage("environment", "dev", start=begin + timedelta(minutes=3), seconds=90),
        stage("environment", "prod", "Failed", begin + timedelta(minutes=6), error="rollback"),
    ):
        key = record_stage(bucket, pipeline, workflow, record, settings=settings)
        assert key is not None and key.startswith(f"runs/{pipeline}/workflows/{workflow}/stages/")

    result = notify_run(
        RunFacts(
            pipeline=pipeline,
            workflow_name=workflow,
            status="Failed",
            commit_sha=SHA,
            workflow_uid="uid-123",
            failures=FAILURES,
        ),
        settings=settings,
    )
    assert result.finished
    assert result.outcomes == {
        "s3 client": "ok",
        "read run start": "ok",
        "read stage records": "ok",
        "run record": "ok",
        "deployed pointers": "ok",
        "metrics": "ok",
        "logs": "ok",
        "sns": "ok",
        "slack": "ok",
        "github status": "ok",
    }
    run = result.record
    assert run is not None
    assert (
        run.started_at
        == RunRecord.model_validate(
            {"pipeline": "p", "workflow_name": "w", "status": "Running", "started_at": begin}
        ).started_at
    )
    assert run.repository == "git@github.com:acme/shop.git" and run.trigger == "push"
    assert run.error == "deploy-prod: Error (exit code 1)"
    assert run.argo_url == f"https://argo.example.com/workflows/ci/{workflow}"

    # S3: the record (dated by the start) and then the dev pointer only
    assert result.run_key == f"runs/{pipeline}/{begin:%Y/%m/%d}/{workflow}.json"
    stored = store.find_run(workflow)
    assert stored is not None and stored.status == "Failed" and len(stored.stages) == 3
    assert [
        (p.environment, p.commit_sha, p.run_key) for p in store.deployed(pipeline=pipeline)
    ] == [("dev", SHA, result.run_key)]
    # CloudWatch metrics and logs
    metrics = client("cloudwatch").list_metrics(
        Namespace="AphexPipeline", Dimensions=[{"Name": "Pipeline", "Value": pipeline}]
    )["Metrics"]
    assert {m["MetricName"] for m in metrics} >= {"StageDurationSeconds", "DeploymentFailed"}
    events = client("logs").get_log_events(
        logGroupName=f"/aphex/{pipeline}", logStreamName=workflow, startFromHead=True
    )["events"]
    assert len(events) == 4
    # SNS via SQS
    (envelope,) = receive(queue_url)
    assert envelope["Subject"] == f"Aphex {pipeline}: Failed fedcba9"
    assert json.loads(envelope["Message"])["workflow_uid"] == "uid-123"
    # Slack and GitHub
    slack = [r for r, _ in httpserver.log if r.path == HOOK]
    assert len(slack) == 1 and "Failed" in slack[0].json["text"]
    states = [r.json["state"] for r, _ in httpserver.log if r.path == status_path]
    assert states == ["pending", "failure"]
    # nothing secret anywhere
    assert_no_secrets(caplog, capsys, TOKEN, "slack-secret-service")


def test_without_bucket_or_aws_config_still_notifies(
    httpserver: HTTPServer, aws_env: Any, pipeline: str
) -> None:
    httpserver.expect_request(HOOK).respond_with_data("ok")
    settings = fast_settings(environ=_env(httpserver))
    result = notify_run(
        RunFacts(pipeline=pipeline, workflow_name="w-1", status="Succeeded", failures="null"),
        settings=settings,
    )
    assert result.outcomes["run record"] == "skipped"
    assert result.outcomes["sns"] == "skipped"
    assert result.outcomes["slack"] == "ok"
    assert result.outcomes["github status"] == "skipped"  # no repository, no commit
    assert result.record is not None and result.record.status == "Succeeded"


def test_a_stage_record_never_stores_a_secret_of_its_cause(
    aws_env: Any, bucket: str, pipeline: str
) -> None:
    """A failing command line (say a clone URL with a token) is redacted before it is stored."""
    cause = "command `git clone https://s3cr3tTok3n@github.com/acme/shop.git` exited 128"
    record = stage("build", None, "Failed", utcnow(), error=cause)
    key = record_stage(bucket, pipeline, "w", record, settings=fast_settings(bucket=bucket))
    assert key is not None
    stored = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert "s3cr3tTok3n" not in stored and "github.com/acme/shop.git" in stored


def test_record_stage_without_bucket_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert record_stage(None, "shop", "w", stage("build"), settings=fast_settings()) is None
    assert "no artifact bucket" in caplog.text


def test_dead_endpoints_cost_at_most_the_bound(
    monkeypatch: pytest.MonkeyPatch,
    dead_port: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    apply_aws_env(monkeypatch, f"http://localhost:{dead_port}")
    dead = f"http://127.0.0.1:{dead_port}"
    env = dict(os.environ)
    env["APHEX_SLACK_WEBHOOK_URL"] = f"{dead}/hooks/dead-secret-hook"
    env["APHEX_GITHUB_TOKEN"] = TOKEN
    bound = 4.0
    settings = fast_settings(
        bucket="any-bucket",
        sns_topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        github_api_url=dead,
        deadline_seconds=bound,
        environ=env,
    )
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    assert record_stage("any-bucket", "shop", "w", stage("build"), settings=settings) is None
    result = notify_run(
        RunFacts(
            pipeline="shop",
            workflow_name="w",
            status="Succeeded",
            commit_sha=SHA,
            repository="https://github.com/acme/shop",
        ),
        settings=settings,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 2 * (bound + 2.0) + 3.0
    assert result.outcomes["read run start"] == "failed"
    assert result.outcomes["metrics"] == "skipped"  # AWS known unreachable
    assert result.outcomes["slack"] == "failed"
    assert result.outcomes["github status"] == "failed"
    assert "slack failed" in caplog.text and "github status failed" in caplog.text
    assert_no_secrets(caplog, capsys, "dead-secret-hook", TOKEN)


def test_stuck_aws_is_abandoned_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, blackhole_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    apply_aws_env(monkeypatch, f"http://localhost:{blackhole_port}")
    settings = fast_settings(
        bucket="any-bucket",
        deadline_seconds=1.0,
        aws=AwsSettings(connect_timeout=1.0, read_timeout=30.0, max_attempts=1),
    )
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    result = notify_run(
        RunFacts(pipeline="shop", workflow_name="w", status="Failed"), settings=settings
    )
    assert time.monotonic() - started < 1.0 + 2.0 + 2.0
    assert "read run abandoned" in caplog.text
    assert "aws sinks abandoned" in caplog.text
    assert result.record is not None and result.record.status == "Failed"
    assert result.outcomes.get("run record") != "ok"
