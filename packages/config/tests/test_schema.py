"""The JSON Schema: committed copy is current, and it agrees with the validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from config_cases import BASE, CONTRACT_EXAMPLE, edit
from jsonschema import Draft202012Validator

from aphex_config import json_schema, schema_text

COMMITTED = Path(__file__).parents[1] / "schema" / "aphex-config.schema.json"
REGENERATE = (
    "PYTHONPATH=packages/config/src python3 -m aphex_config schema "
    "> packages/config/schema/aphex-config.schema.json"
)


def test_committed_schema_is_current() -> None:
    assert COMMITTED.is_file(), f"{COMMITTED} is missing; generate it with: {REGENERATE}"
    committed = COMMITTED.read_text(encoding="utf-8")
    assert (
        committed == schema_text()
    ), f"{COMMITTED.name} is stale; regenerate it with: {REGENERATE}"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("https://")
    assert schema["title"] == "aphex-config.yaml"
    Draft202012Validator.check_schema(schema)
    assert json.loads(schema_text()) == schema


def _objects(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_objects(value))
    return found


def test_every_object_is_closed() -> None:
    objects = _objects(json_schema())
    assert len(objects) >= 9
    for obj in objects:
        if "properties" in obj:
            assert obj["additionalProperties"] is False, obj.get("title")
        else:  # the CDK context map: open keys, but constrained names and values
            assert "propertyNames" in obj and "additionalProperties" in obj


@pytest.mark.parametrize("text", [CONTRACT_EXAMPLE, BASE], ids=["contract-example", "minimal"])
def test_valid_examples_pass_the_schema(text: str) -> None:
    Draft202012Validator(json_schema()).validate(yaml.safe_load(text))


@pytest.mark.parametrize(
    "text",
    [
        edit("environments:", "environmnets:"),
        edit('account: "111111111111"', "account: 111111111111"),
        edit('account: "111111111111"', "account: '12345'"),
        edit("region: us-east-1", "region: mars-1"),
        edit("    - make build", "    - echo {{workflow.name}}"),
        edit("  - name: dev\n", "  - name: d\u200bev\n"),
        edit("  commands:\n    - make build", "  commands: []"),
        edit("depends_on: [dev]", "depends_on: [dev]\n    approval: auto"),
        edit("version: 1", "version: 2"),
    ],
    ids=[
        "typo",
        "int-account",
        "short-account",
        "region",
        "argo",
        "zero-width",
        "no-commands",
        "approval",
        "version",
    ],
)
def test_bad_examples_fail_the_schema(text: str) -> None:
    errors = list(Draft202012Validator(json_schema()).iter_errors(yaml.safe_load(text)))
    assert errors
