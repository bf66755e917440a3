"""SIGTERM handled like Ctrl-C: a pod's deletion, a CI cancel or `timeout` stops a stage or
a local run through the same clean-up as an interrupt (children's process groups killed,
records saved) instead of killing the process where it stands.

    with terminate_as_interrupt():
        ...   # SIGTERM raises KeyboardInterrupt here
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["terminate_as_interrupt"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; elsewhere a
    no-op, since only the main thread can set handlers). The old handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
