"""What the fake serves (Argo's group, version and the two kinds) and how it refuses:
:class:`ApiError`, answered as a `Status`, and the BadRequest and Invalid errors."""

from __future__ import annotations

from typing import Any

GROUP = "argoproj.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KINDS = {"workflowtemplates": "WorkflowTemplate", "workflows": "Workflow"}


class ApiError(Exception):
    """An error answer: HTTP code plus the `Status` fields."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


def bad_request(kind: str, cause: str) -> ApiError:
    """400 BadRequest: the body cannot be decoded as a ``kind``."""
    return ApiError(
        400,
        "BadRequest",
        f'{kind} in version "{VERSION}" cannot be handled as a {kind}: {cause}',
    )


def invalid(kind: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid, with one cause (reason, message, field) per problem."""
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind}.{GROUP} "{name}" is invalid: {joined}',
        {"name": name, "group": GROUP, "kind": kind, "causes": causes},
    )
