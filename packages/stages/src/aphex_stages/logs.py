"""Structured stage logs: human lines on a terminal, JSON lines for machines, secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, TextIO

from aphex_monitoring import RedactingFilter, install_redaction

LogFormat = Literal["text", "json"]

_FIELDS = ("stage", "environment", "pipeline", "commit")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value:
                payload[name] = value
        return json.dumps(payload, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        where = getattr(record, "stage", "") or ""
        environment = getattr(record, "environment", None)
        if environment:
            where = f"{where}/{environment}"
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"{stamp} {where} {level}{record.getMessage()}"


class _StageFields(logging.Filter):
    def __init__(self, fields: dict[str, str | None]) -> None:
        super().__init__()
        self._fields = fields

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in self._fields.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def configure_logging(
    log_format: LogFormat,
    *,
    stage: str,
    environment: str | None = None,
    pipeline: str | None = None,
    commit: str | None = None,
    stream: TextIO | None = None,
) -> logging.Logger:
    """Send every log record to `stream` (stderr) in `log_format`, redacted; return the stage logger."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if log_format == "json" else _TextFormatter())
    handler.addFilter(
        _StageFields(
            {"stage": stage, "environment": environment, "pipeline": pipeline, "commit": commit}
        )
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "git", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    install_redaction()
    return logging.getLogger(f"aphex.{stage}")


def command_output(log: logging.Logger) -> Callable[[str], None]:
    """A line callback that logs a command's output, indented as `  | line`."""
    return lambda line: log.info("  | %s", line)
