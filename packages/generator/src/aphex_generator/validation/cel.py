"""Offline evaluation of the CRD's ``x-kubernetes-validations`` CEL rules with cel-python.

The rules are evaluated at the schema node they are attached to: the document is walked
alongside the CRD schema (only along branches that lead to a rule), and each rule gets the
document value at that node as ``self``.

celpy interprets CEL by walking its parse tree, a few milliseconds per evaluation; a big
template has hundreds of rule sites. Two exact reductions keep validation fast:

* ``self.all(x, P)`` is evaluated as ``P`` once per element (what ``all`` means);
* a rule that only reads ``v.field`` members of its variable ``v`` sees a projection of
  the value holding just those fields (``has(v.f)``-only fields as ``true``), and results
  are memoised on that projection, so identical-looking tasks are evaluated once.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import celpy

from aphex_generator.problem import Problem, join_path
from aphex_generator.validation.schemas import strict_crd_schema

# celpy logs every evaluation error at INFO/WARNING; keep the library quiet.
logging.getLogger("celpy").setLevel(logging.ERROR)


_ALL = re.compile(r"^self\.all\((?P<var>[a-z]\w*),\s*(?P<body>.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Rule:
    """One compiled CEL rule and the message Kubernetes reports when it fails.

    ``program`` evaluates ``body`` with ``var`` bound; ``each`` means the rule was
    ``self.all(var, body)`` and ``body`` runs per element. ``presence``/``values``: the
    fields of ``var`` the body tests with ``has()`` only, or reads; ``projectable`` is
    False when the body uses ``var`` in any other way (then no projection, no memo).
    """

    rule: str
    message: str
    program: Any
    var: str = "self"
    each: bool = False
    presence: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()
    projectable: bool = False


def _analyse(text: str) -> tuple[str, str, bool, frozenset[str], frozenset[str], bool]:
    """Split ``self.all(v, body)`` and find which fields of the variable the body uses."""
    var, body, each = "self", text, False
    match = _ALL.match(text.strip())
    if match:
        var, body, each = match.group("var"), match.group("body"), True
    members = set(re.findall(rf"\b{var}\.(\w+)", body))
    outside = re.sub(rf"\bhas\(\s*{var}\.\w+\s*\)", "", body)
    values = set(re.findall(rf"\b{var}\.(\w+)", outside))
    bare = re.sub(rf"\b{var}\.\w+", "", outside)
    projectable = re.search(rf"\b{var}\b", bare) is None
    return var, body, each, frozenset(members - values), frozenset(values), projectable


def _compile(env: Any, text: str, message: str) -> Rule:
    var, body, each, presence, values, projectable = _analyse(text)
    program = env.program(env.compile(body))
    return Rule(text, message, program, var, each, presence, values, projectable)


@dataclass
class _Node:
    rules: list[Rule] = field(default_factory=list)
    props: dict[str, _Node] = field(default_factory=dict)
    items: _Node | None = None
    values: _Node | None = None  # additionalProperties (map values)
    kind: str | None = None  # the schema's type: rules only run on a value of that type

    def empty(self) -> bool:
        return not (self.rules or self.props or self.items or self.values)


@dataclass(frozen=True)
class RuleSet:
    """The compiled rule tree plus the rules celpy could not compile (skipped)."""

    root: _Node
    compiled: int
    skipped: tuple[str, ...]


def _build(schema: Any, env: Any, cache: dict[str, Rule | None], skipped: list[str]) -> _Node:
    node = _Node()
    if not isinstance(schema, dict):
        return node
    node.kind = schema.get("type") if isinstance(schema.get("type"), str) else None
    for spec in schema.get("x-kubernetes-validations", ()):
        text = spec["rule"]
        if text not in cache:
            try:
                cache[text] = _compile(env, text, spec.get("message", text))
            except Exception:  # celpy raises several error types for unsupported syntax
                cache[text] = None
        compiled = cache[text]
        if compiled is None:
            skipped.append(text)
        else:
            node.rules.append(compiled)
    for name, sub in schema.get("properties", {}).items():
        child = _build(sub, env, cache, skipped)
        if not child.empty():
            node.props[name] = child
    if isinstance(schema.get("items"), dict):
        child = _build(schema["items"], env, cache, skipped)
        node.items = None if child.empty() else child
    if isinstance(schema.get("additionalProperties"), dict):
        child = _build(schema["additionalProperties"], env, cache, skipped)
        node.values = None if child.empty() else child
    return node


@lru_cache(maxsize=1)
def crd_rules() -> RuleSet:
    """Compile every CEL rule of the CRD once per process."""
    env = celpy.Environment()
    cache: dict[str, Rule | None] = {}
    skipped: list[str] = []
    root = _build(strict_crd_schema(), env, cache, skipped)
    compiled = sum(1 for rule in cache.values() if rule is not None)
    return RuleSet(root, compiled, tuple(sorted(set(skipped))))


_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


_MEMO: dict[tuple[str, str], str | None] = {}
_MEMO_LIMIT = 50_000


def clear_memo() -> None:
    """Forget memoised rule results (benchmarks use it to measure cold runs)."""
    _MEMO.clear()


def _run(rule: Rule, value: Any) -> str | None:
    """Evaluate ``rule``'s body with its variable bound to ``value``: None, or an error."""
    key: tuple[str, str] | None = None
    if rule.projectable and isinstance(value, dict):
        value = {k: True for k in rule.presence if k in value} | {
            k: value[k] for k in rule.values if k in value
        }
        key = (rule.rule, json.dumps(value, sort_keys=True, default=str))
        if key in _MEMO:
            return _MEMO[key]
    try:
        result = rule.program.evaluate({rule.var: celpy.json_to_cel(value)})
        failure = (
            f"{rule.message} (rule error: {result})"
            if isinstance(result, Exception)
            else (None if bool(result) else rule.message)
        )
    except Exception as exc:  # a runtime error fails validation in Kubernetes too
        failure = f"{rule.message} (rule error: {exc})"
    if key is not None and len(_MEMO) < _MEMO_LIMIT:
        _MEMO[key] = failure
    return failure


def _evaluate(rule: Rule, value: Any) -> str | None:
    if not rule.each:
        return _run(rule, value)
    if not isinstance(value, list):
        return f"{rule.message} (rule error: all() needs a list)"
    for element in value:
        failure = _run(rule, element)
        if failure is not None:
            return failure
    return None


def _walk(node: _Node, value: Any, path: str, out: list[Problem]) -> None:
    if node.kind is not None and not isinstance(value, _PY_TYPES.get(node.kind, object)):
        return  # a type error: the schema layers report it, CEL would only add noise
    for rule in node.rules:
        failure = _evaluate(rule, value)
        if failure is not None:
            out.append(Problem(path, failure, "cel"))
    if isinstance(value, dict):
        for key, child in node.props.items():
            if key in value and value[key] is not None:
                _walk(child, value[key], join_path(path, key), out)
        if node.values is not None:
            for key in sorted(value):
                _walk(node.values, value[key], join_path(path, key), out)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            _walk(node.items, item, join_path(path, index), out)


def check_cel(doc: Any, base: str = "") -> list[Problem]:
    """Evaluate the CRD's CEL rules against a WorkflowTemplate-shaped document."""
    out: list[Problem] = []
    _walk(crd_rules().root, doc, base, out)
    return out
