"""The four distributions' import layering, checked with import-linter (importlinter.ini).

Contracts: aphex_stages above aphex_generator above aphex_config; aphex_monitoring imports
no other aphex package and only aphex_stages imports it; across distributions only a
top-level package is imported (`from aphex_generator import X`), never a submodule.

The linter reads the sources (it never imports them) from a copy in tmp_path. grimp,
import-linter's engine, does not descend into a folder without ``__init__.py`` inside a
regular package, so every folder of a package must have one (checked here).
"""

from __future__ import annotations

import io
import shutil
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONFIG = HERE / "importlinter.ini"
DISTRIBUTIONS = ("config", "generator", "monitoring", "stages")

# What the second test adds to a copy of aphex_stages: a private cross-distribution import.
INJECTED = "from aphex_monitoring.secrets import redact  # noqa: F401  (injected by the test)\n"
INJECTED_CHAIN = "aphex_stages -> aphex_monitoring.secrets"


def stage_sources(tmp_path: Path) -> list[Path]:
    """Copy packages/<name>/src for the four distributions; return the copies' src dirs."""
    roots = []
    for name in DISTRIBUTIONS:
        source = ROOT / "packages" / name / "src"
        assert (source / f"aphex_{name}" / "__init__.py").is_file(), f"{source} is missing"
        target = tmp_path / name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        package = target / f"aphex_{name}"
        for directory in [package, *(p for p in package.rglob("*") if p.is_dir())]:
            if any(directory.rglob("*.py")):
                assert (directory / "__init__.py").is_file(), f"{directory} has no __init__.py"
        roots.append(target)
    return roots


def run_linter(roots: list[Path], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run import-linter on the packages under `roots`: its exit code and its report."""
    monkeypatch.setattr(sys, "path", [*map(str, roots), *sys.path])
    report = io.StringIO()
    with redirect_stdout(report):
        code = lint_imports(config_filename=str(CONFIG), no_cache=True, no_logo=True)
    return code, report.getvalue()


def broken_contracts(report: str) -> str:
    """The report's summary line and its broken contracts with their imports."""
    summary = [line for line in report.splitlines() if line.startswith("Contracts:")]
    _, found, broken = report.partition("Broken contracts")
    if not summary:
        return report
    return "\n".join([*summary, broken.lstrip("-\n")] if found else summary)


def test_contracts_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, report = run_linter(stage_sources(tmp_path), monkeypatch)
    if code != 0:
        pytest.fail(f"import-linter ({CONFIG.relative_to(ROOT)}):\n{broken_contracts(report)}")


def test_a_private_cross_package_import_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = stage_sources(tmp_path)
    _, before = run_linter(roots, monkeypatch)
    assert INJECTED_CHAIN not in before, before

    init = tmp_path / "stages" / "aphex_stages" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + INJECTED, encoding="utf-8")
    line = init.read_text(encoding="utf-8").splitlines().index(INJECTED.rstrip("\n")) + 1

    code, after = run_linter(roots, monkeypatch)
    print(broken_contracts(after))
    assert code != 0
    assert "aphex_stages is not allowed to import aphex_monitoring.secrets" in after, after
    assert f"{INJECTED_CHAIN} (l.{line})" in after, after
