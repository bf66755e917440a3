"""Strict JSON-schema checks: the Argo JSON schema, the WorkflowTemplate CRD, Argo Events."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from aphex_generator.problem import Layer, Problem, join_path
from aphex_generator.validation.schemas import (
    EV,
    WF,
    inline_refs,
    strict_argo_schema,
    strict_crd_schema,
    strict_events_schema,
)

_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


@cache
def argo_validator(kind: str) -> Validator:
    """A validator for one Argo Workflows kind (``Workflow``, ``WorkflowTemplate``...)."""
    schema = strict_argo_schema()
    root = {"$ref": f"#/definitions/{WF}{kind}", "definitions": schema["definitions"]}
    return Draft7Validator(inline_refs(root))


@lru_cache(maxsize=1)
def crd_validator() -> Validator:
    """A validator for the strict full WorkflowTemplate CRD (openAPIV3Schema)."""
    return Draft7Validator(inline_refs(strict_crd_schema()))


@cache
def events_validator(kind: str) -> Validator:
    """A validator for one Argo Events kind (``EventSource``, ``Sensor``, ``EventBus``)."""
    schema = strict_events_schema()
    root = {"$ref": f"#/definitions/{EV}{kind}", "definitions": schema["definitions"]}
    return Draft7Validator(inline_refs(root))


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems_from(error: ValidationError, base: str, layer: Layer) -> list[Problem]:
    path = join_path(base, *error.absolute_path)
    kw = error.validator
    inst = error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if kw == "additionalProperties" and isinstance(inst, dict):
        known = set(schema.get("properties", {}))
        return [
            Problem(join_path(path, key), f"unknown field{_suggest(key, known)}", layer)
            for key in sorted(set(inst) - known)
        ]
    if kw == "required" and isinstance(inst, dict):
        missing = [k for k in error.validator_value if k not in inst]
        return [Problem(join_path(path, k), "required field is missing", layer) for k in missing]
    if kw == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        want = " or ".join(str(n) for n in names)
        return [Problem(path, f"expected {want}, got {_type_name(inst)} {_short(inst)}", layer)]
    if kw == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return [Problem(path, f"{_short(inst)} is not one of {allowed}", layer)]
    if kw == "const":
        return [Problem(path, f"must be {error.validator_value!r}, got {_short(inst)}", layer)]
    if kw in ("anyOf", "oneOf") and error.context:
        # Report the branch that got furthest (deepest path), which is usually the real cause.
        best = max(error.context, key=lambda e: len(e.absolute_path))
        if len(best.absolute_path) > len(error.absolute_path):
            return _problems_from(best, base, layer)
        if all(e.validator == "type" for e in error.context):
            wanted = " or ".join(str(e.validator_value) for e in error.context)
            return [
                Problem(path, f"expected {wanted}, got {_type_name(inst)} {_short(inst)}", layer)
            ]
    return [Problem(path, error.message, layer)]


def check(validator: Validator, doc: Any, layer: Layer, base: str = "") -> list[Problem]:
    """Run one compiled validator and turn its errors into problems."""
    out: list[Problem] = []
    for error in validator.iter_errors(doc):
        out.extend(_problems_from(error, base, layer))
    return out
