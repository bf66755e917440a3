"""Live task progress on a terminal, plain lines elsewhere (with a "still running" line at
least every :data:`HEARTBEAT_SECONDS`), and the closing summary table."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from aphex_stages.local.executor import TaskState

#: Without a terminal: the longest silence while a task runs (CI kills quiet jobs).
HEARTBEAT_SECONDS = 30.0

_MARK = {
    "Pending": " ",
    "Queued": " ",
    "Running": ">",
    "Succeeded": "✓",
    "Failed": "✗",
    "Errored": "✗",
    "Omitted": "-",
    "Skipped": "-",
}


def duration(seconds: float) -> str:
    """``45s``, ``1m30s``, ``2h05m``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def still_running_line(states: Mapping[str, TaskState]) -> str | None:
    """``  still running: build (1m30s), deploy-dev (45s)``; None when nothing runs."""
    running = [s for s in states.values() if s.phase == "Running"]
    if not running:
        return None
    return "  still running: " + ", ".join(f"{s.name} ({duration(s.elapsed)})" for s in running)


def task_line(state: TaskState) -> str:
    """One line for a task: mark, name, phase, elapsed time and, if any, the cause."""
    elapsed = f"{state.elapsed:6.1f}s" if state.started is not None else "       "
    line = f"  {_MARK.get(state.phase, '?')} {state.name:<28} {state.phase.lower():<11} {elapsed}"
    if state.cause and state.phase not in ("Succeeded",):
        line += f"  {state.cause}"
    return line


class Progress:
    """Redraws one line per task on a terminal; prints one line per change otherwise, and a
    line naming the running tasks when nothing was printed for `heartbeat` seconds."""

    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = 0.5,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.interval = interval
        self.heartbeat = heartbeat
        self._last_write = time.monotonic()
        self._states: dict[str, TaskState] = {}
        self._drawn = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, title: str, states: Mapping[str, TaskState]) -> None:
        """Begin showing `states` under `title`."""
        self.stream.write(f"{title}\n")
        self.stream.flush()
        self._states = dict(states)
        self._drawn = 0
        self._stop.clear()
        self._last_write = time.monotonic()
        ticker = self._ticker if self.live else self._heartbeat
        self._thread = threading.Thread(target=ticker, daemon=True)
        self._thread.start()

    def update(self, state: TaskState) -> None:
        """A task changed state."""
        with self._lock:
            self._states[state.name] = state
            if not self.live and state.phase not in ("Pending", "Queued"):
                self.stream.write(task_line(state) + "\n")
                self.stream.flush()
                self._last_write = time.monotonic()

    def pause(self) -> threading.Lock:
        """Hold this lock while asking the user something on the terminal."""
        return self._lock

    def _redraw(self) -> None:
        lines = [task_line(s) for s in self._states.values()]
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        for line in lines:
            self.stream.write(f"\x1b[2K{line}\n")
        self._drawn = len(lines)
        self.stream.flush()

    def _heartbeat(self) -> None:
        """Without a terminal: name the running tasks after `heartbeat` quiet seconds."""
        while not self._stop.wait(min(self.heartbeat, 1.0)):
            with self._lock:
                if time.monotonic() - self._last_write < self.heartbeat:
                    continue
                line = still_running_line(self._states)
                self._last_write = time.monotonic()
                if line is not None:
                    self.stream.write(line + "\n")
                    self.stream.flush()

    def _ticker(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                self._redraw()

    def finish(self) -> None:
        """Stop redrawing, leaving the final state on screen."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self.live:
                self._redraw()
            self._drawn = 0


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)
