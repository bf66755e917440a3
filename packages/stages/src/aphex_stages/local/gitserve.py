"""Serve git repositories over smart HTTP, read-only, as a git host would.

A local run reaches the application repository the way a pod does: by cloning a URL
(``http://localhost:PORT/local/<name>.git``, an owner and a name as on a git host, so
what reports to the host finds both), not through a checkout on the same disk. The
server is git's own ``git http-backend`` (CGI) behind a small threaded HTTP server on
127.0.0.1; pushes are refused. With a ``token``, every request needs HTTP basic
authentication with that password (and ``username``, when one is given), as a private
repository on a git host does. With an ``ssl_context`` it speaks HTTPS.

    with serve_repository(Path("/work/app")) as server:
        server.url("local/app.git")    # http://localhost:41231/local/app.git
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import os
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["GitHttpServer", "repository_name", "serve_repository"]

#: Only what a clone or a fetch asks for; pushes (git-receive-pack) are refused.
_ALLOWED = ("/info/refs", "/git-upload-pack", "/HEAD", "/objects/")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


#: The owner of every repository a local run serves (``<owner>/<name>.git``).
LOCAL_OWNER = "local"


def repository_name(top: Path) -> str:
    """The URL path of the repository whose top folder is `top`: ``local/<folder>.git``."""
    return f"{LOCAL_OWNER}/" + (_UNSAFE.sub("-", top.name).strip("-.") or "repo") + ".git"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # no access log
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _answer(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        self.server.owner.on_request(header)
        token = self.server.owner.token
        if token is None:
            return True
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        wanted_user = self.server.owner.username
        return hmac.compare_digest(password, token) and wanted_user in (None, user)

    def _serve(self) -> None:
        path = urlsplit(self.path)
        git_dir, rest = self.server.owner.find(path.path.lstrip("/"))
        if git_dir is None or not rest.startswith(_ALLOWED) or ".." in rest:
            self._answer(404, "not found")
            return
        if not self._authorized():
            self._answer(401, "authentication required", {"WWW-Authenticate": 'Basic realm="git"'})
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            # http-backend serves <GIT_PROJECT_ROOT><PATH_INFO>: the git folder itself.
            "GIT_PROJECT_ROOT": str(git_dir.parent),
            "PATH_INFO": f"/{git_dir.name}{rest}",
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(git_dir),
            "REQUEST_METHOD": self.command,
            "QUERY_STRING": path.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": "git",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        done = subprocess.run(
            [self.server.owner.git, "http-backend"],
            input=body,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        self._relay(done.stdout)

    def _relay(self, output: bytes) -> None:
        """Send a CGI answer: its header lines, then its body."""
        separator = b"\r\n\r\n" if b"\r\n\r\n" in output else b"\n\n"
        head, _, payload = output.partition(separator)
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: GitHttpServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner


class GitHttpServer:
    """Serves the repositories in :attr:`repositories` (URL name to git folder)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        on_request: Callable[[str], None] = lambda _authorization: None,
    ) -> None:
        git = shutil.which("git")
        if git is None:
            raise FileNotFoundError("git is not on PATH")
        self.git = git
        self.token = token
        self.username = username
        self.on_request = on_request
        self.repositories: dict[str, Path] = {}
        self._server = _Server(self)
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="aphex-git-server", daemon=True
        )

    def serve(self, name: str, git_dir: Path) -> str:
        """Serve the git folder `git_dir` (a bare repository or a `.git`) as `name`; its URL."""
        self.repositories[name] = git_dir.resolve()
        return self.url(name)

    def find(self, path: str) -> tuple[Path | None, str]:
        """The git folder a request path names and the rest of the path (``/info/refs``)."""
        for name, git_dir in self.repositories.items():
            if path.startswith(name + "/"):
                return git_dir, path[len(name) :]
        return None, ""

    def url(self, name: str) -> str:
        """The clone URL of repository `name`."""
        return f"{self.scheme}://localhost:{self.port}/{name}"

    def start(self) -> GitHttpServer:
        """Start answering in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serve_repository(top: Path, *, token: str | None = None) -> Iterator[tuple[GitHttpServer, str]]:
    """Serve the repository whose top folder is `top`; yield the server and its clone URL."""
    git_dir = top / ".git" if (top / ".git").is_dir() else top
    with GitHttpServer(token=token) as server:
        yield server, server.serve(repository_name(top), git_dir)
