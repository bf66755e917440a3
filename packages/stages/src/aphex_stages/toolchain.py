"""The app's own dependencies in the deployer: its config's ``toolchain``, installed once.

The deployer image has Python, Node.js and the CDK CLI, not the app's CDK library or test
runner. With a ``toolchain`` in its config, the environment and test stages call
:func:`prepare_toolchain` before they synthesize or test: it copies the toolchain's
``files`` from the app's tree into a toolchain folder, runs the ``install`` commands there,
then gives the app its ``path`` folders first on PATH and links its ``link`` folders into
the tree.

The folder is kept in a cache (``APHEX_TOOLCHAIN_CACHE``: a volume the pods share) under
a key made of the settings, the files' contents and the tools that install them, so the
second environment (and the next run) finds it ready. Installs of one key are serialised
by a lock, and a folder counts only once its install completed. The folder's path is the
same in every pod, so what install writes there (venv scripts, absolute links) stays valid.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aphex_config import Toolchain
from aphex_generator import EnvVar
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.process import LineCallback, describe_command, describe_exit, run_command
from aphex_stages.version import __version__

__all__ = ["PreparedToolchain", "prepare_toolchain", "toolchain_key"]

_COMPLETE = ".aphex-complete"
_PROBES = (("python3", "--version"), ("node", "--version"))


@dataclass(frozen=True)
class PreparedToolchain:
    """A toolchain ready to use: its folder, and the environment the app runs with."""

    folder: Path
    reused: bool
    environ: Mapping[str, str]


def _tool_versions(environ: Mapping[str, str]) -> dict[str, str]:
    """What installs with: the versions of the interpreters on PATH (part of the key)."""
    versions = {}
    for argv in _PROBES:
        if shutil.which(argv[0], path=environ.get("PATH")) is None:
            versions[argv[0]] = "absent"
            continue
        lines: list[str] = []
        result = run_command(
            list(argv), cwd=Path.cwd(), env=environ, timeout=30, on_line=lines.append
        )
        versions[argv[0]] = " ".join(lines).strip() if result.ok else "broken"
    return versions


def toolchain_key(toolchain: Toolchain, tree: Path, environ: Mapping[str, str]) -> str:
    """The cache key of `toolchain` for the app in `tree` (StageError if a file is missing)."""
    digest = hashlib.sha256()
    files = {}
    for name in toolchain.files:
        path = tree / name
        if not path.is_file():
            raise StageError(
                ExitCode.CONFIG_INVALID,
                f"toolchain.files: {name} is not a file of the commit; add it or remove it "
                "from aphex-config.yaml",
            )
        files[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    settings = {
        "files": files,
        "install": [cmd if isinstance(cmd, str) else list(cmd) for cmd in toolchain.install],
        "path": list(toolchain.path),
        "link": list(toolchain.link),
        "machine": platform.machine(),
        "tools": _tool_versions(environ),
        "aphex": __version__,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:32]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install(
    toolchain: Toolchain,
    tree: Path,
    folder: Path,
    environ: Mapping[str, str],
    on_line: LineCallback | None,
) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in toolchain.files:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree / name, target)
    timeout = toolchain.timeout_minutes * 60.0
    for number, command in enumerate(toolchain.install, start=1):
        result = run_command(command, cwd=folder, env=environ, timeout=timeout, on_line=on_line)
        if not result.ok:
            shutil.rmtree(folder, ignore_errors=True)
            what = f"toolchain install command {number} `{describe_command(command, 80)}`"
            if result.timed_out:
                raise StageError(
                    ExitCode.TIMEOUT,
                    f"{what} ran past toolchain.timeout_minutes ({toolchain.timeout_minutes})",
                )
            tail = result.tail[-1] if result.tail else ""
            raise StageError(
                ExitCode.COMMAND_FAILED,
                f"{what} failed ({describe_exit(result.exit_code)}): {tail}".rstrip(": "),
                details=list(result.tail),
            )
    (folder / _COMPLETE).write_text("ok\n", encoding="utf-8")


def _app_environ(toolchain: Toolchain, folder: Path, environ: Mapping[str, str]) -> dict[str, str]:
    paths = [str(folder / entry) for entry in toolchain.path]
    return {**environ, "PATH": os.pathsep.join([*paths, environ.get("PATH", "")])}


def _link(toolchain: Toolchain, folder: Path, tree: Path, log: logging.Logger) -> None:
    for entry in toolchain.link:
        source, target = folder / entry, tree / entry
        if not source.exists():
            raise StageError(
                ExitCode.COMMAND_FAILED,
                f"toolchain.link: the install made no {entry} to link into the app",
            )
        if target.exists() or target.is_symlink():
            log.warning("toolchain.link: the app already has %s; keeping its own", entry)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source, target_is_directory=source.is_dir())


def prepare_toolchain(
    toolchain: Toolchain | None,
    tree: Path,
    *,
    log: logging.Logger,
    on_line: LineCallback | None = None,
    environ: Mapping[str, str] | None = None,
    scratch: Path | None = None,
) -> PreparedToolchain | None:
    """Install (or reuse) the app's toolchain and ready `tree` for it; None without one.

    The cache is ``APHEX_TOOLCHAIN_CACHE``, else a folder under `scratch` (no reuse).
    """
    if toolchain is None:
        return None
    env = dict(os.environ if environ is None else environ)
    cache = env.get(EnvVar.TOOLCHAIN_CACHE)
    root = Path(cache) if cache else Path(tempfile.mkdtemp(prefix="toolchain-", dir=scratch))
    root.mkdir(parents=True, exist_ok=True)
    key = toolchain_key(toolchain, tree, env)
    folder = root / key
    with _locked(root / f"{key}.lock"):
        reused = (folder / _COMPLETE).is_file()
        if reused:
            log.info("toolchain %s: ready in the cache (%s)", key[:12], folder)
        else:
            log.info("toolchain %s: installing in %s ...", key[:12], folder)
            _install(toolchain, tree, folder, env, on_line)
            log.info("toolchain %s: installed", key[:12])
    _link(toolchain, folder, tree, log)
    return PreparedToolchain(folder, reused, _app_environ(toolchain, folder, env))
