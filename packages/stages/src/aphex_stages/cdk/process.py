"""Run one command with its output streamed line by line and a hard timeout.

stdout and stderr are merged (the CDK CLI writes its progress to stderr). Each line
reaches ``on_line`` in the calling thread, without its newline and without ANSI styling.
On timeout the whole process group is killed (the CLI's node process and the app it runs).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LineCallback", "ProcessResult", "run_streaming", "strip_ansi"]

LineCallback = Callable[[str], None]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_EOF = object()
_EXIT_GRACE = 2.0  # seconds to wait for the pipe to close after the command exited


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class ProcessResult:
    """What a finished (or killed) command left behind."""

    argv: tuple[str, ...]
    returncode: int
    lines: tuple[str, ...]
    seconds: float
    timed_out: bool


def _pump(stream: object, sink: queue.Queue[object]) -> None:
    try:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            sink.put(strip_ansi(raw.decode("utf-8", errors="replace")).rstrip("\r\n"))
    finally:
        sink.put(_EOF)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_streaming(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    timeout: float,
    on_line: LineCallback | None = None,
) -> ProcessResult:
    """Run ``argv`` (never through a shell); kill it and its children after ``timeout`` s."""
    started = time.monotonic()
    deadline = started + timeout
    process = subprocess.Popen(
        list(argv),
        cwd=Path(cwd),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []
    sink: queue.Queue[object] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, sink), daemon=True)
    reader.start()
    timed_out = False
    exited_at: float | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            try:
                item = sink.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                # A grandchild may hold the pipe open after the command itself exited.
                if process.poll() is not None:
                    exited_at = exited_at or time.monotonic()
                    if time.monotonic() - exited_at > _EXIT_GRACE:
                        _kill_group(process)
                        break
                continue
            if item is _EOF:
                break
            line = str(item)
            lines.append(line)
            if on_line is not None:
                on_line(line)
        if timed_out:
            _kill_group(process)
        else:
            # Output closed: the process is exiting; still bound the wait by the deadline.
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process)
    except BaseException:
        _kill_group(process)
        raise
    finally:
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
    # Lines still queued when the process was killed.
    while True:
        try:
            item = sink.get_nowait()
        except queue.Empty:
            break
        if item is not _EOF:
            lines.append(str(item))
            if on_line is not None:
                on_line(str(item))
    return ProcessResult(
        argv=tuple(argv),
        returncode=process.returncode if process.returncode is not None else -9,
        lines=tuple(lines),
        seconds=time.monotonic() - started,
        timed_out=timed_out,
    )
