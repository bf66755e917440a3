"""Reading a request body as the API server does: JSON with duplicate fields noted, then
structural pruning (unknown fields dropped and recorded, the CRD schema's defaults filled in)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from aphex_generator import strict_crd_schema
from aphex_testing.fake_kube.status import bad_request

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


def decode(raw: bytes, kind: str) -> tuple[dict[str, Any], list[str]]:
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
        raise bad_request(kind, f"json: {error}") from error
    if not isinstance(doc, dict):
        raise bad_request(kind, "json: cannot unmarshal into Go value of type map")
    return doc, duplicates


def _prune(value: Any, schema: Any, path: str, unknown: list[str]) -> Any:
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
                out[key] = _prune(item, props[key], child, unknown)
            elif isinstance(extra, dict):
                out[key] = _prune(item, extra, child, unknown)
            elif keep or extra is True:
                out[key] = item
            else:
                unknown.append(child)
        for key, sub in (props or {}).items():
            if key not in out and isinstance(sub, dict) and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])  # structural defaulting
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune(v, schema["items"], f"{path}[{i}]", unknown) for i, v in enumerate(value)]
    return value


def prune_document(doc: dict[str, Any], kind: str, unknown: list[str]) -> dict[str, Any]:
    """Prune like the API server: ObjectMeta by its Go type, `spec` by the CRD schema.

    A Workflow's `status` is kept as sent (the controller owns it)."""
    schema = strict_crd_schema()
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("apiVersion", "kind"):
            out[key] = value
        elif key == "metadata":
            out[key] = _prune_metadata(value, kind, unknown)
        elif key == "spec":
            out[key] = _prune(value, schema["properties"]["spec"], "spec", unknown)
        elif key == "status" and kind == "Workflow":
            out[key] = value
        else:
            unknown.append(key)
    return out


def _prune_metadata(meta: Any, kind: str, unknown: list[str]) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise bad_request(kind, "json: cannot unmarshal into Go struct field .metadata")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            raise bad_request(
                kind,
                f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{key} "
                "of type map[string]string",
            )
    kept = {k: v for k, v in meta.items() if k in _OBJECT_META}
    unknown.extend(_join("metadata", k) for k in meta if k not in _OBJECT_META)
    return kept
