"""Start and stop a moto server subprocess spoken to over real HTTP (local runs and tests).

The server listens on ``127.0.0.1`` but is addressed as ``http://localhost:PORT``:
moto only recognises path-style S3 URLs whose host says ``localhost``.
Its stdout and stderr go to a log file whose path is :attr:`MotoServer.log_path`;
moto's own tracebacks (the real cause behind a confusing SDK error) end up there.

The server is ``python -m aphex_stages.local.moto_server``: moto's own server with
:mod:`aphex_stages.local.moto_iam` installed, so that IAM authorization, once switched on,
evaluates trust and permission policies as AWS does. Authorization is off by default: any
credentials work. To run every task with only its own role's permissions:

1. set up with authorization off and the fixed test credentials (``cdk bootstrap``, roles
   and their policies, buckets...);
2. :func:`ensure_local_admin` makes (or refreshes) an IAM user allowed everything and returns
   its access key;
3. :func:`set_moto_auth` ``(endpoint, True)``: from the next request on, every call is
   authenticated (unknown keys are refused) and authorized;
4. from then on use the admin key, or credentials of roles assumed with it (or with a
   session that may assume them); each session has only its role's permissions.

:meth:`MotoServer.reset` also forgets the admin user: switch authorization off first.

``start_moto_server(state_file=...)`` keeps the server's resources in that file between
servers (:mod:`aphex_stages.local.aws_state`): :meth:`MotoServer.state` says what was
restored, :meth:`MotoServer.save_state` saves (and stopping it saves what changed since).
"""

from __future__ import annotations

import atexit
import contextlib
import json
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
from typing import Any

__all__ = [
    "LOCAL_ADMIN_USER",
    "MotoServer",
    "MotoServerError",
    "child_pythonpath",
    "ensure_local_admin",
    "free_port",
    "set_moto_auth",
    "start_moto_server",
]

#: The IAM user :func:`ensure_local_admin` makes in moto's default account.
LOCAL_ADMIN_USER = "aphex-local-admin"
#: moto's default account: requests with unknown credentials land there while auth is off.
DEFAULT_ACCOUNT = "123456789012"
_ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


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

    def state(self) -> dict[str, Any]:
        """What a server with a state file restored: ``restored`` (services), ``warning``
        (why it started empty, or None)."""
        return self._state_call("GET")

    def save_state(self) -> dict[str, Any]:
        """Save a state-file server's resources now: ``status`` ("ok" or "error"), ``bytes``
        or ``error``."""
        return self._state_call("POST", "save")

    def _state_call(self, method: str, action: str = "") -> dict[str, Any]:
        from aphex_stages.local.aws_state import STATUS_PATH

        request = urllib.request.Request(
            f"{self.endpoint}{STATUS_PATH}{action}",
            data=b"" if method == "POST" else None,
            method=method,
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            body = json.loads(response.read() or b"{}")
        return body if isinstance(body, dict) else {}

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


def is_moto_server(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def child_pythonpath(base: str | None = None) -> str:
    """PYTHONPATH for a child interpreter that must import what this one imports.

    This interpreter's ``sys.path`` (a Pants/pex sandbox, a checkout's source roots, a venv
    with aphex-stages installed from a wheel), then the entries of ``base`` (default: the
    current ``PYTHONPATH``) not already listed.
    """
    base = os.environ.get("PYTHONPATH", "") if base is None else base
    entries: list[str] = []
    for entry in [*sys.path, *base.split(os.pathsep)]:
        if not entry:
            continue
        entry = os.path.abspath(entry)
        if entry not in entries:
            entries.append(entry)
    return os.pathsep.join(entries)


def set_moto_auth(endpoint: str, on: bool) -> None:
    """Switch moto's IAM authentication and authorization on or off (``/moto-api/reset-auth``).

    On: from the next request on, every call must be signed with a known access key and be
    allowed by its user's or role's policies. Off: any credentials work (moto's default).
    """
    request = urllib.request.Request(
        f"{endpoint.rstrip('/')}/moto-api/reset-auth",
        data=b"0" if on else b"inf",
        # Not form-encoded (urllib's default): moto reads the raw body, which werkzeug
        # would otherwise have consumed as a form.
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read() or b"{}")
    if body.get("status") != "ok":
        raise MotoServerError(f"moto refused reset-auth: {body}")


def ensure_local_admin(endpoint: str, region: str = "us-east-1") -> tuple[str, str]:
    """(access key id, secret) of a fresh key of IAM user :data:`LOCAL_ADMIN_USER`.

    Call with authorization off (it signs with the fixed test credentials). Creates the user
    in moto's default account if needed, with an inline policy allowing ``*`` on ``*``, deletes
    its older access keys but the newest (moto allows two, and a task may still use the last
    one) and creates a new one.
    """
    import boto3  # a runtime dependency of aphex-stages; imported lazily

    iam = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
    ).client("iam", endpoint_url=endpoint)
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=LOCAL_ADMIN_USER)
    iam.put_user_policy(
        UserName=LOCAL_ADMIN_USER, PolicyName="allow-everything", PolicyDocument=_ADMIN_POLICY
    )
    keys = iam.list_access_keys(UserName=LOCAL_ADMIN_USER)["AccessKeyMetadata"]
    keys.sort(key=lambda key: key["CreateDate"])
    for key in keys[:-1]:
        iam.delete_access_key(UserName=LOCAL_ADMIN_USER, AccessKeyId=key["AccessKeyId"])
    created = iam.create_access_key(UserName=LOCAL_ADMIN_USER)["AccessKey"]
    return str(created["AccessKeyId"]), str(created["SecretAccessKey"])


def start_moto_server(
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
    attempts: int = 3,
    state_file: Path | None = None,
) -> MotoServer:
    """Start ``python -m aphex_stages.local.moto_server`` (moto's server with the IAM shim)
    on a free port and wait until it answers. IAM authorization is off (see
    :func:`set_moto_auth`). With `state_file`, the server starts with the resources saved
    there (if it can read them) and saves them there (see :meth:`MotoServer.save_state`).

    Raises :class:`MotoServerError` (naming the log file) if it does not come up.
    A port taken between choosing and binding is retried ``attempts`` times.
    """
    directory = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="moto-"))
    directory.mkdir(parents=True, exist_ok=True)
    last_error = "not started"
    env = {**os.environ, "PYTHONPATH": child_pythonpath()}
    for _ in range(max(1, attempts)):
        chosen = port if port is not None else free_port(host)
        log_path = directory / f"moto-{chosen}-{uuid.uuid4().hex[:8]}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed by MotoServer.stop
        command = [sys.executable, "-m", "aphex_stages.local.moto_server"]
        if state_file is not None:
            command += ["--state", str(state_file)]
        process = subprocess.Popen(
            [*command, "-H", host, "-p", str(chosen)],
            stdout=log_file,
            env=env,
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
            if "Running on" in server.log_text() and is_moto_server(server.endpoint):
                atexit.register(server.stop)  # no orphan if the test run is cut short
                return server
            time.sleep(0.05)
        else:
            last_error = f"did not answer within {timeout:g}s"
        server.stop()
        if port is not None:
            break
    raise MotoServerError(f"moto server {last_error}; see its log in {directory}")
