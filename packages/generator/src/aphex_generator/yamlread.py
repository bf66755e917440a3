"""Reading YAML manifests that may come from anyone, within bounds.

    docs = read_manifests("workflow.yaml")     # list of documents; ManifestReadError if not

A file is read up to :data:`MAX_BYTES` (``/dev/zero`` fails fast), nested at most
:data:`MAX_DEPTH` deep (no RecursionError), and its aliases may not expand it beyond
:data:`MAX_NODES` nodes (a 1 KB "billion laughs" is refused at once). A file without a
document is an error too: there is nothing to validate.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from yaml.nodes import (  # type: ignore[import-untyped, unused-ignore]
    MappingNode,
    Node,
    SequenceNode,
)

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "ManifestReadError",
    "ManifestUnreadable",
    "read_manifests",
]

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000


class ManifestReadError(ValueError):
    """The file cannot be read as bounded YAML; the message names the file (one line)."""


class ManifestUnreadable(ManifestReadError):
    """The file cannot be opened or read at all (missing, a folder, no permission)."""


class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
    """SafeLoader whose composition stops at MAX_DEPTH levels."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ManifestReadError(
                    f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(root: Node) -> int:
    """Nodes of the document once every alias is expanded (shared nodes counted each time,
    capped just above MAX_NODES); ManifestReadError for an alias inside itself."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            visiting.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = min(MAX_NODES + 1, total)
            continue
        if key in sizes:
            continue
        if key in visiting:
            mark = node.start_mark
            raise ManifestReadError(f"line {mark.line + 1}: an alias refers to itself")
        visiting.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_manifests(path: str) -> list[Any]:
    """Every non-empty YAML document of `path` (``-``: standard input), within the bounds."""
    text = _read(path)
    loader = _BoundedLoader(text)
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if _expanded_size(node) > MAX_NODES:
                raise ManifestReadError(
                    f"{path}: document {len(docs) + 1} expands (through its aliases) to more"
                    f" than {MAX_NODES:,} values; refusing it"
                )
            doc = loader.construct_document(node)
            if doc is not None:
                docs.append(doc)
    except ManifestReadError as error:
        message = str(error)
        raise ManifestReadError(
            message if message.startswith(path) else f"{path}: {message}"
        ) from None
    except yaml.YAMLError as error:
        raise ManifestReadError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    finally:
        loader.dispose()
    if not docs:
        raise ManifestReadError(f"{path}: no YAML document in it; nothing to validate")
    return docs


def _read(path: str) -> str:
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise ManifestUnreadable(f"{path}: cannot read: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise ManifestReadError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB; refusing it")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ManifestReadError(f"{path}: not UTF-8 (byte {error.start})") from None
