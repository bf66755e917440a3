"""pytest fixtures around :mod:`aphex_testing.moto_server`.

Use from a conftest by importing the fixtures by name::

    from aphex_testing.pytest_plugin import aws_env, moto_server, unique_name  # noqa: F401

``moto_server`` is session-scoped (one server for the whole run; keep tests apart
with :func:`unique_name`), ``fresh_moto_server`` gives a test its own server.
``aws_env`` points boto3 at the session server with dummy credentials.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from aphex_testing.moto_server import MotoServer, start_moto_server

__all__ = ["aws_env", "fresh_moto_server", "moto_server", "unique_name", "apply_aws_env"]

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server subprocess for the whole session; its log stays in pytest's tmp dir."""
    server = start_moto_server(log_dir=tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def fresh_moto_server(tmp_path: os.PathLike[str]) -> Iterator[MotoServer]:
    """A moto server of this test's own (about half a second to start)."""
    server = start_moto_server(log_dir=tmp_path)
    try:
        yield server
    finally:
        server.stop()


def apply_aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point boto3 at ``endpoint`` with dummy credentials, ignoring local AWS config."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer) -> MotoServer:
    """Set AWS_ENDPOINT_URL and dummy credentials for the session moto server."""
    apply_aws_env(monkeypatch, moto_server.endpoint)
    return moto_server


@pytest.fixture()
def unique_name() -> Callable[[str], str]:
    """Factory for names unique within the session (bucket-, topic- and DNS-safe)."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}"

    return make
