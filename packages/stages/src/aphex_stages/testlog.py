"""What the test stage says in its log that others read back: the test variables made from
the stack outputs (``test variable NAME=value``, one line each) and the failing tests
(pytest's ``FAILED path::test`` lines), defined here once for the writer and the readers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

__all__ = [
    "VARIABLE_PREFIX",
    "failed_test",
    "failed_tests_cause",
    "variable_lines",
    "variables_in_log",
]

#: The start of each log line that names a test variable.
VARIABLE_PREFIX = "test variable "
_VARIABLE = re.compile(re.escape(VARIABLE_PREFIX) + r"([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
# pytest's short summary: `FAILED tests/x.py::test_y - AssertionError: ...` (ERROR for a
# collection or fixture error).
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S.*?)(?: - .*)?$")
#: How many failing tests a cause names before "and N more".
SHOWN_FAILURES = 5


def variable_lines(variables: Mapping[str, str]) -> list[str]:
    """One ``test variable NAME=value`` line per variable, sorted by name."""
    return [f"{VARIABLE_PREFIX}{name}={variables[name]}" for name in sorted(variables)]


def _message(line: str) -> str:
    """A log line's message: the ``message`` of a JSON log line, else the line."""
    text = line.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            return text
        if isinstance(loaded, dict):
            return str(loaded.get("message", ""))
    return text


def variables_in_log(lines: Iterable[str]) -> dict[str, str]:
    """The test variables a test stage's log lists (text or JSON log lines)."""
    found: dict[str, str] = {}
    for line in lines:
        match = _VARIABLE.search(_message(line))
        if match:
            found[match.group(1)] = match.group(2)
    return found


def failed_test(line: str) -> str | None:
    """The test a pytest ``FAILED``/``ERROR`` summary line names, else None."""
    match = _FAILED.match(line.strip())
    return match.group(1).strip() if match else None


def failed_tests_cause(names: Iterable[str]) -> str:
    """``failed tests: a::b, c::d`` (the first few, then how many more); empty for none."""
    unique = list(dict.fromkeys(names))
    if not unique:
        return ""
    shown = ", ".join(unique[:SHOWN_FAILURES])
    more = len(unique) - SHOWN_FAILURES
    return f"failed tests: {shown}" + (f" and {more} more" if more > 0 else "")
