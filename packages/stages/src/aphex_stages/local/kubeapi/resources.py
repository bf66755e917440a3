"""The resources the server serves: group, version, plural, kind, scope, and the shape of
their bodies (which fields a decoder keeps; the Argo workflow kinds use the pinned CRD)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ARGO = "argoproj.io"
RBAC = "rbac.authorization.k8s.io"

#: A body's shape: each field maps to the shape of its value (``None``: anything; a list
#: of one shape: a list of such values). Used for the built-in kinds and Argo Events.
Shape = dict[str, Any]

_RULE: Shape = {
    "apiGroups": None,
    "resources": None,
    "verbs": None,
    "resourceNames": None,
    "nonResourceURLs": None,
}
_SUBJECT: Shape = {"kind": None, "apiGroup": None, "name": None, "namespace": None}
_ROLE_REF: Shape = {"apiGroup": None, "kind": None, "name": None}
_BINDING: Shape = {"subjects": [_SUBJECT], "roleRef": _ROLE_REF}
_OPAQUE: Shape = {"spec": None, "status": None}


@dataclass(frozen=True)
class Resource:
    """One served resource. ``crd``: checked against the pinned Argo CRD schema and CEL."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    shape: Shape | None = None
    crd: bool = False

    @property
    def api_version(self) -> str:
        """``group/version``, or just the version for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``plural.group`` (``plural`` for the core group), as the API server's messages say."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def custom(self) -> bool:
        """A custom resource (Argo's): it carries ``metadata.generation`` and an update
        must name a ``resourceVersion``; the built-in kinds served do neither."""
        return self.group == ARGO


RESOURCES: tuple[Resource, ...] = (
    Resource(ARGO, "v1alpha1", "workflowtemplates", "WorkflowTemplate", True, crd=True),
    Resource(ARGO, "v1alpha1", "workflows", "Workflow", True, crd=True),
    Resource(ARGO, "v1alpha1", "eventsources", "EventSource", True, _OPAQUE),
    Resource(ARGO, "v1alpha1", "sensors", "Sensor", True, _OPAQUE),
    Resource(ARGO, "v1alpha1", "eventbus", "EventBus", True, _OPAQUE),
    Resource("", "v1", "namespaces", "Namespace", False, _OPAQUE),
    Resource(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        True,
        {"secrets": None, "imagePullSecrets": None, "automountServiceAccountToken": None},
    ),
    Resource(
        "",
        "v1",
        "secrets",
        "Secret",
        True,
        {"data": None, "stringData": None, "type": None, "immutable": None},
    ),
    Resource(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        True,
        {"data": None, "binaryData": None, "immutable": None},
    ),
    Resource(RBAC, "v1", "roles", "Role", True, {"rules": [_RULE]}),
    Resource(RBAC, "v1", "rolebindings", "RoleBinding", True, _BINDING),
    Resource(
        RBAC,
        "v1",
        "clusterroles",
        "ClusterRole",
        False,
        {"rules": [_RULE], "aggregationRule": None},
    ),
    Resource(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False, _BINDING),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_PLURAL = {r.plural: r for r in RESOURCES}


def find(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``group/version/plural``, or None."""
    return _BY_PATH.get((group, version, plural))


def by_plural(plural: str) -> Resource:
    """The resource named ``plural`` (the plurals served are unique); KeyError if none."""
    return _BY_PLURAL[plural]


def object_key(resource: Resource, namespace: str, name: str) -> tuple[str, str, str]:
    """How the store keys an object: ``(plural, namespace, name)``, namespace "" if cluster-scoped."""
    return (resource.plural, namespace if resource.namespaced else "", name)
