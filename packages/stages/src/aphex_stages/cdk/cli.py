"""Locate the CDK CLI.

In a pod (:func:`find_cdk_cli`): the ``APHEX_CDK_CLI`` environment variable (a path to an
executable; the images set it to their pinned CLI), then
``<repo_root>/node_modules/.bin/cdk`` when a root is given, else the first
``node_modules/.bin/cdk`` found walking up from ``start`` (default: this file, then the
current directory).

On a user's machine (:func:`find_app_cdk_cli`, for `aphex run --local` and `aphex init`):
the CLI the application itself pins (``node_modules/.bin/cdk`` in its repository or
above), then ``cdk`` on PATH, then ``APHEX_CDK_CLI``, then the one next to an
AphexPipeline checkout.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from aphex_generator import EnvVar
from aphex_stages.cdk.errors import CdkCliNotFoundError

__all__ = [
    "CDK_CLI_ENV",
    "cli_package_version",
    "find_app_cdk_cli",
    "find_cdk_cli",
    "package_version",
]

CDK_CLI_ENV = EnvVar.CDK_CLI
_RELATIVE = Path("node_modules") / ".bin" / "cdk"


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _walk_up(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / _RELATIVE
        if _usable(candidate):
            return candidate
    return None


def _from_variable(env: Mapping[str, str]) -> Path | None:
    """The executable ``APHEX_CDK_CLI`` names (``None`` when unset); an error if unusable."""
    override = env.get(CDK_CLI_ENV)
    if not override:
        return None
    path = Path(override).expanduser()
    if not _usable(path):
        raise CdkCliNotFoundError(f"{CDK_CLI_ENV}={override} is not an executable file")
    return path.absolute()


def find_cdk_cli(
    repo_root: str | os.PathLike[str] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Return the path of the pinned ``cdk`` executable, or raise :class:`CdkCliNotFoundError`."""
    env = os.environ if environ is None else environ
    chosen = _from_variable(env)
    if chosen is not None:
        return chosen
    if repo_root is not None:
        path = Path(repo_root) / _RELATIVE
        if not _usable(path):
            raise CdkCliNotFoundError(
                f"no CDK CLI at {path}: run `npm ci` in {Path(repo_root)} (package.json pins aws-cdk)"
            )
        return path.absolute()
    starts = [Path(start)] if start is not None else [Path(__file__).resolve().parent, Path.cwd()]
    for origin in starts:
        found = _walk_up(origin.absolute())
        if found is not None:
            return found
    where = " or ".join(str(origin) for origin in starts)
    raise CdkCliNotFoundError(
        f"no node_modules/.bin/cdk above {where}: run `npm ci` at the repository root"
        f" or set {CDK_CLI_ENV}"
    )


def find_app_cdk_cli(
    repo: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> Path:
    """The CDK CLI for the application in `repo`: its own ``node_modules/.bin/cdk`` (in
    `repo` or a folder above), then ``cdk`` on PATH, then ``APHEX_CDK_CLI``, then the
    pinned CLI of the AphexPipeline checkout this module lies in. Raises
    :class:`CdkCliNotFoundError` saying how to install one."""
    env = os.environ if environ is None else environ
    found = _walk_up(Path(repo).absolute())
    if found is not None:
        return found
    on_path = shutil.which("cdk", path=env.get("PATH", ""))
    if on_path:
        return Path(on_path).absolute()
    chosen = _from_variable(env)
    if chosen is not None:
        return chosen
    found = _walk_up(Path(__file__).resolve().parent)
    if found is not None:
        return found
    raise CdkCliNotFoundError(
        f"no CDK CLI: none in {Path(repo).absolute()}/node_modules, none on PATH, and"
        f" {CDK_CLI_ENV} is not set; install it with `npm install --save-dev aws-cdk` in"
        " the repository (or `npm install -g aws-cdk`)"
    )


def package_version(program: str | os.PathLike[str], package: str) -> str | None:
    """The version in the package.json of npm package `package` that `program` (an
    executable, usually a symlink into the package) belongs to; ``None`` if it is not
    inside such a package. Reading it costs no node start-up."""
    for parent in Path(program).resolve().parents:
        manifest = parent / "package.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text("utf-8"))
            except (OSError, ValueError):
                return None
            if isinstance(data, dict) and data.get("name") == package:
                version = data.get("version")
                return version if isinstance(version, str) else None
            return None
    return None


def cli_package_version(cli: str | os.PathLike[str]) -> str | None:
    """The version in the ``aws-cdk`` package.json that ``cli`` belongs to (``None`` if the
    executable is not inside such a package)."""
    return package_version(cli, "aws-cdk")
