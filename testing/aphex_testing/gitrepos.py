"""Real git repositories for tests: made in temporary directories with the git CLI.

    work, sha = make_repo(tmp_path / "work", {"aphex-config.yaml": text, "bin/run": b"..."})
    sha2 = commit(work, {"README.md": "v2"}, delete=["bin/run"])
    remote = make_remote(tmp_path, sample_files())   # bare repo + file:// URL
    with serve_https(tmp_path / "srv", token="s3cret") as server:   # git http-backend, TLS, Basic
        url = server.publish(remote.bare)

Commits use a fixed identity and, unless told otherwise, fixed dates, so the same files
give the same SHA on every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aphex_stages.local.gitserve import GitHttpServer

__all__ = [
    "GitHttpsServer",
    "RemoteRepo",
    "commit",
    "config_yaml",
    "file_url",
    "git",
    "make_remote",
    "make_repo",
    "sample_files",
    "serve_https",
]

FileContent = str | bytes
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Aphex Test",
    "GIT_AUTHOR_EMAIL": "test@aphex.invalid",
    "GIT_COMMITTER_NAME": "Aphex Test",
    "GIT_COMMITTER_EMAIL": "test@aphex.invalid",
}
_counter = iter(range(1, 1 << 30))


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``git -C repo ARGS`` with a fixed identity and no user/system config; its stdout."""
    environ = {
        **os.environ,
        **_IDENTITY,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        **(env or {}),
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=environ, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def file_url(path: Path) -> str:
    """``file:///abs/path``."""
    return Path(path).absolute().as_uri()


def _write(repo: Path, files: Mapping[str, FileContent]) -> None:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        if name.startswith("bin/") or name.endswith(".sh"):
            path.chmod(0o755)


def commit(
    repo: Path,
    files: Mapping[str, FileContent],
    *,
    message: str | None = None,
    delete: Sequence[str] = (),
    date: str | None = None,
) -> str:
    """Write ``files`` (``bin/*`` and ``*.sh`` executable), remove ``delete``, commit; the SHA."""
    _write(repo, files)
    for name in delete:
        git(repo, "rm", "-q", "--", name)
    git(repo, "add", "-A")
    stamp = date or f"2024-01-01T00:00:{next(_counter) % 60:02d}Z"
    git(
        repo,
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        message or "test commit",
        env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
    )
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(path: Path, files: Mapping[str, FileContent]) -> tuple[Path, str]:
    """A new repository at ``path`` (branch ``main``) with one commit of ``files``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path, commit(path, files, message="initial commit")


@dataclass
class RemoteRepo:
    """A working repository and the bare repository it pushes to (served as ``file://``)."""

    work: Path
    bare: Path
    sha: str

    @property
    def url(self) -> str:
        """``file://`` URL of the bare repository."""
        return file_url(self.bare)

    def push_commit(self, files: Mapping[str, FileContent], **kwargs: Any) -> str:
        """Commit ``files`` in the working repository, push to the bare one; the SHA."""
        sha = commit(self.work, files, **kwargs)
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return sha


def make_remote(root: Path, files: Mapping[str, FileContent], name: str = "app") -> RemoteRepo:
    """``root/name`` (working) and ``root/name.git`` (bare) with one commit of ``files``."""
    work, sha = make_repo(root / name, files)
    bare = root / f"{name}.git"
    git(root, "clone", "-q", "--bare", str(work), str(bare))
    git(work, "remote", "add", "origin", str(bare))
    return RemoteRepo(work=work, bare=bare, sha=sha)


def config_yaml(
    *,
    name: str = "demo",
    repository: str = "https://example.com/acme/demo.git",
    commands: Sequence[str | Sequence[str]] = (("python3", "-c", "print('built')"),),
    artifacts: Sequence[str] | None = None,
    timeout_minutes: int = 5,
    environments: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """An ``aphex-config.yaml`` (as JSON, which is YAML) with one environment by default."""
    envs = environments or [
        {
            "name": "dev",
            "account": "111111111111",
            "region": "us-east-1",
            "stacks": [{"name": "AppStack"}],
            "context": {"stage": "dev"},
            "tests": {"commands": [["python3", "-c", "print('tested')"]]},
        }
    ]
    build: dict[str, Any] = {
        "commands": [c if isinstance(c, str) else list(c) for c in commands],
        "timeout_minutes": timeout_minutes,
    }
    if artifacts is not None:
        build["artifacts"] = list(artifacts)
    document = {
        "version": 1,
        "pipeline": {"name": name, "repository": repository},
        "build": build,
        "environments": [dict(env) for env in envs],
    }
    return json.dumps(document, indent=2) + "\n"


def sample_files(config: str | None = None, **overrides: FileContent) -> dict[str, FileContent]:
    """A small sample-like CDK app: config, ``cdk.json``, ``app.py``, a module, a script."""
    files: dict[str, FileContent] = {
        "aphex-config.yaml": config if config is not None else config_yaml(),
        "cdk.json": json.dumps({"app": "python3 app.py", "context": {}}, indent=2) + "\n",
        "app.py": "print('synth')\n",
        "src/demo/__init__.py": "VALUE = 1\n",
        "bin/build.sh": "#!/bin/sh\nmkdir -p dist\necho built > dist/out.txt\n",
        "README.md": "# demo\n",
    }
    files.update(overrides)
    return files


# -- a git smart-HTTP server over TLS, with Basic auth --------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class GitHttpsServer:
    """A git host over HTTPS on localhost (aphex_stages' git server with TLS); every request
    needs the Basic token."""

    root: Path
    ca_file: Path
    server: GitHttpServer
    authorizations: list[str] = field(default_factory=list)  # Authorization headers seen

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.server.port

    def publish(self, bare: Path, name: str | None = None) -> str:
        """Copy a bare repository under the served root; its ``https://localhost`` URL."""
        target = self.root / (name or bare.name)
        shutil.copytree(bare, target)
        return self.server.serve(target.name, target)


@contextlib.contextmanager
def serve_https(
    root: Path, *, token: str | None, username: str = "x-access-token"
) -> Iterator[GitHttpsServer]:
    """Serve bare repositories under ``root`` over HTTPS (self-signed; trust ``ca_file``)."""
    root.mkdir(parents=True, exist_ok=True)
    cert, key = _self_signed(root.parent)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen: list[str] = []
    server = GitHttpServer(
        token=token,
        username=username,
        ssl_context=context,
        on_request=lambda header: seen.append(header) if header else None,
    )
    with server:
        yield GitHttpsServer(root=root, ca_file=cert, server=server, authorizations=seen)
