"""Read YAML into plain Python values, remembering where every value and key came from.

The YAML is composed into a node graph with PyYAML's safe resolver (on libyaml's parser
when it is available) and turned into dicts, lists and scalars here rather than by
PyYAML's constructor, so that

* every value and key keeps its 1-based line and column, indexed by field path;
* duplicate keys, non-string keys and unsupported tags are reported, not silently kept;
* alias expansion, nesting depth and node counts are bounded (billion-laughs input
  fails in milliseconds).

Problems that make the document unusable raise :class:`LoadFailure`; the others are
collected in :attr:`Document.problems` so validation can go on and report them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from yaml.composer import (  # type: ignore[import-untyped, unused-ignore]
    Composer,
    ComposerError,
)
from yaml.constructor import SafeConstructor  # type: ignore[import-untyped, unused-ignore]
from yaml.events import (  # type: ignore[import-untyped, unused-ignore]
    AliasEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import (  # type: ignore[import-untyped, unused-ignore]
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
)
from yaml.resolver import Resolver  # type: ignore[import-untyped, unused-ignore]

from .fields import describe

try:  # libyaml's parser: several times faster than the pure-Python one
    from yaml._yaml import CParser as _FastParser  # type: ignore[import-untyped, unused-ignore]

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    HAVE_LIBYAML = False

MAX_BYTES = 1024 * 1024
"""Files larger than this (1 MiB) are refused."""
MAX_NODES = 100_000
"""Limit on YAML nodes, counted both when composing and after alias expansion."""
MAX_DEPTH = 64
"""Limit on nesting depth (collections inside collections), also after alias expansion."""

FieldPath = tuple[str | int, ...]
Position = tuple[int, int]

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_TAG + t for t in ("str", "null", "bool", "int", "float"))
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
_AS_TEXT = {_TAG + "timestamp", _TAG + "value", _MERGE}  # keep the text as written


class LoadFailure(Exception):
    """The document cannot be read at all; carries one position and message."""

    def __init__(self, position: Position, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


class Invalid:
    """Placeholder for a value that was already reported as a problem."""

    def __repr__(self) -> str:
        return "<invalid>"


INVALID = Invalid()


@dataclass
class Document:
    """Plain data plus where each value (and each mapping key) was written.

    The marks are PyYAML marks (0-based); :meth:`position` and :meth:`key_position`
    give 1-based (line, column) pairs.
    """

    data: dict[str, Any]
    value_marks: dict[FieldPath, Any] = field(default_factory=dict)
    key_marks: dict[FieldPath, Any] = field(default_factory=dict)
    problems: list[tuple[FieldPath, Position, str]] = field(default_factory=list)

    def position(self, path: FieldPath) -> Position:
        """Where the value at ``path`` starts, or its nearest recorded ancestor."""
        for n in range(len(path), -1, -1):
            mark = self.value_marks.get(path[:n])
            if mark is not None:
                return _position(mark)
        return (1, 1)

    def key_position(self, path: FieldPath) -> Position:
        """Where the key of the value at ``path`` starts (the value's position if none)."""
        mark = self.key_marks.get(path)
        return _position(mark) if mark is not None else self.position(path)


def _position(mark: Any) -> Position:
    return (mark.line + 1, mark.column + 1)


class _BoundedComposer(Composer):
    """PyYAML's Composer with a leaner ``compose_node`` that bounds node count and depth.

    Same node graph as ``Composer.compose_node`` (anchors, aliases, resolved tags), minus
    path resolvers, which the safe loader does not use.
    """

    _aphex_nodes = 0
    _aphex_depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        parser: Any = self  # the parser half of the loader supplies the events
        event = parser.get_event()
        kind = type(event)
        if kind is AliasEvent:
            if event.anchor not in self.anchors:
                raise ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            node: Any = self.anchors[event.anchor]
            return node
        self._aphex_nodes += 1
        if self._aphex_nodes > MAX_NODES:
            raise LoadFailure(
                _position(event.start_mark), f"document has more than {MAX_NODES} YAML nodes"
            )
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise ComposerError(
                "found duplicate anchor",
                self.anchors[anchor].start_mark,
                f"{anchor!r} is defined again here",
                event.start_mark,
            )
        tag = event.tag
        if kind is ScalarEvent:
            if tag is None or tag == "!":
                seen = (event.value, event.implicit)
                tag = self._aphex_tags.get(seen)
                if tag is None:
                    tag = self._aphex_tags[seen] = parser.resolve(
                        ScalarNode, event.value, event.implicit
                    )
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            if anchor is not None:
                self.anchors[anchor] = node
            return node
        self._aphex_depth += 1
        if self._aphex_depth > MAX_DEPTH:
            raise LoadFailure(
                _position(event.start_mark),
                f"document is nested more than {MAX_DEPTH} levels deep",
            )
        items: list[Any] = []
        if kind is SequenceStartEvent:
            node = SequenceNode(
                _SEQ if tag is None or tag == "!" else tag,
                items,
                event.start_mark,
                None,
                event.flow_style,
            )
            if anchor is not None:
                self.anchors[anchor] = node
            while not parser.check_event(SequenceEndEvent):
                items.append(self.compose_node(node, len(items)))
        else:  # MappingStartEvent: the parser allows nothing else here
            node = MappingNode(
                _MAP if tag is None or tag == "!" else tag,
                items,
                event.start_mark,
                None,
                event.flow_style,
            )
            if anchor is not None:
                self.anchors[anchor] = node
            while not parser.check_event(MappingEndEvent):
                key_node = self.compose_node(node, None)
                items.append((key_node, self.compose_node(node, key_node)))
        node.end_mark = parser.get_event().end_mark
        self._aphex_depth -= 1
        return node

    @property
    def _aphex_tags(self) -> dict[tuple[str, Any], str]:
        cache: dict[tuple[str, Any], str] | None = self.__dict__.get("_aphex_tag_cache")
        if cache is None:
            cache = self.__dict__["_aphex_tag_cache"] = {}
        return cache


if HAVE_LIBYAML:

    class _Loader(_BoundedComposer, _FastParser, Resolver):  # type: ignore[misc, unused-ignore]
        """libyaml events, Python composition with the safe resolver."""

        def __init__(self, stream: str) -> None:
            _FastParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)

