"""Load the vendored schemas and make them strict (cached once per process)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

ARGO_SCHEMA = "argo-workflows-v4.1.2.schema.json"
CRD_SCHEMA = "argo-workflows-v4.1.2.crd-full.workflowtemplates.openAPIV3Schema.json"
EVENTS_SCHEMA = "argo-events-v1.9.11.schema.json"

WF = "io.argoproj.workflow.v1alpha1."
EV = "io.argoproj.events.v1alpha1."

#: Definitions Argo decodes from a string *or* a number: loosened to string|integer|number.
_LOOSE_DEFINITIONS = (
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
)
#: Argo's ``AnyString`` fields (parameter values): (definition, property, is-array).
_ANY_STRING_FIELDS = (
    (WF + "Parameter", "value", False),
    (WF + "Parameter", "default", False),
    (WF + "Parameter", "enum", True),
    (WF + "ValueFrom", "default", False),
)
_LOOSE: dict[str, Any] = {"type": ["string", "integer", "number"]}

Schema = dict[str, Any]


def load_raw(name: str) -> Schema:
    """Return a fresh copy of a vendored schema file (package data)."""
    text = resources.files("aphex_generator.schemas").joinpath(name).read_text("utf-8")
    data: Schema = json.loads(text)
    return data


def _close_objects(node: Any) -> None:
    """Add ``additionalProperties: false`` to every schema node that lists ``properties``."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for key, value in node.items():
            if key in ("properties", "definitions", "$defs"):
                for sub in value.values():
                    _close_objects(sub)
            elif key not in ("enum", "const", "default", "required", "examples"):
                _close_objects(value)
    elif isinstance(node, list):
        for item in node:
            _close_objects(item)


#: JSON-schema keywords the vendored schemas use that jsonschema acts on; others are notes.
_KEYWORDS = frozenset(
    {
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "definitions",
        "enum",
        "items",
        "maxItems",
        "maxLength",
        "maximum",
        "minItems",
        "minLength",
        "minimum",
        "not",
        "oneOf",
        "pattern",
        "properties",
        "required",
        "type",
    }
)


def inline_refs(schema: Schema) -> Schema:
    """A copy of ``schema`` with only validation keywords and every local ``$ref`` replaced
    by the (shared, possibly cyclic) definition object itself: no resolver work at
    validation time. Keeps ``x-kubernetes-validations`` for the CEL layer."""
    defs: dict[str, Any] = {}
    source = schema.get("definitions", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            return definition(ref[len("#/definitions/") :])
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {name: walk(sub) for name, sub in value.items()}
            elif key in ("enum", "const", "required"):
                out[key] = value
            elif key != "definitions" and (key in _KEYWORDS or key == "x-kubernetes-validations"):
                out[key] = walk(value)
        return out

    def definition(name: str) -> Any:
        if name not in defs:
            defs[name] = {}
            defs[name].update(walk(source[name]))
        return defs[name]

    result: Schema = walk(schema)
    return result


def _strip_descriptions(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("description", None)
        for key, value in node.items():
            if key == "properties":
                for sub in value.values():
                    _strip_descriptions(sub)
            elif key not in ("enum", "const", "default"):
                _strip_descriptions(value)
    elif isinstance(node, list):
        for item in node:
            _strip_descriptions(item)


@lru_cache(maxsize=1)
def strict_argo_schema() -> Schema:
    """The Argo Workflows JSON schema with closed objects and loosened int/string types."""
    schema = load_raw(ARGO_SCHEMA)
    defs = schema["definitions"]
    for name in _LOOSE_DEFINITIONS:
        defs[name] = copy.deepcopy(_LOOSE)
    for definition, prop, is_array in _ANY_STRING_FIELDS:
        props = defs[definition]["properties"]
        if is_array:
            props[prop] = {**props[prop], "items": copy.deepcopy(_LOOSE)}
        else:
            props[prop] = copy.deepcopy(_LOOSE)
    _strip_descriptions(schema)
    _close_objects(schema)
    return schema


def _strictify_crd(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _strictify_crd(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("x-kubernetes-preserve-unknown-fields"):
        # Anything goes below this node: keep it open, and do not descend.
        return
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        node["additionalProperties"] = False
    for key, value in node.items():
        if key == "properties":
            for sub in value.values():
                _strictify_crd(sub)
        elif key in ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "not"):
            _strictify_crd(value)


@lru_cache(maxsize=1)
def strict_crd_schema() -> Schema:
    """The full WorkflowTemplate CRD schema, closed except under preserve-unknown-fields."""
    schema = load_raw(CRD_SCHEMA)
    _strip_descriptions(schema)
    _strictify_crd(schema)
    return schema


@lru_cache(maxsize=1)
def strict_events_schema() -> Schema:
    """The Argo Events JSON schema: closed objects, ``required`` lists dropped, loose ints."""
    schema = load_raw(EVENTS_SCHEMA)
    defs = schema["definitions"]
    for name in _LOOSE_DEFINITIONS:
        defs[name] = copy.deepcopy(_LOOSE)
    _drop_required(schema)
    _strip_descriptions(schema)
    _close_objects(schema)
    return schema


def _drop_required(node: Any) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("required"), list):
            del node["required"]
        for key, value in node.items():
            if key not in ("enum", "const", "default"):
                _drop_required(value)
    elif isinstance(node, list):
        for item in node:
            _drop_required(item)
