"""Reading secrets and keeping them out of log lines."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aphex_monitoring.secrets import (
    REDACTED,
    RedactingFilter,
    install_redaction,
    read_secret,
    redact,
    register_secret,
)


def test_env_var_wins_over_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file-123\n")
    env = {"TOK": "  from-env-123 ", "TOK_FILE": str(secret_file)}
    assert read_secret("TOK", "TOK_FILE", environ=env) == "from-env-123"
    assert read_secret("TOK", "TOK_FILE", environ={"TOK_FILE": str(secret_file)}) == (
        "from-file-123"
    )
    assert read_secret("TOK", "TOK_FILE", environ={}) is None
    assert read_secret("TOK", "TOK_FILE", environ={"TOK": "  "}) is None


def test_unreadable_file_warns_without_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        value = read_secret("X", "X_FILE", environ={"X_FILE": str(tmp_path / "missing")})
    assert value is None
    assert "X_FILE" in caplog.text


def test_redact_registered_values_and_url_paths() -> None:
    register_secret("https://hooks.example.test/T1/B2/very-secret-path?sig=abc")
    register_secret("s3cr3t-token-value")
    text = redact(
        "POST /T1/B2/very-secret-path?sig=abc and s3cr3t-token-value and "
        "https://hooks.example.test/T1/B2/very-secret-path?sig=abc"
    )
    assert "very-secret-path" not in text
    assert "s3cr3t-token-value" not in text
    assert text.count(REDACTED) == 3


@pytest.mark.parametrize(
    "line, leaked",
    [
        ("url https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000/XXXXXXXX"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij"),
        ("Authorization: Bearer abc.def.ghi-123456", "abc.def.ghi-123456"),
        ("{'Authorization': 'token zzzzzzzzzzzz'}", "zzzzzzzzzzzz"),
        ("key AKIAABCDEFGHIJKLMNOP used", "AKIAABCDEFGHIJKLMNOP"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI"),
        ("X-Amz-Security-Token: FQoGZXIvYXdzEJr", "FQoGZXIvYXdzEJr"),
        ("cloning https://s3cr3tT0ken@github.com/acme/app.git", "s3cr3tT0ken"),
        ("remote https://bot:hunter2pass@git.example.com/x", "hunter2pass"),
    ],
)
def test_redact_known_shapes(line: str, leaked: str) -> None:
    assert leaked not in redact(line)


def test_filter_rewrites_args_and_tracebacks() -> None:
    register_secret("tb-secret-9876")
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "sent to %s", ("tb-secret-9876",), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == f"sent to {REDACTED}"
    try:
        raise RuntimeError("failed with tb-secret-9876")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "oops", None, sys.exc_info())
    RedactingFilter().filter(record)
    assert record.exc_text and "tb-secret-9876" not in record.exc_text


def test_install_redaction_covers_env_secrets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "verysecretawskey0123")
    caplog.set_level(logging.DEBUG)
    install_redaction()
    logging.getLogger("botocore.endpoint").debug("headers: key=%s", "verysecretawskey0123")
    logging.getLogger("some.other").warning("also verysecretawskey0123")
    assert "verysecretawskey0123" not in caplog.text
    assert caplog.text.count(REDACTED) == 2
