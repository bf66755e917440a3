"""Field types with the file's rules and human-readable messages.

Each type is an ``Annotated`` metadata object that supplies its own pydantic core schema
(so every message is ours, e.g. ``must be exactly 12 digits, got '12345'``) and its own
JSON Schema (so editors see the same patterns and bounds).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    Tag,
)
from pydantic.json_schema import JsonSchemaValue

# Only pydantic's public API is used: each type below builds its core schema through the
# handler from ``Annotated`` validators, and raises ValueError with the whole message.
CoreSchema = Any  # pydantic_core.CoreSchema, kept opaque

DEFAULT_MAX_LENGTH = 1024
"""Longest string accepted anywhere except in commands."""
COMMAND_MAX_LENGTH = 4096
"""Longest command string (or argv entry) accepted."""

# Zero-width and bidirectional control characters: they make text read differently
# from what it is (names that look identical, commands that display reordered).
_INVISIBLE = (  # regex class body, kept as escapes so the JSON Schema stays readable
    r"\u00ad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
_COMMAND_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # newline and tab allowed

# The same rules as a JSON Schema (ECMA-262 and Python compatible) pattern.
_SAFE_PATTERN = r"^(?![\s\S]*\{\{)[^\u0000-\u001f\u007f-\u009f" + _INVISIBLE + r"]*$"
_SAFE_COMMAND_PATTERN = (
    r"^(?![\s\S]*\{\{)[^\u0000-\u0008\u000b-\u001f\u007f-\u009f" + _INVISIBLE + r"]*$"
)


def _error(message: str) -> ValueError:
    """The error a validator raises; the loader reports ``str(error)`` as the message."""
    return ValueError(message)


def _plain(handler: GetCoreSchemaHandler, function: Callable[[Any], Any]) -> CoreSchema:
    return handler.generate_schema(Annotated[Any, PlainValidator(function)])


class _PlainField:
    """A field type whose `validate` is the whole check (a pydantic plain validator)."""

    def validate(self, value: Any) -> Any:
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return _plain(handler, self.validate)


def describe(value: Any) -> str:
    """Describe a YAML value for an error message: kind plus a short rendering."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return "an invalid value"


def _char_name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()


def check_text(value: str, *, multiline: bool = False) -> str | None:
    """Return why ``value`` is unsafe (control, invisible or bidi characters, ``{{``), or None."""
    if "{{" in value:
        return (
            "must not contain '{{' (Argo would read it as an expression); "
            "no value in this file may contain '{{'"
        )
    bad = (_COMMAND_CONTROL_RE if multiline else _CONTROL_RE).search(value)
    if bad is not None:
        char = bad.group()
        if char == "\n":
            return "must not contain a newline (only build and test commands may span lines)"
        return f"must not contain control character {_char_name(char)} at offset {bad.start()}"
    bad = _INVISIBLE_RE.search(value)
    if bad is not None:
        return (
            f"must not contain invisible or bidirectional control character "
            f"{_char_name(bad.group())} at offset {bad.start()}"
        )
    return None


@dataclass(frozen=True)
class Text(_PlainField):
    """A string: safe characters only, bounded length, optionally a full-match pattern.

    ``rule`` completes the message when the pattern does not match, e.g.
    ``"must be exactly 12 digits"``; ``not_string`` replaces the message for non-strings.
    """

    rule: str = ""
    pattern: str | None = None
    max_length: int = DEFAULT_MAX_LENGTH
    min_length: int = 1
    multiline: bool = False
    not_string: str | None = None
    check: Callable[[str], str | None] | None = None

    def validate(self, value: Any) -> str:
        """Return ``value`` if it is an acceptable string, else raise a custom error."""
        if not isinstance(value, str):
            hint = ""
            if isinstance(value, bool | int | float) or value is None:
                hint = "; quote it if it is meant as text"
            raise _error(self.not_string or f"must be a string, got {describe(value)}{hint}")
        if len(value) < self.min_length:
            raise _error("must not be empty")
        if len(value) > self.max_length:
            raise _error(f"is {len(value)} characters long; the limit is {self.max_length}")
        problem = check_text(value, multiline=self.multiline)
        if problem is None and self.pattern is not None and not re.fullmatch(self.pattern, value):
            problem = f"{self.rule}, got {describe(value)}"
        if problem is None and self.check is not None:
            problem = self.check(value)
        if problem is not None:
            raise _error(problem)
        return value

    def json_schema(self) -> JsonSchemaValue:
        """The JSON Schema of this string type."""
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.pattern is not None:
            # Every named pattern is an ASCII class that already excludes unsafe characters.
            schema["pattern"] = f"^(?:{self.pattern})$"
        else:
            schema["pattern"] = _SAFE_COMMAND_PATTERN if self.multiline else _SAFE_PATTERN
        return schema

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.json_schema()


@dataclass(frozen=True)
class Int(_PlainField):
    """An integer (never a bool, float or quoted string) within ``low..high``."""

    low: int
    high: int
    rule: str | None = None

    def validate(self, value: Any) -> int:
        """Return ``value`` if it is an int in range, else raise a custom error."""
        rule = self.rule or f"must be a whole number from {self.low} to {self.high}"
        if isinstance(value, bool) or not isinstance(value, int):
            hint = " (remove the quotes)" if isinstance(value, str) and value.isdigit() else ""
            raise _error(f"{rule}, got {describe(value)}{hint}")
        if not self.low <= value <= self.high:
            raise _error(f"{rule}, got {value}")
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if self.low == self.high:
            return {"const": self.low}
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Flag(_PlainField):
    """A YAML boolean (``true``/``false``), never a string."""

    def validate(self, value: Any) -> bool:
        """Return ``value`` if it is a bool, else raise a custom error."""
        if not isinstance(value, bool):
            raise _error(f"must be true or false, got {describe(value)}")
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Choice(_PlainField):
    """One of a fixed set of strings."""

    choices: tuple[str, ...]

    def validate(self, value: Any) -> str:
        """Return ``value`` if it is one of the choices, else raise a custom error."""
        if isinstance(value, str) and value in self.choices:
            return value
        options = ", ".join(repr(c) for c in self.choices)
        hint = " (YAML reads unquoted yes/no/on/off as booleans)" if isinstance(value, bool) else ""
        raise _error(f"must be one of {options}, got {describe(value)}{hint}")

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class Items:
    """A list (stored as a tuple) with ``low..high`` entries; checked before the entries."""

    low: int
    high: int

    def check(self, value: Any) -> Any:
        """Check the shape and length of the list; the entries are validated afterwards."""
        if not isinstance(value, list | tuple):
            raise _error(f"must be a list, got {describe(value)}")
        if not self.low <= len(value) <= self.high:
            raise _error(f"must have {self.low} to {self.high} entries, got {len(value)}")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return handler.generate_schema(Annotated[source, BeforeValidator(self.check)])

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        result = dict(handler(schema))
        result.update({"type": "array", "minItems": self.low, "maxItems": self.high})
        return result


SHELL_COMMAND = Text(max_length=COMMAND_MAX_LENGTH, multiline=True)
ARGV_ENTRY = Text(max_length=COMMAND_MAX_LENGTH, multiline=True, min_length=0)
ARGV_ITEMS = Items(1, 256)


@dataclass(frozen=True)
class CommandSpec:
    """A command: a string run by ``/bin/sh -c``, or an argv list of strings."""

    def _argv(self, value: Any) -> Any:
        ARGV_ITEMS.check(value)
        if isinstance(value[0], str) and not value[0]:
            raise _error("the program (first argv entry) must not be empty")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def kind(value: Any) -> str | None:
            if isinstance(value, str):
                return "shell"
            if isinstance(value, list | tuple):
                return "argv"
            return None

        shell = Annotated[str, PlainValidator(SHELL_COMMAND.validate), Tag("shell")]
        entry = Annotated[str, PlainValidator(ARGV_ENTRY.validate)]
        argv = Annotated[tuple[entry, ...], BeforeValidator(self._argv), Tag("argv")]
        command = Annotated[
            Union[shell, argv],  # noqa: UP007 - runtime-built types
            Discriminator(
                kind,
                custom_error_type="aphex",
                custom_error_message="must be a command string (run by /bin/sh -c) "
                "or a list of argv strings",
            ),
        ]
        return handler.generate_schema(command)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {**SHELL_COMMAND.json_schema(), "description": "run by /bin/sh -c"},
                {
                    "type": "array",
                    "description": "an argv list, run without a shell",
                    "items": ARGV_ENTRY.json_schema(),
                    "minItems": ARGV_ITEMS.low,
                    "maxItems": ARGV_ITEMS.high,
                },
            ]
        }


CONTEXT_KEY = Text(
    rule="must start with a letter, '@' or '_' and contain only letters, digits and @_.:/-",
    pattern=r"[A-Za-z@_][A-Za-z0-9@_.:/-]{0,255}",
)
CONTEXT_TEXT = Text(min_length=0)
CONTEXT_MAX_ENTRIES = 100


def _context_value(value: Any) -> str | int | float | bool:
    if isinstance(value, str):
        return CONTEXT_TEXT.validate(value)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _error(f"must be a finite number, got {value!r}")
        return value
    raise _error(f"must be a string, number or boolean, got {describe(value)}")


def _context_shape(value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise _error(f"must be a mapping of context keys to values, got {describe(value)}")
    if len(value) > CONTEXT_MAX_ENTRIES:
        raise _error(f"must have at most {CONTEXT_MAX_ENTRIES} entries, got {len(value)}")
    return value


@dataclass(frozen=True)
class ContextSpec:
    """CDK context: a read-only mapping of safe string keys to scalar values."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        key = Annotated[str, PlainValidator(CONTEXT_KEY.validate)]
        value = Annotated[Any, PlainValidator(_context_value)]
        context = Annotated[
            dict[key, value],
            BeforeValidator(_context_shape),
            AfterValidator(MappingProxyType),
            PlainSerializer(dict),
        ]
        return handler.generate_schema(context)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "object",
            "maxProperties": CONTEXT_MAX_ENTRIES,
            "propertyNames": CONTEXT_KEY.json_schema(),
            "additionalProperties": {
                "anyOf": [
                    CONTEXT_TEXT.json_schema(),
                    {"type": "number"},
                    {"type": "boolean"},
                ]
            },
        }
