"""The bounded-retry HTTP helper against local HTTP servers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer

from aphex_monitoring.http import DeliveryError, RetryPolicy, parse_retry_after, send_json

FAST = RetryPolicy(
    connect_timeout=1.0,
    read_timeout=1.0,
    max_attempts=4,
    backoff_base=0.01,
    backoff_max=0.05,
    total_seconds=5.0,
)


def test_success_first_try(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x", method="POST", json={"a": 1}).respond_with_data("ok")
    response = send_json("POST", httpserver.url_for("/x"), {"a": 1}, label="t", policy=FAST)
    assert response.status_code == 200
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_retries_then_succeeds(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_oneshot_request("/x").respond_with_data("busy", status=status)
    httpserver.expect_oneshot_request("/x").respond_with_data("busy", status=status)
    httpserver.expect_request("/x").respond_with_data("ok")
    response = send_json("POST", httpserver.url_for("/x"), {}, label="t", policy=FAST)
    assert response.status_code == 200
    assert len(httpserver.log) == 3


def test_honours_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/x").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_request("/x").respond_with_data("ok")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    started = time.monotonic()
    send_json("POST", httpserver.url_for("/x"), {}, label="t", policy=FAST, sleep=sleep)
    assert slept == [1.0]
    assert time.monotonic() - started >= 1.0
    assert len(httpserver.log) == 2


def test_retry_after_beyond_budget_gives_up_at_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data(
        "later", status=503, headers={"Retry-After": "3600"}
    )
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        send_json("POST", httpserver.url_for("/x"), {}, label="hook", policy=FAST)
    assert time.monotonic() - started < 1.0
    assert caught.value.status == 503
    assert "exceed the time budget" in str(caught.value)
    assert len(httpserver.log) == 1


def test_client_error_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("no", status=404)
    with pytest.raises(DeliveryError, match="HTTP 404") as caught:
        send_json("POST", httpserver.url_for("/x"), {}, label="hook", policy=FAST)
    assert caught.value.status == 404
    assert len(httpserver.log) == 1


def test_redirect_not_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data(
        "", status=302, headers={"Location": "http://elsewhere.invalid/"}
    )
    with pytest.raises(DeliveryError, match="HTTP 302"):
        send_json("POST", httpserver.url_for("/x"), {}, label="hook", policy=FAST)


def test_gives_up_after_max_attempts(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("down", status=500)
    with pytest.raises(DeliveryError, match="after 4 attempt"):
        send_json("POST", httpserver.url_for("/x"), {}, label="hook", policy=FAST)
    assert len(httpserver.log) == 4


def test_dead_port_is_bounded(dead_port: int) -> None:
    policy = RetryPolicy(
        connect_timeout=0.5, read_timeout=0.5, max_attempts=50, backoff_base=0.2, total_seconds=2.0
    )
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        send_json(
            "POST", f"http://127.0.0.1:{dead_port}/secret-path", {}, label="hook", policy=policy
        )
    elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 1.5
    assert "secret-path" not in str(caught.value)
    assert "ConnectionError" in str(caught.value)


def test_silent_server_is_bounded(blackhole_port: int) -> None:
    policy = RetryPolicy(connect_timeout=0.5, read_timeout=0.5, max_attempts=10, total_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(DeliveryError):
        send_json("POST", f"http://127.0.0.1:{blackhole_port}/x", {}, label="hook", policy=policy)
    assert time.monotonic() - started < 1.5 + 1.5


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now) == 30.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0


def test_backoff_is_bounded() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=4.0)
    for attempt in range(1, 10):
        assert 0 <= policy.backoff(attempt) <= 4.0
    assert RetryPolicy(backoff_base=0).backoff(3) == 0.0
