"""Fixtures for the monitoring tests: a moto server (over HTTP), buckets, settings.

Plain helpers the tests import (T0, client, stage, ...) live in monitoring_cases.py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from monitoring_cases import client

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


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No APHEX_* setting leaks in from the developer's shell."""
    for name in _APHEX_VARS:
        monkeypatch.delenv(name, raising=False)


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
