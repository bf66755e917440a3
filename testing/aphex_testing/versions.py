"""A distribution's one version source, as the ``aphex_version`` Pants plugin reads it.

Each package's version is written once, as ``__version__`` in
``packages/<name>/src/aphex_<name>/version.py``; the plugin (pants-plugins/aphex_version)
fills in the ``python_artifact``'s ``version`` from it, and the BUILD file sets none. The
version tests check both with the plugin's own parser (loaded from its file: it runs inside
Pants, not in the packages' resolve). Their targets need ``packages/<name>:build_file`` and
``pants-plugins/aphex_version:version_file``.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

PARSER = Path("pants-plugins") / "aphex_version" / "version_file.py"


def _parser(repo_root: Path) -> ModuleType:
    path = repo_root / PARSER
    spec = importlib.util.spec_from_file_location("aphex_version_file", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"{path}: the plugin's parser is not in the sandbox")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def published_version(package_dir: Path) -> str:
    """The version the plugin gives the distribution in `package_dir` (packages/<name>)."""
    path = package_dir / "src" / f"aphex_{package_dir.name}" / "version.py"
    parser = _parser(package_dir.parents[1])
    version: str = parser.read_version(path.read_text(encoding="utf-8"), str(path))
    return version


def build_file_versions(build_file: Path) -> list[str]:
    """Every ``version=`` keyword in `build_file` (its python_artifact must have none)."""
    tree = ast.parse(build_file.read_text(encoding="utf-8"), filename=str(build_file))
    return [
        ast.unparse(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "version"
    ]
