"""The one place a stage runs a command: streamed, redacted, bounded in time.

A command is an argv list (run without a shell) or a string (run by ``/bin/sh -c``).
stdout and stderr are merged; each line reaches ``on_line`` in the calling thread,
without its newline, without ANSI styling and passed through
:func:`aphex_monitoring.secrets.redact`. On timeout the command's whole process group is
killed (TERM, then KILL), so children it started do not outlive it.

:func:`run_command` keeps a bounded tail of the output for error messages (build and test
commands); :func:`run_streaming` keeps every line (the CDK wrapper parses them).
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aphex_monitoring import redact

__all__ = [
    "DEFAULT_TAIL_LINES",
    "CommandResult",
    "LineCallback",
    "ProcessResult",
    "command_argv",
    "describe_command",
    "describe_exit",
    "run_command",
    "run_streaming",
    "strip_ansi",
]

LineCallback = Callable[[str], None]
DEFAULT_TAIL_LINES = 50

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_EOF = object()
_EXIT_GRACE = 2.0  # seconds to wait for the pipe to close after the command exited
_MAX_LINE = 64 * 1024  # longer lines are split, so one line cannot exhaust memory
_SHELL = "/bin/sh"


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour and cursor sequences."""
    return _ANSI.sub("", text)


def command_argv(command: str | Sequence[str]) -> list[str]:
    """The argv that runs ``command``: a string goes through ``/bin/sh -c``."""
    if isinstance(command, str):
        return [_SHELL, "-c", command]
    argv = [str(part) for part in command]
    if not argv:
        raise ValueError("empty command")
    return argv


def describe_command(command: str | Sequence[str], limit: int = 120) -> str:
    """A one-line, redacted rendering of ``command`` for logs and error messages."""
    text = command if isinstance(command, str) else shlex.join(str(part) for part in command)
    lines = text.strip().splitlines() or [""]
    text = lines[0] + (" ..." if len(lines) > 1 else "")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return redact(text)


def describe_exit(exit_code: int) -> str:
    """``exited 3`` or ``was killed by SIGKILL``."""
    if exit_code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-exit_code).name}"
        return f"was killed by signal {-exit_code}"
    return f"exited {exit_code}"


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: exit code (negative: killed by that signal), last lines, time."""

    argv: tuple[str, ...]
    exit_code: int
    tail: tuple[str, ...]
    timed_out: bool
    duration: float

    @property
    def ok(self) -> bool:
        """True when the command exited 0 within its timeout."""
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class ProcessResult:
    """What a finished (or killed) command left behind, with every output line."""

    argv: tuple[str, ...]
    returncode: int
    lines: tuple[str, ...]
    seconds: float
    timed_out: bool


def _pump(stream: object, sink: queue.Queue[object]) -> None:
    try:
        for raw in iter(lambda: stream.readline(_MAX_LINE), b""):  # type: ignore[attr-defined]
            text = strip_ansi(raw.decode("utf-8", errors="replace")).rstrip("\r\n")
            sink.put(redact(text))
    finally:
        sink.put(_EOF)


class GroupLeader(Protocol):
    """A started process that leads its own process group: a Popen or a warm-started one."""

    pid: int

    def wait(self, timeout: float | None = None) -> int:
        ...


def kill_group(process: GroupLeader, grace: float = 3.0) -> None:
    """SIGTERM the process group of `process` (started with start_new_session), then
    SIGKILL it if it is still running after `grace` seconds; reap the process."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _execute(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str],
    timeout: float | None,
    on_line: LineCallback | None,
    keep: MutableSequence[str],
) -> tuple[int, bool]:
    """Run ``argv`` to its end or its timeout; lines go to ``on_line`` and ``keep``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    process = subprocess.Popen(
        list(argv),
        cwd=Path(cwd),
        env=dict(os.environ if env is None else env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sink: queue.Queue[object] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, sink), daemon=True)
    reader.start()

    def emit(line: str) -> None:
        keep.append(line)
        if on_line is not None:
            on_line(line)

    timed_out = False
    exited_at: float | None = None
    try:
        while True:
            remaining = 0.2 if deadline is None else deadline - time.monotonic()
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
                        kill_group(process)
                        break
                continue
            if item is _EOF:
                break
            emit(str(item))
        if timed_out:
            kill_group(process)
        else:
            # Output closed: the process is exiting; still bound the wait by the deadline.
            left = None if deadline is None else max(0.1, deadline - time.monotonic())
            try:
                process.wait(timeout=left)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_group(process)
    except BaseException:
        kill_group(process)
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
            emit(str(item))
    return (process.returncode if process.returncode is not None else -9), timed_out


def run_command(
    command: str | Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    on_line: LineCallback | None = None,
    tail_lines: int = DEFAULT_TAIL_LINES,
) -> CommandResult:
    """Run ``command`` in ``cwd`` with ``env`` (None: this process's environment).

    A string runs through ``/bin/sh -c``; a sequence is an argv, never through a shell.
    After ``timeout`` seconds the process group is killed and ``timed_out`` is True. A
    program that cannot be started gives exit code 127 (missing) or 126 (not executable)
    and a line saying why, as a shell would. Never raises for the command's own failure.
    """
    argv = command_argv(command)
    tail: collections.deque[str] = collections.deque(maxlen=max(1, tail_lines))
    started = time.monotonic()
    try:
        exit_code, timed_out = _execute(
            argv, env=env, cwd=cwd, timeout=timeout, on_line=on_line, keep=tail
        )
    except OSError as error:
        if not Path(cwd).is_dir():
            raise
        exit_code = 127 if isinstance(error, FileNotFoundError) else 126
        line = redact(f"cannot run {argv[0]}: {error.strerror or error}")
        tail.append(line)
        if on_line is not None:
            on_line(line)
        timed_out = False
    return CommandResult(
        argv=tuple(argv),
        exit_code=exit_code,
        tail=tuple(tail),
        timed_out=timed_out,
        duration=time.monotonic() - started,
    )


def run_streaming(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    timeout: float,
    on_line: LineCallback | None = None,
) -> ProcessResult:
    """Run ``argv`` (never through a shell), keeping every line; kill it after ``timeout`` s."""
    lines: list[str] = []
    started = time.monotonic()
    returncode, timed_out = _execute(
        argv, env=env, cwd=cwd, timeout=timeout, on_line=on_line, keep=lines
    )
    return ProcessResult(
        argv=tuple(argv),
        returncode=returncode,
        lines=tuple(lines),
        seconds=time.monotonic() - started,
        timed_out=timed_out,
    )
