"""Deterministic YAML output: same document, same bytes."""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]


class _Dumper(yaml.SafeDumper):
    """A safe dumper that never writes anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(doc: Any) -> str:
    """Serialise one document as YAML with sorted keys, no aliases and a fixed width."""
    return yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=120,
        indent=2,
        explicit_start=False,
    )


def dump_yaml_all(docs: list[Any]) -> str:
    """Serialise several documents as one multi-document YAML stream (``---`` separated)."""
    return "---\n" + "---\n".join(dump_yaml(doc) for doc in docs)
