"""Argo's `depends` expressions, evaluated against the tasks' finished phases.

Grammar (Argo's "enhanced depends logic"): `task`, `task.Succeeded`, `task.Failed`,
`task.Errored`, `task.Skipped`, `task.Omitted`, `task.Daemoned`, combined with `&&`,
`||`, `!` and parentheses. A bare `task` means `task.Succeeded || task.Skipped ||
task.Daemoned`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||!|[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z]+)?)")
_RESULTS = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned"}
_BARE_OK = {"Succeeded", "Skipped", "Daemoned"}


class DependsError(ValueError):
    """A `depends` expression that cannot be parsed."""


def _tokens(expression: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = expression.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise DependsError(f"cannot parse depends {expression!r} at {text[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def referenced_tasks(expression: str) -> set[str]:
    """The task names an expression mentions."""
    return {t.split(".")[0] for t in _tokens(expression) if t not in ("(", ")", "&&", "||", "!")}


def evaluate(expression: str, phases: Mapping[str, str]) -> bool:
    """True if `expression` holds for `phases` (task name → its finished phase)."""
    tokens = _tokens(expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise DependsError(f"unexpected end of depends {expression!r}")
        position += 1
        return tokens[position - 1]

    def atom() -> bool:
        token = take()
        if token == "!":
            return not atom()
        if token == "(":
            value = disjunction()
            if take() != ")":
                raise DependsError(f"missing ')' in depends {expression!r}")
            return value
        name, _, result = token.partition(".")
        phase = phases.get(name)
        if not result:
            return phase in _BARE_OK
        if result not in _RESULTS:
            raise DependsError(f"unknown result {result!r} in depends {expression!r}")
        return phase == result

    def conjunction() -> bool:
        value = atom()
        while peek() == "&&":
            take()
            right = atom()
            value = value and right
        return value

    def disjunction() -> bool:
        value = conjunction()
        while peek() == "||":
            take()
            right = conjunction()
            value = value or right
        return value

    result = disjunction()
    if position != len(tokens):
        raise DependsError(f"unexpected {tokens[position]!r} in depends {expression!r}")
    return result
