"""The package version matches the distribution's declared version (packages/generator/BUILD)."""

from __future__ import annotations

import re
from pathlib import Path

import aphex_generator


def test_version_matches_the_distribution() -> None:
    build = (Path(__file__).resolve().parent.parent / "BUILD").read_text(encoding="utf-8")
    (declared,) = re.findall(r'\bversion="([^"]+)"', build)
    assert aphex_generator.__version__ == declared == "0.1.0"
