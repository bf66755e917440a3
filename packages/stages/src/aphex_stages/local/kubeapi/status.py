"""How the server refuses: :class:`ApiError`, answered as a `Status` object, and the
API server's usual errors (NotFound, AlreadyExists, Conflict, BadRequest, Invalid, ...)."""

from __future__ import annotations

from typing import Any

from aphex_stages.local.kubeapi.resources import Resource


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

    def status(self) -> dict[str, Any]:
        """The `Status` body of this answer."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def details(group: str, kind: str, name: str = "") -> dict[str, Any]:
    """A `Status`'s details as the API server fills them (empty fields left out)."""
    found = {"name": name, "group": group, "kind": kind}
    return {k: v for k, v in found.items() if v}


def not_found(resource: Resource, name: str) -> ApiError:
    """404 NotFound for ``name`` of ``resource``."""
    return ApiError(
        404,
        "NotFound",
        f'{resource.qualified} "{name}" not found',
        details(resource.group, resource.plural, name),
    )


def no_route() -> ApiError:
    """404 for a path the server does not serve."""
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def already_exists(resource: Resource, name: str) -> ApiError:
    """409 AlreadyExists: a create of a taken name."""
    return ApiError(
        409,
        "AlreadyExists",
        f'{resource.qualified} "{name}" already exists',
        details(resource.group, resource.plural, name),
    )


def conflict(resource: Resource, name: str) -> ApiError:
    """409 Conflict: an update naming a stale ``resourceVersion``."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        details(resource.group, resource.plural, name),
    )


def bad_request(resource: Resource, cause: str) -> ApiError:
    """400 BadRequest: the body cannot be decoded as the resource's kind."""
    kind = resource.kind
    return ApiError(
        400,
        "BadRequest",
        f'{kind} in version "{resource.version}" cannot be handled as a {kind}: {cause}',
    )


def invalid(resource: Resource, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid, with one cause (reason, message, field) per problem."""
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    return ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {joined}',
        {**details(resource.group, resource.kind, name), "causes": causes},
    )


def field_error(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """One cause of a 422 Invalid."""
    return {"reason": reason, "message": message, "field": field}


def unauthorized() -> ApiError:
    """401 Unauthorized: no bearer token, or one the server did not issue."""
    return ApiError(401, "Unauthorized", "Unauthorized")
