"""The console-script table the local runner uses agrees with the distributions' BUILD files."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from aphex_stages.entrypoints import CONSOLE_SCRIPTS

PACKAGES = Path(__file__).resolve().parents[2]


def declared_scripts() -> dict[str, str]:
    scripts: dict[str, str] = {}
    for build in sorted(PACKAGES.glob("*/BUILD")):
        for node in ast.walk(ast.parse(build.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "entry_points":
                scripts.update(ast.literal_eval(node.value)["console_scripts"])
    return scripts


def test_table_matches_the_build_files() -> None:
    assert declared_scripts() == CONSOLE_SCRIPTS


def test_every_script_imports() -> None:
    for name, target in CONSOLE_SCRIPTS.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name
