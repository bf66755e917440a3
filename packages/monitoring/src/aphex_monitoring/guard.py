"""Run monitoring steps so that none can fail or stall the caller.

:class:`Guard` runs one step at a time inside a shared time budget, turns any
exception into a warning, and stops calling AWS once AWS was unreachable.
:func:`run_with_deadline` is the hard backstop: it abandons work still running
when the deadline passes (the work runs in a daemon thread).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

from botocore.exceptions import (
    ConnectionClosedError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from aphex_monitoring.records import one_line
from aphex_monitoring.secrets import redact

__all__ = ["Guard", "Outcome", "describe_error", "run_in_parallel", "run_with_deadline"]

logger = logging.getLogger("aphex_monitoring")

T = TypeVar("T")
Outcome = Literal["ok", "failed", "skipped"]

_AWS_DOWN = (
    BotoConnectionError,
    ReadTimeoutError,
    ConnectionClosedError,
    NoCredentialsError,
    NoRegionError,
)


def describe_error(exc: BaseException) -> str:
    """One redacted line naming the exception type and message."""
    text = one_line(str(exc), 240) or ""
    name = type(exc).__name__
    return redact(f"{name}: {text}" if text else name)


class Guard:
    """A time budget plus per-step error isolation."""

    def __init__(self, budget_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.deadline = clock() + budget_seconds
        self.aws_unreachable = False
        self.outcomes: dict[str, Outcome] = {}

    def remaining(self) -> float:
        """Seconds left in the budget (never negative)."""
        return max(0.0, self.deadline - self._clock())

    def skip(self, label: str, why: str) -> None:
        """Record ``label`` as skipped (logged at INFO)."""
        logger.info("%s skipped: %s", label, why)
        self.outcomes[label] = "skipped"

    def run(self, label: str, step: Callable[[], T], *, aws: bool = False) -> T | None:
        """Run ``step``; on any exception log a warning and return None."""
        if self.remaining() <= 0:
            logger.warning("%s skipped: monitoring time budget used up", label)
            self.outcomes[label] = "skipped"
            return None
        if aws and self.aws_unreachable:
            logger.warning("%s skipped: AWS was unreachable earlier in this run", label)
            self.outcomes[label] = "skipped"
            return None
        try:
            result = step()
        except Exception as exc:
            if aws and isinstance(exc, _AWS_DOWN):
                self.aws_unreachable = True
            logger.warning("%s failed: %s", label, describe_error(exc))
            self.outcomes[label] = "failed"
            return None
        self.outcomes[label] = "ok"
        return result


def run_with_deadline(step: Callable[[], T], seconds: float, label: str) -> tuple[bool, T | None]:
    """Run ``step`` in a daemon thread; give up waiting after ``seconds``.

    Returns ``(finished, result)``. An exception in ``step`` is logged and gives
    ``(True, None)``.
    """
    box: dict[str, T] = {}

    def target() -> None:
        try:
            box["result"] = step()
        except Exception as exc:
            logger.warning("%s failed: %s", label, describe_error(exc))

    thread = threading.Thread(target=target, name=f"aphex-monitor-{label}", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        logger.warning("%s abandoned: still running after %.0fs", label, seconds)
        return False, None
    return True, box.get("result")


def run_in_parallel(steps: Mapping[str, Callable[[], object]], seconds: float) -> list[str]:
    """Run each step in its own daemon thread; wait at most ``seconds`` in all.

    Returns the labels of steps still running then (they are abandoned).
    """
    clock = time.monotonic
    deadline = clock() + max(0.0, seconds)
    threads: dict[str, threading.Thread] = {}
    for label, step in steps.items():

        def target(step: Callable[[], object] = step, label: str = label) -> None:
            try:
                step()
            except Exception as exc:
                logger.warning("%s failed: %s", label, describe_error(exc))

        thread = threading.Thread(target=target, name=f"aphex-monitor-{label}", daemon=True)
        thread.start()
        threads[label] = thread
    for thread in threads.values():
        thread.join(max(0.0, deadline - clock()))
    late = [label for label, thread in threads.items() if thread.is_alive()]
    for label in late:
        logger.warning("%s abandoned: still running after %.0fs", label, seconds)
    return late
