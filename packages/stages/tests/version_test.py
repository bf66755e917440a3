"""The version has one source, src/aphex_stages/version.py (see aphex_testing.versions)."""

from __future__ import annotations

from pathlib import Path

import aphex_stages
from aphex_testing.versions import build_file_versions, published_version

PACKAGE = Path(__file__).resolve().parents[1]


def test_build_file_sets_no_version() -> None:
    assert build_file_versions(PACKAGE / "BUILD") == []


def test_published_version_is_the_package_version() -> None:
    assert published_version(PACKAGE) == aphex_stages.__version__