else:  # pragma: no cover

    class _Loader(_BoundedComposer, yaml.SafeLoader):  # type: ignore[no-redef, misc, unused-ignore]
        """Pure-Python SafeLoader with bounded composition."""


def decode(raw: bytes) -> str:
    """Check size and encoding of ``raw`` and return its text (a leading BOM dropped)."""
    if len(raw) > MAX_BYTES:
        raise LoadFailure(
            (1, 1), f"file is {len(raw)} bytes; the limit is 1 MiB ({MAX_BYTES} bytes)"
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise LoadFailure(
            _byte_position(raw, nul), "contains a NUL byte; this does not look like a text file"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadFailure(
            _byte_position(raw, exc.start),
            f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8",
        ) from None


def _byte_position(raw: bytes, offset: int) -> Position:
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return (before.count(b"\n") + 1, column)


def load(text: str) -> Document:
    """Compose ``text`` and build a :class:`Document`; raise :class:`LoadFailure` if unusable."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = _position(mark) if mark is not None else (1, 1)
        raise LoadFailure(position, "invalid YAML: " + _yaml_message(exc)) from None
    except yaml.YAMLError as exc:
        raise _reader_failure(exc, text) from None
    finally:
        loader.dispose()
    if root is None:
        raise LoadFailure(
            (1, 1), "file is empty; expected a mapping with version, pipeline, build, environments"
        )
    if not isinstance(root, MappingNode) or root.tag != _MAP:
        raise LoadFailure(
            _position(root.start_mark),
            f"the document root must be a mapping of settings, got {_node_kind(root)}",
        )
    builder = _Builder()
    data = builder.build(root, (), 0)
    assert isinstance(data, dict)
    return Document(data, builder.value_marks, builder.key_marks, builder.problems)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return " ".join(parts).replace("\n", " ") or "syntax error"


def _reader_failure(exc: Exception, text: str) -> LoadFailure:
    """A reader error (a character YAML does not allow), positioned and on one line."""
    offset, char = getattr(exc, "position", None), getattr(exc, "character", None)
    reason = getattr(exc, "reason", None) or "not allowed"
    position: Position = (1, 1)
    if isinstance(char, int) and isinstance(offset, int):  # libyaml: a byte offset
        char = chr(char)
        raw = text.encode("utf-8")
        position = _byte_position(raw, min(offset, len(raw)))
    elif isinstance(offset, int):  # the pure-Python reader: a character offset
        before = text[:offset]
        position = (before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)
    if isinstance(char, str) and len(char) == 1:
        return LoadFailure(
            position, f"invalid YAML: character U+{ord(char):04X} is not allowed ({reason})"
        )
    return LoadFailure(position, "invalid YAML: " + " ".join(str(exc).split()))


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping" if node.tag == _MAP else f"a {node.tag} mapping"
    if isinstance(node, SequenceNode):
        return "a list" if node.tag == _SEQ else f"a {node.tag} list"
    names = {_STR: "a string", _NULL: "null", _BOOL: "a boolean", _INT: "a number"}
    return names.get(node.tag, "a number" if node.tag == _FLOAT else "a scalar")


class _Builder:
    """Turns a node graph into plain values, expanding aliases within the limits."""

    def __init__(self) -> None:
        self.value_marks: dict[FieldPath, Any] = {}
        self.key_marks: dict[FieldPath, Any] = {}
        self.problems: list[tuple[FieldPath, Position, str]] = []
        self._count = 0
        self._active: set[int] = set()
        self._scalars = SafeConstructor()

    def build(self, node: Node, path: FieldPath, depth: int) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            # Point at the top-level entry that blew up, not deep inside an anchor.
            where = self.value_marks.get(path[:1], node.start_mark)
            raise LoadFailure(
                _position(where),
                f"aliases expand to more than {MAX_NODES} YAML nodes (an alias bomb?)",
            )
        if depth > MAX_DEPTH:
            raise LoadFailure(
                _position(node.start_mark),
                f"document is nested more than {MAX_DEPTH} levels deep (after expanding aliases)",
            )
        self.value_marks[path] = node.start_mark
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            raise LoadFailure(_position(node.start_mark), "an alias refers to itself (recursion)")
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode) and node.tag == _SEQ:
                return [
                    self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode) and node.tag == _MAP:
                return self._mapping(node, path, depth)
            self._problem(path, node, f"unsupported YAML tag {node.tag!r}; use plain values")
            return INVALID
        finally:
            self._active.discard(id(node))

    def _problem(self, path: FieldPath, node: Node, message: str) -> None:
        self.problems.append((path, _position(node.start_mark), message))

    def _scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        tag = node.tag
        try:
            if tag == _STR or tag in _AS_TEXT:
                return node.value
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return self._scalars.construct_yaml_bool(node)
            if tag == _INT:
                return self._scalars.construct_yaml_int(node)
            if tag == _FLOAT:
                return self._scalars.construct_yaml_float(node)
        except (ValueError, OverflowError):
            self._problem(path, node, f"cannot read {node.value[:40]!r} as a number")
            return INVALID
        self._problem(path, node, f"unsupported YAML tag {tag!r}; use plain values")
        return INVALID

    def _mapping(self, node: MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                merged.extend(self._merge_pairs(value_node, path, 0))
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in explicit:
                line, column = _position(explicit[key])
                self._problem(
                    (*path, key),
                    key_node,
                    f"duplicate key {describe(key)} (first at line {line}, column {column})",
                )
                continue
            explicit[key] = key_node.start_mark
            self.key_marks[(*path, key)] = key_node.start_mark
            result[key] = self.build(value_node, (*path, key), depth + 1)
        for key_node, value_node in merged:
            key = self._key(key_node, path)
            if key is None or key in result:
                continue
            self.key_marks[(*path, key)] = key_node.start_mark
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def _merge_pairs(self, node: Node, path: FieldPath, depth: int) -> list[tuple[Node, Node]]:
        """Flatten a ``<<`` merge value into (key, value) pairs; earlier sources win."""
        self._count += 1
        if depth > MAX_DEPTH or self._count > MAX_NODES or id(node) in self._active:
            raise LoadFailure(_position(node.start_mark), "merge keys nest too deeply or loop")
        sources = node.value if isinstance(node, SequenceNode) else [node]
        pairs: list[tuple[Node, Node]] = []
        self._active.add(id(node))
        try:
            for source in sources:
                if not isinstance(source, MappingNode) or source.tag != _MAP:
                    self._problem(path, node, "a merge key '<<' takes a mapping or a list of them")
                    continue
                own = [(k, v) for k, v in source.value if k.tag != _MERGE]
                pairs.extend(own)
                for k, v in source.value:
                    if k.tag == _MERGE:
                        pairs.extend(self._merge_pairs(v, path, depth + 1))
        finally:
            self._active.discard(id(node))
        return pairs

    def _key(self, node: Node, path: FieldPath) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(node.value)
        if isinstance(node, ScalarNode) and node.tag in (_BOOL, _NULL, _INT, _FLOAT):
            self._problem(
                path,
                node,
                f"mapping keys must be strings, got {_node_kind(node)} ({node.value!r}); "
                "quote the key",
            )
        else:
            self._problem(path, node, f"mapping keys must be strings, got {_node_kind(node)}")
        return None
