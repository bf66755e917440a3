"""Resolve the `{{...}}` references of a WorkflowTemplate, as Argo does for a pod."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


class UnresolvedReference(ValueError):
    """A `{{name}}` with no value in scope."""


def resolve(text: str, scope: Mapping[str, str]) -> str:
    """Replace every `{{name}}` in `text` with `scope[name]`; values are never re-read."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in scope:
            raise UnresolvedReference(f"{{{{{name}}}}} has no value")
        return scope[name]

    return _REFERENCE.sub(replace, text)


def resolve_all(value: Any, scope: Mapping[str, str]) -> Any:
    """`resolve` applied to every string inside lists and mappings."""
    if isinstance(value, str):
        return resolve(value, scope)
    if isinstance(value, list):
        return [resolve_all(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: resolve_all(item, scope) for key, item in value.items()}
    return value
