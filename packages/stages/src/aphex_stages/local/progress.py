"""Live task progress on a terminal, plain lines elsewhere, and the closing summary table."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TextIO

from aphex_stages.local.executor import TaskState

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


def task_line(state: TaskState) -> str:
    """One line for a task: mark, name, phase, elapsed time and, if any, the cause."""
    elapsed = f"{state.elapsed:6.1f}s" if state.started is not None else "       "
    line = f"  {_MARK.get(state.phase, '?')} {state.name:<28} {state.phase.lower():<11} {elapsed}"
    if state.cause and state.phase not in ("Succeeded",):
        line += f"  {state.cause}"
    return line


class Progress:
    """Redraws one line per task on a terminal; prints one line per change otherwise."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.5) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.interval = interval
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
        if self.live:
            self._thread = threading.Thread(target=self._ticker, daemon=True)
            self._thread.start()

    def update(self, state: TaskState) -> None:
        """A task changed state."""
        with self._lock:
            self._states[state.name] = state
            if not self.live and state.phase not in ("Pending", "Queued"):
                self.stream.write(task_line(state) + "\n")
                self.stream.flush()

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
