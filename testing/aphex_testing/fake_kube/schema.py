"""The API server's checks of a decoded document: the object name, then the pinned CRD
schema and its CEL rules, each failure a 422 Invalid with its causes."""

from __future__ import annotations

import re
from typing import Any

from aphex_generator import Problem, validate
from aphex_testing.fake_kube.status import invalid

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _cause(problem: Problem) -> dict[str, str]:
    message = problem.message
    if message == "required field is missing":
        return {"reason": "FieldValueRequired", "message": "Required value", "field": problem.path}
    if " is not one of " in message:
        return {
            "reason": "FieldValueNotSupported",
            "message": f"Unsupported value: {message}",
            "field": problem.path,
        }
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {message}",
        "field": problem.path,
    }


def check_name(kind: str, name: str) -> None:
    """422 Invalid unless ``name`` is given and a lowercase RFC 1123 subdomain."""
    if not name:
        raise invalid(
            kind,
            name,
            [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: name or generateName is required",
                    "field": "metadata.name",
                }
            ],
        )
    if len(name) > 253 or not _NAME.fullmatch(name):
        raise invalid(
            kind,
            name,
            [
                {
                    "reason": "FieldValueInvalid",
                    "message": f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                    "consist of lower case alphanumeric characters, '-' or '.'",
                    "field": "metadata.name",
                }
            ],
        )


def check_schema(doc: dict[str, Any], kind: str, name: str) -> None:
    """422 Invalid with every problem the CRD schema and its CEL rules find."""
    problems = [p for p in validate(doc) if p.layer in ("crd", "cel")]
    if problems:
        raise invalid(kind, name, [_cause(p) for p in problems])
