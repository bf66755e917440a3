"""Authorization: RBAC evaluated from the stored Roles, RoleBindings, ClusterRoles and
ClusterRoleBindings, as Kubernetes' RBAC authorizer does.

A request is allowed when a rule of a role bound to its user (or one of its groups)
matches it: ClusterRoleBindings grant everywhere; RoleBindings only in their own
namespace (whether they name a Role there or a ClusterRole). A rule matches when its
`verbs`, `apiGroups` and `resources` hold the request's (or `*`; `resource/subresource`
for a subresource, also matched by `*/subresource`) and, if it has `resourceNames`, the
request names one of them, so those never grant create, list or deletecollection. A
ServiceAccount subject without a namespace means the binding's namespace. Refusals are
403 with the API server's message; a binding whose role is missing adds "RBAC: ...".
Aggregated ClusterRoles are not assembled, and role escalation is not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aphex_stages.local.kubeapi.auth import Identity, service_account_user
from aphex_stages.local.kubeapi.resources import RBAC
from aphex_stages.local.kubeapi.routing import RequestInfo
from aphex_stages.local.kubeapi.status import ApiError, details
from aphex_stages.local.kubeapi.store import Store


def _subject_applies(subject: Any, identity: Identity, binding_namespace: str) -> bool:
    if not isinstance(subject, dict):
        return False
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == identity.user
    if kind == "Group":
        return name in identity.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and identity.user == service_account_user(namespace, str(name))
    return False


def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def rule_allows(rule: dict[str, Any], info: RequestInfo) -> bool:
    """Whether one PolicyRule grants the request (verbs, API groups, resources, names)."""
    if not _has(rule.get("verbs"), info.verb) or not _has(rule.get("apiGroups"), info.api_group):
        return False
    combined = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    resources = rule.get("resources") or []
    if not any(
        r in ("*", combined) or (info.subresource and r == f"*/{info.subresource}")
        for r in resources
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or info.name in names


def _role_rules(
    store: Store, ref: Any, binding_namespace: str, errors: list[str]
) -> list[dict[str, Any]]:
    ref = ref if isinstance(ref, dict) else {}
    name = str(ref.get("name", ""))
    if ref.get("kind") == "Role" and binding_namespace:
        role = store.objects.get(("roles", binding_namespace, name))
        missing = f'role.{RBAC} "{name}" not found'
    elif ref.get("kind") == "ClusterRole":
        role = store.objects.get(("clusterroles", "", name))
        missing = f'clusterrole.{RBAC} "{name}" not found'
    else:
        return []
    if role is None:
        errors.append(missing)
        return []
    return [r for r in role.get("rules") or [] if isinstance(r, dict)]


def _bindings(store: Store, namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """ClusterRoleBindings, then the RoleBindings of ``namespace``, each with its namespace."""
    stored = sorted(store.objects.items())
    cluster = [("", doc) for (p, _, _), doc in stored if p == "clusterrolebindings"]
    local = [(ns, doc) for (p, ns, _), doc in stored if p == "rolebindings" and ns == namespace]
    return cluster + local if namespace else cluster


def decide(store: Store, identity: Identity, info: RequestInfo) -> tuple[bool, list[str]]:
    """Whether RBAC allows the request, and the errors met on the way (missing roles)."""
    if identity.admin:
        return True, []
    errors: list[str] = []
    with store.lock:
        for binding_namespace, binding in _bindings(store, info.namespace):
            subjects = binding.get("subjects") or []
            if not any(_subject_applies(s, identity, binding_namespace) for s in subjects):
                continue
            rules = _role_rules(store, binding.get("roleRef"), binding_namespace, errors)
            if any(rule_allows(rule, info) for rule in rules):
                return True, []
    return False, list(dict.fromkeys(errors))


def forbidden(identity: Identity, info: RequestInfo, errors: Sequence[str] = ()) -> ApiError:
    """403 Forbidden with the API server's message for this user and request."""
    resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    reason = f'User "{identity.user}" cannot {info.verb} resource "{resource}" in API group '
    reason += f'"{info.api_group}" '
    if info.namespace:
        reason += f'in the namespace "{info.namespace}"'
    else:
        reason += "at the cluster scope"
    if errors:
        joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        reason += f": RBAC: {joined}"
    target = info.qualified_resource
    named = f'{target} "{info.name}"' if info.name else target
    message = f"{named} is forbidden: {reason}"
    return ApiError(403, "Forbidden", message, details(info.api_group, info.resource, info.name))


def authorize(store: Store, identity: Identity, info: RequestInfo) -> None:
    """Nothing if RBAC allows the request; else 403 Forbidden."""
    allowed, errors = decide(store, identity, info)
    if not allowed:
        raise forbidden(identity, info, errors)
