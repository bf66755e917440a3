"""One shared bounded-retry HTTP helper for webhooks and REST APIs.

Every attempt has a connect and read timeout; 5xx, 429 and connection errors are
retried with exponential backoff (or the server's ``Retry-After``), and the whole
call never takes longer than ``RetryPolicy.total_seconds`` (plus one socket timeout
at most). Errors carry a label and a status code, never the URL (it may be secret).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

__all__ = ["DeliveryError", "RetryPolicy", "parse_retry_after", "send_json"]

logger = logging.getLogger(__name__)

_RETRYABLE = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))


class DeliveryError(Exception):
    """The request did not succeed within the retry policy."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts, retries and the total time bound of one logical request."""

    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    total_seconds: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Jittered exponential delay before retry number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def send_json(
    method: str,
    url: str,
    payload: Any,
    *,
    label: str,
    headers: Mapping[str, str] | None = None,
    policy: RetryPolicy | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> requests.Response:
    """Send ``payload`` as JSON and return the 2xx response, or raise :class:`DeliveryError`.

    ``label`` names the request in messages (the URL is never included).
    """
    policy = policy or RetryPolicy()
    http = session or requests.Session()
    deadline = clock() + policy.total_seconds
    reason = "no attempt made"
    status: int | None = None
    attempts = 0
    try:
        for attempt in range(1, max(1, policy.max_attempts) + 1):
            remaining = deadline - clock()
            if remaining <= 0:
                reason = f"time budget of {policy.total_seconds:g}s used up ({reason})"
                break
            attempts = attempt
            timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
            delay: float | None
            try:
                response = http.request(
                    method,
                    url,
                    json=payload,
                    headers=dict(headers or {}),
                    timeout=timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                reason, status = type(exc).__name__, None
                delay = policy.backoff(attempt)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status not in _RETRYABLE:
                    raise DeliveryError(f"{label}: HTTP {status} (not retried)", status)
                reason = f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                delay = retry_after if retry_after is not None else policy.backoff(attempt)
                response.close()
            if attempt >= policy.max_attempts:
                break
            remaining = deadline - clock()
            if delay >= remaining:
                reason = f"{reason}; next retry in {delay:g}s would exceed the time budget"
                break
            logger.info("%s: %s, retrying in %.2fs (attempt %d)", label, reason, delay, attempt)
            sleep(delay)
    finally:
        if session is None:
            http.close()
    raise DeliveryError(f"{label}: gave up after {attempts} attempt(s): {reason}", status)
