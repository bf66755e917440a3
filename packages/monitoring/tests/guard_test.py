"""Error isolation and time bounds."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from botocore.exceptions import EndpointConnectionError

from aphex_monitoring.guard import Guard, describe_error, run_in_parallel, run_with_deadline
from aphex_monitoring.secrets import register_secret


def test_guard_turns_exceptions_into_warnings(caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard(10)
    caplog.set_level(logging.WARNING)

    def boom() -> int:
        raise RuntimeError("nope")

    assert guard.run("first", boom) is None
    assert guard.run("second", lambda: 42) == 42
    assert guard.outcomes == {"first": "failed", "second": "ok"}
    assert "first failed: RuntimeError: nope" in caplog.text


def test_guard_stops_calling_unreachable_aws() -> None:
    guard = Guard(10)
    calls: list[str] = []

    def down() -> None:
        calls.append("down")
        raise EndpointConnectionError(endpoint_url="http://localhost:1")

    guard.run("a", down, aws=True)
    guard.run("b", lambda: calls.append("b"), aws=True)
    guard.run("c", lambda: calls.append("c"))  # not AWS: still runs
    assert calls == ["down", "c"]
    assert guard.outcomes == {"a": "failed", "b": "skipped", "c": "ok"}


def test_guard_skips_once_budget_used() -> None:
    now = [0.0]
    guard = Guard(5, clock=lambda: now[0])
    assert guard.remaining() == 5
    now[0] = 6
    assert guard.remaining() == 0
    assert guard.run("late", lambda: 1) is None
    assert guard.outcomes["late"] == "skipped"


def test_describe_error_is_one_redacted_line() -> None:
    register_secret("guard-secret-value")
    text = describe_error(ValueError("bad\nthing guard-secret-value"))
    assert text == "ValueError: bad thing [REDACTED]"


def test_run_with_deadline_abandons_stuck_work(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    started = time.monotonic()
    finished, value = run_with_deadline(lambda: release.wait(30), 0.3, "stuck")
    release.set()
    assert (finished, value) == (False, None)
    assert time.monotonic() - started < 2
    assert "stuck abandoned" in caplog.text
    assert run_with_deadline(lambda: 7, 1, "quick") == (True, 7)
    assert run_with_deadline(lambda: 1 / 0, 1, "broken") == (True, None)


def test_run_in_parallel_waits_at_most_the_bound() -> None:
    release = threading.Event()
    seen: list[str] = []
    started = time.monotonic()
    late = run_in_parallel(
        {
            "slow": lambda: release.wait(30),
            "fast": lambda: seen.append("fast"),
            "bad": lambda: 1 / 0,
        },
        0.3,
    )
    release.set()
    assert late == ["slow"]
    assert seen == ["fast"]
    assert time.monotonic() - started < 2
