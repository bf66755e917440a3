"""What `aphex init` reads of the app's folder besides its stacks: the kind of app (from
``cdk.json``'s ``app`` command and its files), its Python sources, and the git remote and
branch the pipeline should follow."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aphex_stages.init.errors import InitError

__all__ = ["Project", "inspect_project", "pipeline_name"]

PYTHON = "python"
NODE = "node"
OTHER = "other"
_SKIPPED_DIRS = frozenset({"node_modules", "cdk.out", "venv", "__pycache__", "tests", "build"})
_NODE_PROGRAMS = frozenset({"npx", "node", "ts-node", "tsx", "npm", "yarn", "pnpm"})
_GIT_TIMEOUT = 10.0
_NAME_LIMIT = 40


@dataclass(frozen=True)
class Project:
    """The app's folder as init sees it."""

    root: Path
    kind: str  # PYTHON, NODE or OTHER
    python_sources: tuple[str, ...]  # top-level .py files and packages, for the build check
    has_lock: bool  # package-lock.json next to package.json
    repository: str | None  # the git remote origin, without credentials
    branch: str | None  # the checked-out branch


def _app_command(root: Path) -> str:
    try:
        data = json.loads((root / "cdk.json").read_text("utf-8"))
    except FileNotFoundError:
        raise InitError(
            f"{root} is not a CDK app: it has no cdk.json; run aphex init in the app's folder"
        ) from None
    except (OSError, ValueError) as error:
        raise InitError(f"cannot read {root / 'cdk.json'}: {error}") from None
    app = data.get("app") if isinstance(data, dict) else None
    if not isinstance(app, str) or not app.strip():
        raise InitError(f"{root / 'cdk.json'} has no \"app\" command; add one (cdk init does)")
    return app


def _kind(root: Path, app: str) -> str:
    words = app.split()
    program = Path(words[0]).name if words else ""
    python = (root / "requirements.txt").is_file()
    node = (root / "package.json").is_file()
    if program.startswith("python"):
        return PYTHON if python else OTHER
    if program in _NODE_PROGRAMS:
        return NODE if node else OTHER
    return PYTHON if python else NODE if node else OTHER


def _python_sources(root: Path) -> tuple[str, ...]:
    sources: list[str] = []
    for entry in sorted(root.iterdir()):
        name = entry.name
        if name.startswith(".") or name in _SKIPPED_DIRS:
            continue
        module = entry.is_file() and name.endswith(".py")
        package = entry.is_dir() and not (entry / "pyvenv.cfg").exists()
        if module or (package and any(entry.glob("*.py"))):
            sources.append(name)
    return tuple(sources)


def _git(root: Path, *args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = completed.stdout.strip()
    return value if completed.returncode == 0 and value else None


def _without_credentials(url: str) -> str:
    """An http(s)/ssh URL without a user's password or token (``https://TOKEN@host/...``)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=host))
    if parts.scheme == "ssh" and parts.password is not None:
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{user}@{host}"))
    return url


def inspect_project(root: Path) -> Project:
    """Read the app's folder; InitError when it is not a CDK app."""
    app = _app_command(root)
    kind = _kind(root, app)
    remote = _git(root, "config", "--get", "remote.origin.url")
    return Project(
        root=root,
        kind=kind,
        python_sources=_python_sources(root) if kind == PYTHON else (),
        has_lock=(root / "package-lock.json").is_file(),
        repository=_without_credentials(remote) if remote else None,
        branch=_git(root, "symbolic-ref", "--quiet", "--short", "HEAD"),
    )


def pipeline_name(text: str) -> str:
    """`text` (a folder name) as a pipeline name: a DNS-1123 label of at most 40 characters."""
    clean = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return clean[:_NAME_LIMIT].strip("-") or "app"
