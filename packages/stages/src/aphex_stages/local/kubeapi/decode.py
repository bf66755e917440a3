"""Reading a request body as the API server does: JSON with duplicate fields noted, then
pruning (unknown fields dropped and recorded): the Argo workflow kinds by the pinned CRD
schema (whose defaults are filled in), the others by their shape; and JSON merge patches."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from aphex_generator import strict_crd_schema
from aphex_stages.local.kubeapi.resources import Resource, Shape
from aphex_stages.local.kubeapi.status import bad_request

_OBJECT_META = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _join(base: str, key: str) -> str:
    """``base.key``, or ``base['key']`` when ``key`` is not a plain name (a field path)."""
    if not _PLAIN_KEY.fullmatch(key):
        return f"{base}[{key!r}]"
    return f"{base}.{key}" if base else key


def decode(raw: bytes, resource: Resource) -> tuple[dict[str, Any], list[str]]:
    """Parse a JSON body; return it and the duplicate fields (the last value wins)."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, ValueError) as error:
        raise bad_request(resource, f"json: {error}") from error
    if not isinstance(doc, dict):
        raise bad_request(resource, "json: cannot unmarshal into Go value of type map")
    return doc, duplicates


def _prune_schema(value: Any, schema: Any, path: str, unknown: list[str]) -> Any:
    """Drop fields the structural schema does not declare, recording their paths, and
    fill in the schema's defaults, as the API server does for custom resources."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        keep = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        out: dict[str, Any] = {}
        for key, item in value.items():
            child = _join(path, key)
            if isinstance(props, dict) and key in props:
                out[key] = _prune_schema(item, props[key], child, unknown)
            elif isinstance(extra, dict):
                out[key] = _prune_schema(item, extra, child, unknown)
            elif keep or extra is True:
                out[key] = item
            else:
                unknown.append(child)
        for key, sub in (props or {}).items():
            if key not in out and isinstance(sub, dict) and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])  # structural defaulting
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            _prune_schema(v, schema["items"], f"{path}[{i}]", unknown) for i, v in enumerate(value)
        ]
    return value


def _prune_shape(value: Any, shape: Any, path: str, unknown: list[str], resource: Resource) -> Any:
    """Drop fields a built-in type does not have, as Go's decoder does; a value of the
    wrong type (an object where a list belongs) is a 400, as it is there."""
    if shape is None or value is None:
        return value
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise bad_request(resource, f"json: cannot unmarshal {path} into a list")
        return [
            _prune_shape(v, shape[0], f"{path}[{i}]", unknown, resource)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, dict):
        raise bad_request(resource, f"json: cannot unmarshal {path} into an object")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in shape:
            out[key] = _prune_shape(item, shape[key], _join(path, key), unknown, resource)
        else:
            unknown.append(_join(path, key))
    return out


def prune_document(doc: dict[str, Any], resource: Resource, unknown: list[str]) -> dict[str, Any]:
    """Prune like the API server: ObjectMeta by its Go type, the rest by the CRD schema
    (Argo's workflow kinds) or the kind's shape. A Workflow's `status` is kept as sent
    (the controller owns it)."""
    shape: Shape = dict(resource.shape or {})
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("apiVersion", "kind"):
            out[key] = value
        elif key == "metadata":
            out[key] = _prune_metadata(value, resource, unknown)
        elif resource.crd and key == "spec":
            out[key] = _prune_schema(
                value, strict_crd_schema()["properties"]["spec"], "spec", unknown
            )
        elif resource.crd and key == "status" and resource.kind == "Workflow":
            out[key] = value
        elif key in shape:
            out[key] = _prune_shape(value, shape[key], key, unknown, resource)
        else:
            unknown.append(key)
    return out


def _prune_metadata(meta: Any, resource: Resource, unknown: list[str]) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise bad_request(resource, "json: cannot unmarshal into Go struct field .metadata")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            raise bad_request(
                resource,
                f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{key} "
                "of type map[string]string",
            )
    kept = {k: v for k, v in meta.items() if k in _OBJECT_META}
    unknown.extend(_join("metadata", k) for k in meta if k not in _OBJECT_META)
    return kept


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with the JSON merge patch ``patch`` applied (RFC 7386): objects merge,
    ``null`` removes a field, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
