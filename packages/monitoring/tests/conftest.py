"""Fixtures for the monitoring tests: a moto server (over HTTP), buckets, settings."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from aphex_monitoring.http import RetryPolicy
from aphex_monitoring.records import StageRecord
from aphex_monitoring.settings import AwsSettings, MonitorSettings
from aphex_testing import pytest_plugin
from aphex_testing.moto_server import free_port

# The shared harness's fixtures (a non-root conftest may not use pytest_plugins).
moto_server = pytest_plugin.moto_server
fresh_moto_server = pytest_plugin.fresh_moto_server
aws_env = pytest_plugin.aws_env
unique_name = pytest_plugin.unique_name

_APHEX_VARS = (
    "APHEX_ARTIFACT_BUCKET",
    "APHEX_SNS_TOPIC_ARN",
    "APHEX_SLACK_WEBHOOK_URL",
    "APHEX_SLACK_WEBHOOK_FILE",
    "APHEX_GITHUB_TOKEN",
    "APHEX_GITHUB_TOKEN_FILE",
    "APHEX_GITHUB_API_URL",
    "APHEX_ARGO_URL",
    "APHEX_NAMESPACE",
    "APHEX_WORKFLOW_NAME",
    "APHEX_MONITOR_DEADLINE_SECONDS",
    "APHEX_MONITOR_CONNECT_TIMEOUT",
    "APHEX_MONITOR_READ_TIMEOUT",
    "APHEX_MONITOR_MAX_ATTEMPTS",
)

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No APHEX_* setting leaks in from the developer's shell."""
    for name in _APHEX_VARS:
        monkeypatch.delenv(name, raising=False)


def client(service: str) -> Any:
    """A boto3 client for assertions (uses AWS_ENDPOINT_URL from aws_env)."""
    return boto3.client(service, region_name="us-east-1")


@pytest.fixture()
def s3(aws_env: Any) -> Any:
    return client("s3")


@pytest.fixture()
def bucket(s3: Any, unique_name: Callable[[str], str]) -> str:
    """A fresh bucket on the session moto server."""
    name = unique_name("bucket")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture()
def pipeline(unique_name: Callable[[str], str]) -> str:
    """A pipeline name unique to the test (keeps metrics and log groups apart)."""
    return unique_name("pipe")


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


@pytest.fixture()
def dead_port() -> int:
    """A localhost port nobody listens on (connection refused)."""
    return free_port()


@pytest.fixture()
def blackhole_port() -> Iterator[int]:
    """A port that accepts TCP connections but never answers (read timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


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
