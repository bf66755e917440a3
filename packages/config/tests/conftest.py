"""Shared fixtures for the aphex-config tests; test data lives in config_cases.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_cases import CONTRACT_EXAMPLE


@pytest.fixture()
def example_file(tmp_path: Path) -> Path:
    """The contract example written to a temporary aphex-config.yaml."""
    path = tmp_path / "aphex-config.yaml"
    path.write_text(CONTRACT_EXAMPLE, encoding="utf-8")
    return path
