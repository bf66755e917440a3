"""The configuration reference: committed copy is current, and it covers every field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from jsonschema import Draft202012Validator

from aphex_config import cli, json_schema, parse_config, render_reference
from aphex_config.reference import REGENERATE, constraints, fields

RELATIVE = Path("docs") / "config-reference.md"


def _committed() -> Path:
    """The reference: in the sandbox when Pants put it there, else under APHEX_REPO_ROOT."""
    local = Path(__file__).resolve().parents[3] / RELATIVE
    if local.is_file():
        return local
    return Path(os.environ.get("APHEX_REPO_ROOT", ".")) / RELATIVE


def test_committed_reference_is_current() -> None:
    path = _committed()
    assert path.is_file(), f"{RELATIVE} is missing; generate it with: {REGENERATE}"
    assert (
        path.read_text(encoding="utf-8") == render_reference()
    ), f"{RELATIVE} is stale; regenerate it with: {REGENERATE}"


def test_every_field_is_documented_with_description_and_example() -> None:
    text = render_reference()
    every = list(fields())
    assert len(every) >= 30
    for field in every:
        assert f"### `{field.path}`" in text
        assert field.schema.get("description"), f"{field.path} has no description"
        assert field.schema.get("examples"), f"{field.path} has no example"
    paths = {field.path for field in every}
    assert {"environments[].tests.timeout_minutes", "environments[].stacks[].name"} <= paths


def _subschema(path: str) -> dict[str, Any]:
    schema = json_schema()
    (field,) = (f for f in fields(schema) if f.path == path)
    return {"$defs": schema["$defs"], **field.schema}


@pytest.mark.parametrize("path", [f.path for f in fields()])
def test_each_example_is_valid_for_its_field(path: str) -> None:
    subschema = _subschema(path)
    for example in subschema["examples"]:
        Draft202012Validator(subschema).validate(example)


def test_the_minimal_file_of_the_reference_is_valid() -> None:
    text = render_reference()
    start = text.index("```yaml\n") + len("```yaml\n")
    minimal = text[start : text.index("```", start)]
    assert parse_config(minimal).environments[0].name == "dev"
    assert yaml.safe_load(minimal)["version"] == 1


def test_constraints_are_spelt_out() -> None:
    (timeout,) = (f for f in fields() if f.path == "environments[].tests.timeout_minutes")
    assert constraints(timeout.schema) == ["1 to 720"]
    text = render_reference()
    assert "one of `none`, `manual`" in text
    assert "- **Required:** yes, when `environments[].tests` is given" in text
    assert "- **Default:** `30`" in text


def test_reference_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reference"]) == 0
    assert capsys.readouterr().out == render_reference()
