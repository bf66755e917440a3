"""Argo's `when` conditions, evaluated after their `{{...}}` references are resolved.

Argo evaluates `when` with govaluate. This is the subset a WorkflowTemplate uses: boolean
(`true`, `false`), number and quoted string literals, bare words (compared as strings),
the comparisons `==`, `!=`, `<`, `<=`, `>`, `>=`, and `&&`, `||`, `!` with parentheses.

    evaluate_when("false == false")   # True
"""

from __future__ import annotations

import re

__all__ = ["WhenError", "evaluate_when"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>==|!=|<=|>=|&&|\|\||[<>!()])
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z0-9_.:/@+-]+)
    )""",
    re.VERBOSE,
)
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")

Value = bool | float | str


class WhenError(ValueError):
    """A condition that cannot be parsed or compared."""


def _tokens(text: str) -> list[tuple[str, Value]]:
    tokens: list[tuple[str, Value]] = []
    position = 0
    stripped = text.strip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if not match or match.end() == position:
            raise WhenError(f"cannot parse when {text!r} at {stripped[position:]!r}")
        position = match.end()
        if match["op"]:
            tokens.append(("op", match["op"]))
        elif match["string"]:
            tokens.append(("value", match["string"][1:-1]))
        elif match["number"]:
            tokens.append(("value", float(match["number"])))
        else:
            word = match["word"]
            literal = {"true": True, "false": False}.get(word.lower())
            tokens.append(("value", word if literal is None else literal))
    return tokens


def _compare(left: Value, op: str, right: Value) -> bool:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if isinstance(left, float) and isinstance(right, float):
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    raise WhenError(f"{op} compares numbers, got {left!r} and {right!r}")


def evaluate_when(text: str) -> bool:
    """Whether the resolved condition `text` holds."""
    tokens = _tokens(text)
    position = 0

    def peek() -> tuple[str, Value] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, Value]:
        nonlocal position
        if position >= len(tokens):
            raise WhenError(f"unexpected end of when {text!r}")
        position += 1
        return tokens[position - 1]

    def operand() -> Value:
        kind, value = take()
        if (kind, value) == ("op", "!"):
            return not truth(operand())
        if (kind, value) == ("op", "("):
            inner = disjunction()
            if take() != ("op", ")"):
                raise WhenError(f"missing ')' in when {text!r}")
            return inner
        if kind == "op":
            raise WhenError(f"unexpected {value!r} in when {text!r}")
        return value

    def comparison() -> Value:
        left = operand()
        following = peek()
        if following is not None and following[0] == "op" and following[1] in _COMPARISONS:
            take()
            return _compare(left, str(following[1]), operand())
        return left

    def conjunction() -> Value:
        value = comparison()
        while peek() == ("op", "&&"):
            take()
            right = comparison()
            value = truth(value) and truth(right)
        return value

    def disjunction() -> Value:
        value = conjunction()
        while peek() == ("op", "||"):
            take()
            right = conjunction()
            value = truth(value) or truth(right)
        return value

    result = disjunction()
    if position != len(tokens):
        raise WhenError(f"unexpected {tokens[position][1]!r} in when {text!r}")
    return truth(result)


def truth(value: Value) -> bool:
    """A value as a condition: booleans as they are; anything else is an error."""
    if isinstance(value, bool):
        return value
    raise WhenError(f"when must be true or false, got {value!r}")
