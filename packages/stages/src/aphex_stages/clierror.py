"""How an `aphex` command reports an error: one line on stderr and, with `-o json`, the same
message as ``{"error": ...}`` on stdout, so the output is valid JSON even then."""

from __future__ import annotations

import json
import sys

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "json_error", "report_error"]

EXIT_FAILURE, EXIT_USAGE = 1, 2


def json_error(message: str, code: int = EXIT_FAILURE) -> str:
    """The ``-o json`` form of an error: ``{"error": "<one line>", "exit_code": code}``."""
    return json.dumps({"error": " ".join(message.split()), "exit_code": code})


def report_error(command: str, message: str, output: str = "text", code: int = EXIT_FAILURE) -> int:
    """Print ``aphex COMMAND: MESSAGE`` on stderr (and the JSON error for `-o json`); return
    `code`."""
    line = " ".join(message.split())
    print(f"aphex {command}: {line}", file=sys.stderr)
    if output == "json":
        print(json_error(line, code))
    return code
