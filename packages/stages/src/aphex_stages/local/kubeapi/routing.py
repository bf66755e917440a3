"""A request's attributes from its method, path and query, as the API server's
RequestInfo resolver derives them: verb, API group and version, resource, subresource,
namespace and name. Authorization and the verbs work on these."""

from __future__ import annotations

from dataclasses import dataclass

# Subresources of a namespace (`/api/v1/namespaces/<name>/status`), not a resource in it.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class RequestInfo:
    """What a resource request asks for; ``namespace`` is "" at the cluster scope (for a
    namespace itself it is the namespace's name, as the API server has it)."""

    verb: str
    api_group: str
    api_version: str
    resource: str
    subresource: str
    namespace: str
    name: str

    @property
    def qualified_resource(self) -> str:
        """``resource.group`` (``resource`` for the core group)."""
        return f"{self.resource}.{self.api_group}" if self.api_group else self.resource


def _verb(method: str, name: str, query: dict[str, str]) -> str:
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return _VERBS.get(method, method.lower())


def parse_request(method: str, path: str, query: dict[str, str]) -> RequestInfo | None:
    """The attributes of a resource request, or None for any other path (discovery, ...)."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    if len(rest) > 3:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    return RequestInfo(
        verb=_verb(method, name, query),
        api_group=group,
        api_version=version,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )
