"""The configuration reference (``docs/config-reference.md``), rendered from the JSON Schema.

Every field of ``aphex-config.yaml`` gets its path (``environments[].tests.timeout_minutes``),
type, whether it is required, its default, its constraints, its description and an example,
all read from :func:`aphex_config.json_schema`: the reference cannot say what the schema
does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from .fields import _SAFE_COMMAND_PATTERN, _SAFE_PATTERN
from .schema import json_schema

#: The one command that rewrites the committed reference.
REGENERATE = (
    "PYTHONPATH=packages/config/src python3 -m aphex_config reference > docs/config-reference.md"
)

_CROSS_FIELD_RULES = (
    "environment names are unique, and stack names are unique within an environment;",
    "`depends_on` names environments of the file, without cycles;",
    "`role_arn`, when given, is a role in the environment's own `account`.",
)


@dataclass(frozen=True)
class SchemaField:
    """One field of the file: where it is and its schema (references resolved)."""

    path: str
    schema: dict[str, Any]  # null alternative and references resolved away
    required: bool
    nullable: bool  # an explicit null is accepted
    within: str | None  # the nearest optional object it sits in, if any


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` replaced by its definition (the field's own keys win)."""
    if "$ref" not in node:
        return node
    target = defs[node["$ref"].rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _split_null(node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the non-null alternative, whether null is accepted) of ``X | None``."""
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        (core,) = (o for o in options if o != {"type": "null"})
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        return {**core, **outer}, True
    return node, False


def fields(schema: dict[str, Any] | None = None) -> Iterator[SchemaField]:
    """Every field of the file, depth first in file order."""
    schema = schema if schema is not None else json_schema()
    defs = schema.get("$defs", {})

    def walk(obj: dict[str, Any], prefix: str, within: str | None) -> Iterator[SchemaField]:
        required = set(obj.get("required", ()))
        for name, raw in obj.get("properties", {}).items():
            path = f"{prefix}{name}"
            node, nullable = _split_null(_resolve(raw, defs))
            node = _resolve(node, defs)
            yield SchemaField(path, node, name in required, nullable, within)
            inner = within if name in required else (within or path)
            if node.get("type") == "object" and "properties" in node:
                yield from walk(node, f"{path}.", inner)
            items = _resolve(node.get("items", {}), defs)
            if node.get("type") == "array" and "properties" in items:
                yield from walk(items, f"{path}[].", inner)

    yield from walk(schema, "", None)


def _type(node: dict[str, Any], defs: dict[str, Any] | None = None) -> str:
    node, nullable = _split_null(_resolve(node, defs or {}))
    node = _resolve(node, defs or {})
    if "anyOf" in node:
        text = " or ".join(_type(option, defs) for option in node["anyOf"])
    elif "const" in node:
        text = "integer" if isinstance(node["const"], int) else "string"
    elif node.get("type") == "array":
        text = f"list of {_plural(_type(node.get('items', {}), defs))}"
    elif node.get("type") == "object" and "properties" not in node:
        text = f"mapping of string to {_plural(_type(node.get('additionalProperties', {}), defs))}"
    else:
        text = str(node.get("type", "any"))
    return f"{text} or null" if nullable else text


def _plural(text: str) -> str:
    words = {"string": "strings", "object": "objects", "integer": "integers"}
    return words.get(text, f"({text})" if " or " in text else text)


def _range(low: Any, high: Any, unit: str) -> str | None:
    if low is not None and high is not None:
        return f"exactly {low}{unit}" if low == high else f"{low} to {high}{unit}"
    if low is not None:
        return f"at least {low}{unit}"
    if high is not None:
        return f"at most {high}{unit}"
    return None


def _pattern(pattern: str) -> str:
    if pattern == _SAFE_PATTERN:
        return "no `{{`, control characters (newlines included) or invisible characters"
    if pattern == _SAFE_COMMAND_PATTERN:
        return "no `{{`, control characters (newlines and tabs allowed) or invisible characters"
    return f"matches `{pattern}`"


def constraints(node: dict[str, Any], defs: dict[str, Any] | None = None) -> list[str]:
    """The rules of one schema node in words: bounds, pattern, choices."""
    node, _ = _split_null(_resolve(node, defs or {}))
    node = _resolve(node, defs or {})
    out: list[str] = []
    if "const" in node:
        out.append(f"must be `{json.dumps(node['const'])}`")
    if "enum" in node:
        out.append("one of " + ", ".join(f"`{v}`" for v in node["enum"]))
    bounds = (
        _range(node.get("minimum"), node.get("maximum"), ""),
        _range(node.get("minLength"), node.get("maxLength"), " characters"),
        _range(node.get("minItems"), node.get("maxItems"), " items"),
        _range(node.get("minProperties"), node.get("maxProperties"), " entries"),
    )
    out.extend(b for b in bounds if b)
    if "pattern" in node:
        out.append(_pattern(node["pattern"]))
    if "propertyNames" in node:
        out.append("keys: " + "; ".join(constraints(node["propertyNames"], defs)))
    values = node.get("additionalProperties")
    if isinstance(values, dict):
        out.extend(_alternatives("values", values, defs))
    items = node.get("items")
    if isinstance(items, dict) and "properties" not in _resolve(items, defs or {}):
        out.extend(_alternatives("each item", items, defs))
    return out


def _alternatives(label: str, node: dict[str, Any], defs: dict[str, Any] | None) -> list[str]:
    options = node.get("anyOf", [node])
    parts = []
    for option in options:
        rules = constraints(option, defs)
        described = option.get("description")
        head = _type(option, defs) + (f" ({described})" if described else "")
        parts.append(head + (": " + "; ".join(rules) if rules else ""))
    if len(parts) == 1 and not constraints(options[0], defs):
        return []
    return [f"{label}: " + " — or — ".join(parts)]


def _ordered(value: Any, node: dict[str, Any], defs: dict[str, Any]) -> Any:
    """An example with its keys in the file's order (the schema keeps them sorted)."""
    node = _resolve(_split_null(_resolve(node, defs))[0], defs)
    if isinstance(value, dict) and "properties" in node:
        props = node["properties"]
        keys = sorted(value, key=lambda k: list(props).index(k) if k in props else len(props))
        return {k: _ordered(value[k], props.get(k, {}), defs) for k in keys}
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_ordered(item, node["items"], defs) for item in value]
    return value


def _yaml(value: Any) -> str:
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=88)
    return str(text).rstrip("\n")


def _anchor(text: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _default(field: SchemaField) -> str:
    if "default" not in field.schema:
        return "—"
    return f"`{json.dumps(field.schema['default'])}`"


def _type_of(field: SchemaField, defs: dict[str, Any]) -> str:
    text = _type(field.schema, defs)
    return f"{text} or null" if field.nullable else text


def _required(field: SchemaField) -> str:
    if not field.required:
        return "no"
    return f"yes, when `{field.within}` is given" if field.within else "yes"


def _section(field: SchemaField, defs: dict[str, Any]) -> list[str]:
    node = field.schema
    lines = [f"### `{field.path}`", ""]
    if node.get("description"):
        lines += [str(node["description"]), ""]
    lines += [
        f"- **Type:** {_type_of(field, defs)}",
        f"- **Required:** {_required(field)}",
        f"- **Default:** {_default(field)}",
    ]
    rules = constraints(node, defs)
    if rules:
        lines.append("- **Constraints:** " + "; ".join(rules))
    examples = node.get("examples")
    if examples:
        key = field.path.rsplit(".", 1)[-1]
        lines += ["- **Example:**", "", "  ```yaml"]
        value = _ordered(examples[0], node, defs)
        lines += [f"  {line}" for line in _yaml({key: value}).splitlines()]
        lines += ["  ```"]
    return [*lines, ""]


def render_reference() -> str:
    """The Markdown reference of every field of ``aphex-config.yaml``."""
    schema = json_schema()
    defs = schema.get("$defs", {})
    every = list(fields(schema))
    example = {
        name: _ordered(node["examples"][0], node, defs)
        for name, node in schema["properties"].items()
        if name in schema.get("required", ()) and node.get("examples")
    }
    lines = [
        "# `aphex-config.yaml` reference",
        "",
        "<!-- Generated from aphex-config's JSON Schema: do not edit. Regenerate with",
        f"     {REGENERATE} -->",
        "",
        str(schema["description"]),
        "",
        "Every field below is read from aphex-config's JSON Schema",
        "(`packages/config/schema/aphex-config.schema.json`, printed by `aphex-config schema`);",
        "`aphex-config reference` prints this page. Unknown keys are errors at every level, and",
        "a field whose default is `null` also accepts an explicit `null`.",
        "",
        "A minimal file:",
        "",
        "```yaml",
        _yaml(example),
        "```",
        "",
        "The schema checks shapes, patterns and bounds. `aphex-config validate` also checks",
        "the rules across fields:",
        "",
        *[f"- {rule}" for rule in _CROSS_FIELD_RULES],
        "",
        "## Fields",
        "",
        "| path | type | required | default |",
        "|---|---|---|---|",
    ]
    for field in every:
        link = f"[`{field.path}`](#{_anchor(field.path)})"
        row = (link, _type_of(field, defs), _required(field), _default(field))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Details", ""]
    for field in every:
        lines += _section(field, defs)
    return "\n".join(lines).rstrip("\n") + "\n"
