"""Start AphexPipeline's console scripts warm: forked from a server that imported them once.

Every stage is a new process, as in a pod, and a cold Python start that imports boto3,
pydantic, GitPython and the stage costs about a second: a sizeable part of a local run's
own time. A local run therefore starts its stages from a fork server
(:mod:`multiprocessing`'s ``forkserver``) that imported every console script's module once.
Each task is still its own process, in its own session (process group), with its own
environment, working folder and log file as its stdout and stderr; only the imports are
shared. Set ``APHEX_LOCAL_WARM=0`` to start every stage as a cold process instead.

    launcher = WarmLauncher()
    process = launcher.start(BUILD.script, ["--commit", sha], env=env, cwd=run_dir,
                             log_path=run_dir / "build.log")
    code = process.wait(timeout=600)    # subprocess.TimeoutExpired, as with Popen
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from aphex_generator import STAGES
from aphex_stages.entrypoints import CONSOLE_SCRIPTS
from aphex_stages.local.commands import import_path

WARM_ENV = "APHEX_LOCAL_WARM"

#: What the fork server imports once: the modules behind the stages' console scripts,
#: botocore's data files parsed once (:mod:`aphex_stages.local.warm_botocore`) and the
#: template validators compiled once (:mod:`aphex_stages.local.warm_validators`).
PRELOAD = [
    *sorted({stage.module for stage in STAGES}),
    "aphex_stages.local.warm_botocore",
    "aphex_stages.local.warm_validators",
]


def warm_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether stages start warm (``APHEX_LOCAL_WARM`` is not ``0``/``false``/``no``)."""
    value = (os.environ if environ is None else environ).get(WARM_ENV, "1").strip().lower()
    return value not in ("0", "false", "no")


def _run_script(
    name: str, entry: str, args: Sequence[str], env: Mapping[str, str], cwd: str, log_path: str
) -> None:
    """In the forked child: become console script `name` (`module:function` `entry`), as a
    fresh process would: own session, stdio, folder, environment and argv."""
    os.setsid()  # its own process group, so a timeout or Ctrl-C kills all it started
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for fd in (1, 2):
        os.dup2(log, fd)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout, sys.stderr = _line_stream(1), _line_stream(2)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [name, *args]
    module, _, function = entry.partition(":")
    code = getattr(importlib.import_module(module), function)()
    sys.exit(int(code or 0))


def _line_stream(fd: int) -> TextIO:
    """A line-buffered text stream on `fd` (the log), as a fresh interpreter's would be."""
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)


class WarmProcess:
    """A started script: ``pid`` and ``wait(timeout)``, the parts of Popen the runner uses."""

    def __init__(self, process: Any) -> None:
        self._process = process
        self.pid: int = process.pid
        self.args = process.name

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal); TimeoutExpired as Popen does."""
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return int(code)


class WarmLauncher:
    """Starts console scripts (`scripts`: name to ``module:function``) from a fork server
    that has imported `preload`."""

    def __init__(
        self,
        preload: Sequence[str] = tuple(PRELOAD),
        scripts: Mapping[str, str] = CONSOLE_SCRIPTS,
    ) -> None:
        self.scripts = dict(scripts)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))
        self._lock = threading.Lock()
        self._ready = False

    def prepare(self) -> None:
        """Start the fork server now (it imports for about a second), not at the first task.

        The server is a new interpreter: it gets this one's sys.path as PYTHONPATH (the
        forkserver does not pass sys.path on), so it imports what this process would, from
        wheels, a pex or a source checkout. The tasks it forks get only their own env.
        """
        from multiprocessing import forkserver

        with self._lock:
            if self._ready:
                return
            saved = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = import_path()
            try:
                forkserver.ensure_running()
            finally:
                if saved is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = saved
            self._ready = True

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> WarmProcess:
        """Fork console script `name` with `args`; its stdout and stderr are appended to
        `log_path`."""
        if name not in self.scripts:
            raise KeyError(f"{name!r} is not an AphexPipeline console script")
        self.prepare()
        process = self._context.Process(
            target=_run_script,
            args=(name, self.scripts[name], list(args), dict(env), str(cwd), str(log_path)),
            name=name,
            daemon=False,
        )
        process.start()
        return WarmProcess(process)
