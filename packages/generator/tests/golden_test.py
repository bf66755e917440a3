"""Rendered YAML is compared byte for byte with tests/golden (APHEX_UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

import os

import pytest
from generator_cases import GOLDEN, SETTINGS, sample

from aphex_generator import (
    dump_yaml,
    dump_yaml_all,
    render_events,
    render_workflow_template,
    validate,
)

UPDATE = os.environ.get("APHEX_UPDATE_GOLDEN") == "1"


def _compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with APHEX_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file (APHEX_UPDATE_GOLDEN=1 rewrites)"


@pytest.mark.parametrize("name", ["linear", "waves", "approval"])
def test_workflow_template_matches_golden(name: str) -> None:
    doc = render_workflow_template(sample(name), SETTINGS)
    assert validate(doc) == []
    _compare(f"{name}.workflowtemplate.yaml", dump_yaml(doc))


def test_events_match_golden() -> None:
    docs = render_events(sample("waves"), SETTINGS)
    assert [p for doc in docs for p in validate(doc)] == []
    _compare("waves.events.yaml", dump_yaml_all(docs))


def test_rendering_twice_gives_identical_bytes() -> None:
    first = dump_yaml(render_workflow_template(sample("waves"), SETTINGS))
    second = dump_yaml(render_workflow_template(sample("waves"), SETTINGS))
    assert first == second
