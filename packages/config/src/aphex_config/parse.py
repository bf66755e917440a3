"""``load_config`` and ``parse_config``: YAML text to a validated :class:`AphexConfig`."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .errors import DOCUMENT, ConfigError, ConfigReadError, Problem
from .fields import describe
from .loader import INVALID, MAX_BYTES, Document, FieldPath, LoadFailure, Position, decode, load
from .models import SKIP_SEMANTIC, AphexConfig
from .semantic import check, format_path, suggest


def load_config(path: str | os.PathLike[str]) -> AphexConfig:
    """Read and validate the file at ``path``.

    Raises :class:`ConfigError` listing every problem; :class:`ConfigReadError` (a subclass)
    if the file cannot be read at all.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        problem = Problem(source, 1, 1, DOCUMENT, f"cannot read file: {reason}")
        raise ConfigReadError([problem]) from None
    return parse_config(raw, source=source)


def parse_config(text: str | bytes, source: str = "aphex-config.yaml") -> AphexConfig:
    """Validate YAML ``text`` (str, or bytes that must be UTF-8); ``source`` names it in errors.

    Raises :class:`ConfigError` listing every problem.
    """
    if isinstance(text, str):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            before = text[: exc.start]
            position = (before.count("\n") + 1, exc.start - before.rfind("\n"))
            raise _fatal(source, position, "contains a lone surrogate; not valid Unicode") from None
    else:
        raw = bytes(text)
    with _cyclic_gc_paused():
        try:
            document = load(decode(raw))
        except LoadFailure as failure:
            raise _fatal(source, failure.position, failure.message) from None
        return _validate(document, source)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one file is loaded and validated.

    Loading keeps tens of thousands of objects alive at once (nodes, marks, values), so the
    collector's full passes over them would make large files cost more than linearly
    (`bench/scale.py`); reference counting still frees everything when the load is done.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fatal(source: str, position: Position, message: str) -> ConfigError:
    return ConfigError([Problem(source, position[0], position[1], DOCUMENT, message)])


def _validate(document: Document, source: str) -> AphexConfig:
    found: list[tuple[FieldPath, Position, str]] = list(document.problems)
    config: AphexConfig | None = None
    try:
        config = AphexConfig.model_validate(document.data, context={SKIP_SEMANTIC: True})
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            located = _locate(
                document, tuple(error["loc"]), error["type"], error["msg"], error.get("ctx")
            )
            if located is not None:
                found.append(located)
    reported = {path for path, _, _ in found}
    for path, message in check(document.data):
        if not any(path[:n] in reported for n in range(1, len(path) + 1)):
            found.append((path, document.position(path), message))
    if found or config is None:
        problems = {
            Problem(source, line, column, format_path(path), message)
            for path, (line, column), message in found
        }
        raise ConfigError(sorted(problems, key=lambda p: (p.line, p.column, p.path, p.message)))
    return config


def _locate(
    document: Document, loc: tuple[Any, ...], kind: str, message: str, ctx: Any = None
) -> tuple[FieldPath, Position, str] | None:
    """Map a pydantic error location onto the input data, its position and our message."""
    value: Any = document.data
    path: FieldPath = ()
    key_error = False
    for step, part in enumerate(loc):
        if value is INVALID:
            return None  # already reported by the loader
        if _has_child(value, part):
            path, value = (*path, part), value[part]
        elif part == "[key]":
            key_error = True
        elif kind == "missing" and step == len(loc) - 1:
            return ((*path, part), document.position(path), f"required key {part!r} is missing")
        # anything else is a union tag or a function name in the location: skip it
    if value is INVALID:
        return None
    if kind == "extra_forbidden":
        known = _known_keys(path[:-1])
        key = str(path[-1])
        return (
            path,
            document.key_position(path),
            f"unknown key {describe(key)}" + suggest(key, known),
        )
    if kind == "value_error":  # our validators raise ValueError with the whole message
        error = ctx.get("error") if isinstance(ctx, dict) else None
        message = str(error) if error is not None else message.removeprefix("Value error, ")
    elif kind in ("model_type", "dict_type"):
        message = f"must be a mapping, got {describe(value)}"
    position = document.key_position(path) if key_error else document.position(path)
    return (path, position, message)


def _has_child(value: Any, part: Any) -> bool:
    if isinstance(value, dict):
        return isinstance(part, str) and part in value
    if isinstance(value, list):
        return isinstance(part, int) and 0 <= part < len(value)
    return False


def _known_keys(path: FieldPath) -> list[str]:
    """Field names of the model found at ``path`` (list indices skipped)."""
    model: type[BaseModel] | None = AphexConfig
    for part in path:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
