"""Read secrets from an env var or a mounted file, and keep them out of every log line.

Every secret read through :func:`read_secret` (or passed to :func:`register_secret`)
is remembered; :class:`RedactingFilter` replaces it, and well-known secret shapes
(Slack webhook paths, GitHub tokens, bearer headers, AWS keys), with ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "install_redaction",
    "read_secret",
    "redact",
    "register_secret",
]

logger = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
_MIN_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"hooks\.slack(?:-gov)?\.com/\S+"),
    re.compile(r"/services/T[A-Z0-9]+/B[A-Z0-9]+/\S+"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|token|basic)\s+)[^\s'\",]+"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    # Credentials in a URL: https://TOKEN@host/..., https://user:password@host/...
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@]+(?=@)"),
    re.compile(
        r"(?i)((?:aws_secret_access_key|aws_session_token|x-amz-security-token)['\"]?\s*[:=]\s*['\"]?)"
        r"[^\s'\",]+"
    ),
)
_AWS_SECRET_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
#: The exit handler's secrets, from Secrets by secretKeyRef (the stage contract's names).
SLACK_WEBHOOK_ENV = "APHEX_SLACK_WEBHOOK_URL"
GITHUB_TOKEN_ENV = "APHEX_GITHUB_TOKEN"
_SECRET_VARS = (SLACK_WEBHOOK_ENV, GITHUB_TOKEN_ENV, *_AWS_SECRET_VARS)


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and, for a URL, its path and query) so logs never show it."""
    if not value:
        return
    value = value.strip()
    candidates = {value}
    if "://" in value:
        parts = urlsplit(value)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail) >= _MIN_LENGTH and tail != "/":
            candidates.add(tail)
    with _lock:
        _secrets.update(c for c in candidates if len(c) >= _MIN_LENGTH)


def redact(text: str) -> str:
    """``text`` with every registered secret and known secret shape replaced."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def read_secret(
    env_var: str, file_env_var: str, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The secret from ``$env_var``, else from the file named by ``$file_env_var``.

    Returns None when neither is set or the file cannot be read (a warning names the
    variable, never the content). The value is registered for redaction.
    """
    env = os.environ if environ is None else environ
    value = (env.get(env_var) or "").strip()
    if not value:
        path = (env.get(file_env_var) or "").strip()
        if path:
            try:
                value = Path(path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                logger.warning(
                    "cannot read secret file from %s: %s", file_env_var, type(exc).__name__
                )
                return None
    if not value:
        return None
    register_secret(value)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites records so that no secret reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()

#: Loggers that may print URLs, headers or request bodies at DEBUG level.
NOISY_LOGGERS: tuple[str, ...] = (
    "aphex_monitoring",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "requests",
    "boto3",
    "botocore",
    "botocore.auth",
    "botocore.credentials",
    "botocore.endpoint",
    "botocore.hooks",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.retryhandler",
    "botocore.retries.standard",
    "botocore.client",
    "botocore.regions",
)


def _attach(targets: Iterable[logging.Filterer]) -> None:
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


def install_redaction(
    extra_loggers: Iterable[str] = (), *, environ: Mapping[str, str] | None = None
) -> RedactingFilter:
    """Attach the redacting filter to the root logger's handlers and to noisy loggers.

    Also registers secrets found in the environment (AWS secret key / session token,
    Slack webhook, GitHub token). Idempotent.
    """
    env = os.environ if environ is None else environ
    for name in _SECRET_VARS:
        register_secret(env.get(name))
    _attach(logging.getLogger(n) for n in (*NOISY_LOGGERS, *extra_loggers))
    _attach(logging.getLogger().handlers)
    return _FILTER


# Records created by these loggers are redacted wherever they end up (library use too).
_attach(logging.getLogger(n) for n in NOISY_LOGGERS)
