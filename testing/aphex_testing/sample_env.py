"""The sample app's Python environment: ``build-support/setup-sample-env.sh`` from Python.

The script makes (once, keyed by a hash of the sample's requirements) a venv with
aws-cdk-lib, pytest and boto3 under ``~/.cache/aphex/`` and prints its path. Tests and
benches put the venv's ``bin`` first on PATH for the CDK app subprocess. A set-up helper,
not part of any published package.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = [
    "SampleEnvError",
    "find_repo_root",
    "sample_app_dir",
    "setup_sample_env",
    "venv_path_env",
]

_ROOT_PACKAGE = "aphex-pipeline-tools"
_SCRIPT = Path("build-support") / "setup-sample-env.sh"


class SampleEnvError(RuntimeError):
    """The sample environment could not be found or made (one-line cause)."""


def _is_root(directory: Path) -> bool:
    package = directory / "package.json"
    if not package.is_file() or not (directory / _SCRIPT).is_file():
        return False
    try:
        return bool(json.loads(package.read_text("utf-8")).get("name") == _ROOT_PACKAGE)
    except ValueError:
        return False


def find_repo_root(start: str | os.PathLike[str] | None = None) -> Path:
    """``APHEX_REPO_ROOT``, else the first directory above ``start`` (or the working
    directory, then this file) holding the root ``package.json`` and the setup script."""
    override = os.environ.get("APHEX_REPO_ROOT")
    if override:
        return Path(override).absolute()
    origins = [Path(start)] if start is not None else [Path.cwd(), Path(__file__).resolve()]
    for origin in origins:
        for directory in (origin.absolute(), *origin.absolute().parents):
            if _is_root(directory):
                return directory
    raise SampleEnvError("cannot find the AphexPipeline repository root; set APHEX_REPO_ROOT")


def sample_app_dir(repo_root: str | os.PathLike[str] | None = None) -> Path:
    root = Path(repo_root) if repo_root is not None else find_repo_root()
    return root / "examples" / "sample-app"


def setup_sample_env(
    repo_root: str | os.PathLike[str] | None = None,
    *,
    on_line: Callable[[str], None] | None = None,
) -> Path:
    """Run the setup script (a no-op when the venv exists) and return the venv's path.

    The script's progress lines (stderr) go to ``on_line``; on failure its last line, the
    one-line cause, is the :class:`SampleEnvError` message.
    """
    root = Path(repo_root) if repo_root is not None else find_repo_root()
    script = root / _SCRIPT
    if not script.is_file():
        raise SampleEnvError(f"missing {script}")
    process = subprocess.Popen(
        ["bash", str(script)],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None and process.stdout is not None
    last = ""
    for line in process.stderr:
        last = line.rstrip("\n") or last
        if on_line is not None:
            on_line(line.rstrip("\n"))
    stdout = process.stdout.read()
    if process.wait() != 0:
        raise SampleEnvError(last or f"{script} exited with {process.returncode}")
    lines = stdout.strip().splitlines()
    venv = Path(lines[-1]) if lines else None
    if venv is None or not (venv / "bin" / "python3").exists():
        raise SampleEnvError(f"{script} printed no usable venv path: {stdout.strip()!r}")
    return venv


def venv_path_env(venv: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``PATH`` with the venv's ``bin`` first, and ``VIRTUAL_ENV``, for a subprocess."""
    environ = os.environ if base is None else base
    return {
        "PATH": f"{venv / 'bin'}{os.pathsep}{environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
    }
