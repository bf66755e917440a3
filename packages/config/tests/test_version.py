"""``__version__`` matches the version the BUILD file publishes."""

from __future__ import annotations

import re
from pathlib import Path

import aphex_config

BUILD = Path(__file__).parents[1] / "BUILD"


def test_version_matches_build_file() -> None:
    assert BUILD.is_file(), f"{BUILD} is missing (it must be declared for the tests as a file)"
    match = re.search(r'version\s*=\s*"([^"]+)"', BUILD.read_text(encoding="utf-8"))
    assert match, f'no version="..." in {BUILD}'
    assert aphex_config.__version__ == match.group(1)
