"""Slack webhook against a local HTTP server."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from monitoring_cases import T0, assert_no_secrets, stage
from pytest_httpserver import HTTPServer

from aphex_monitoring.fold import fold_run
from aphex_monitoring.http import DeliveryError, RetryPolicy
from aphex_monitoring.notify.slack import build_slack_message, send_slack, slack_webhook_url
from aphex_monitoring.records import RunRecord

POLICY = RetryPolicy(
    connect_timeout=1, read_timeout=1, max_attempts=3, backoff_base=0.01, total_seconds=5
)
SECRET_PATH = "/services/T0AAA/B0BBB/hunter2-webhook-secret"


def _record(status: str = "Failed") -> RunRecord:
    return fold_run(
        pipeline="shop",
        workflow_name="shop-7xk2",
        status=status,  # type: ignore[arg-type]
        stages=[
            stage("environment", "dev"),
            stage("environment", "prod", "Failed", T0 + timedelta(minutes=1), error="<rollback>"),
        ],
        commit_sha="0123456789abcdef0123456789abcdef01234567",
        finished_at=T0 + timedelta(minutes=4, seconds=5),
        argo_url="https://argo.example.com/workflows/ci/shop-7xk2",
    )


def test_message_is_readable() -> None:
    message = build_slack_message(_record())
    text = message["text"]
    assert "shop" in text and "Failed" in text and "0123456" in text
    assert "dev (Succeeded), prod (Failed)" in text
    assert "4m 5s" in text
    assert "<https://argo.example.com/workflows/ci/shop-7xk2|Open in Argo>" in text
    rendered = str(message["blocks"])
    assert "&lt;rollback&gt;" in rendered  # user text escaped
    assert "*Environment*" in rendered and "*Duration*" in rendered


def test_webhook_url_from_env_or_file(tmp_path: Path) -> None:
    mounted = tmp_path / "url"
    mounted.write_text("https://hooks.example/from-file-abc\n")
    assert slack_webhook_url({"APHEX_SLACK_WEBHOOK_FILE": str(mounted)}) == (
        "https://hooks.example/from-file-abc"
    )
    assert slack_webhook_url({"APHEX_SLACK_WEBHOOK_URL": "https://hooks.example/env-abc"}) == (
        "https://hooks.example/env-abc"
    )
    assert slack_webhook_url({}) is None


def test_send_posts_payload_and_retries_without_leaking(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_oneshot_request(SECRET_PATH).respond_with_data("oops", status=500)
    httpserver.expect_oneshot_request(SECRET_PATH).respond_with_data(
        "rate", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_request(SECRET_PATH, method="POST").respond_with_data("ok")
    url = slack_webhook_url({"APHEX_SLACK_WEBHOOK_URL": httpserver.url_for(SECRET_PATH)})
    assert url is not None
    send_slack(url, _record(), policy=POLICY)
    assert len(httpserver.log) == 3
    request = httpserver.log[-1][0]
    assert request.json is not None and "Failed" in request.json["text"]
    assert request.headers["Content-Type"] == "application/json"
    assert "retrying" in caplog.text
    assert "[REDACTED]" in caplog.text  # urllib3's request line, with the path redacted
    assert_no_secrets(caplog, capsys, "hunter2")


def test_failure_raises_delivery_error_without_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request(SECRET_PATH).respond_with_data("gone", status=410)
    with pytest.raises(DeliveryError) as caught:
        send_slack(httpserver.url_for(SECRET_PATH), _record(), policy=POLICY)
    assert "hunter2" not in str(caught.value)
    assert "slack webhook: HTTP 410" in str(caught.value)
