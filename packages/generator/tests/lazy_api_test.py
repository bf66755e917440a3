"""Importing the package loads only the stage contract; the rest loads on first use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import aphex_generator

HEAVY = ("jsonschema", "celpy", "yaml", "aphex_config", "aphex_generator.workflow")


def test_import_loads_only_the_contract() -> None:
    code = (
        "import sys, aphex_generator\n"
        "from aphex_generator import STAGES, EnvVar, Label, session_name\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_every_public_name_resolves() -> None:
    for name in aphex_generator.__all__:
        assert getattr(aphex_generator, name) is not None, name
    assert set(dir(aphex_generator)) >= set(aphex_generator.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        aphex_generator.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_the_api_target_lists_every_lazily_loaded_module() -> None:
    build = Path(aphex_generator.__file__).with_name("BUILD")
    text = build.read_text(encoding="utf-8") if build.exists() else None
    if text is None:  # in Pants' sandbox the BUILD file is not a source: read it from the repo
        root = Path(os.environ.get("APHEX_REPO_ROOT", "."))
        text = (root / "packages/generator/src/aphex_generator/BUILD").read_text(encoding="utf-8")
    (listed,) = re.findall(r"LAZY_MODULES = \[([^\]]*)\]", text)
    modules = set(re.findall(r'"(\w+)"', listed)) | {"validation"}
    assert {module.split(".")[0] for module in aphex_generator._LAZY.values()} == modules
