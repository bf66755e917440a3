"""The JSON Schema (draft 2020-12) of ``aphex-config.yaml``, generated from the models."""

from __future__ import annotations

import json
from typing import Any

from .models import AphexConfig

SCHEMA_ID = "https://aphex.io/schemas/aphex-config.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema as a dict: every object closed (``additionalProperties: false``)."""
    generated = AphexConfig.model_json_schema()
    _close_objects(generated)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        **generated,
        "title": "aphex-config.yaml",
        "description": "The AphexPipeline configuration file: pipeline topology and settings.",
    }


def schema_text() -> str:
    """Return the JSON Schema as the text committed at ``schema/aphex-config.schema.json``."""
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"


def _close_objects(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value)
