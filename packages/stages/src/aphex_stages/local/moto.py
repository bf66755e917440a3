"""Start and stop a moto server subprocess spoken to over real HTTP (local runs and tests).

The server listens on ``127.0.0.1`` but is addressed as ``http://localhost:PORT``:
moto only recognises path-style S3 URLs whose host says ``localhost``.
Its stdout and stderr go to a log file whose path is :attr:`MotoServer.log_path`;
moto's own tracebacks (the real cause behind a confusing SDK error) end up there.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = ["MotoServer", "MotoServerError", "free_port", "start_moto_server"]


class MotoServerError(RuntimeError):
    """The moto server could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """A running moto server subprocess."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    host: str = "127.0.0.1"
    _log_file: object = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """Endpoint URL for boto3 / ``AWS_ENDPOINT_URL`` (always ``localhost``)."""
        return f"http://localhost:{self.port}"

    def is_running(self) -> bool:
        """True while the subprocess is alive."""
        return self.process.poll() is None

    def reset(self) -> None:
        """Forget every resource in every account and region (``/moto-api/reset``)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def log_text(self) -> str:
        """The server's log so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (terminate, then kill) and close its log file."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        log_file = self._log_file
        if log_file is not None:
            with contextlib.suppress(OSError):
                log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_moto_server(
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
    attempts: int = 3,
) -> MotoServer:
    """Start ``python -m moto.server`` on a free port and wait until it answers.

    Raises :class:`MotoServerError` (naming the log file) if it does not come up.
    A port taken between choosing and binding is retried ``attempts`` times.
    """
    directory = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="moto-"))
    directory.mkdir(parents=True, exist_ok=True)
    last_error = "not started"
    for _ in range(max(1, attempts)):
        chosen = port if port is not None else free_port(host)
        log_path = directory / f"moto-{chosen}-{uuid.uuid4().hex[:8]}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed by MotoServer.stop
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", host, "-p", str(chosen)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own session: a Ctrl-C at the terminal must not stop AWS before the run
            # has saved its records; its owner stops it last.
            start_new_session=True,
        )
        server = MotoServer(port=chosen, process=process, log_path=log_path, host=host)
        server._log_file = log_file
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last_error = f"exited with code {process.returncode}"
                break
            # "Running on" in our own log proves that *this* process bound the port
            # (another server answering on a reused port would fool a bare probe).
            if "Running on" in server.log_text() and _answers(server.endpoint):
                atexit.register(server.stop)  # no orphan if the test run is cut short
                return server
            time.sleep(0.05)
        else:
            last_error = f"did not answer within {timeout:g}s"
        server.stop()
        if port is not None:
            break
    raise MotoServerError(f"moto server {last_error}; see its log in {directory}")
