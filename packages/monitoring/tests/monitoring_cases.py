"""Plain helpers and constants the monitoring tests import; fixtures live in conftest.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from aphex_monitoring.http import RetryPolicy
from aphex_monitoring.records import StageRecord
from aphex_monitoring.settings import AwsSettings, MonitorSettings

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


def client(service: str) -> Any:
    """A boto3 client for assertions (uses AWS_ENDPOINT_URL from aws_env)."""
    return boto3.client(service, region_name="us-east-1")


def fast_settings(**changes: Any) -> MonitorSettings:
    """Settings with small timeouts, as tests want them."""
    base = MonitorSettings(
        deadline_seconds=10.0,
        aws=AwsSettings(connect_timeout=1.0, read_timeout=2.0, max_attempts=2),
        http=RetryPolicy(
            connect_timeout=1.0,
            read_timeout=2.0,
            max_attempts=3,
            backoff_base=0.05,
            backoff_max=0.2,
            total_seconds=5.0,
        ),
        environ=dict(os.environ),
    )
    from dataclasses import replace

    return replace(base, **changes)


def stage(
    name: str,
    env: str | None = None,
    status: Any = "Succeeded",
    start: datetime = T0,
    seconds: float = 30.0,
    **extra: Any,
) -> StageRecord:
    return StageRecord(
        stage=name,
        environment=env,
        status=status,
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
        **extra,
    )


def assert_no_secrets(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], *secrets: str
) -> None:
    """No secret in any captured log line (except the fake servers' own access logs) or output."""
    lines = [
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith("werkzeug")  # pytest-httpserver's access log
    ]
    out, err = capsys.readouterr()
    for secret in secrets:
        for line in lines:
            assert secret not in line
        assert secret not in out
        assert secret not in err
