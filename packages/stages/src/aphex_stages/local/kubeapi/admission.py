"""Admission: what a create must satisfy beyond the object itself.

- **Namespaces** (when the server enforces them): a namespaced object can only be created
  in an existing namespace, else 404 ``namespaces "<ns>" not found``, as the API server's
  NamespaceLifecycle admission answers.
- **Workflows from a template** (Argo-specific; when the server authenticates): creating a
  Workflow whose ``spec.workflowTemplateRef.name`` is set also needs ``get`` on that
  WorkflowTemplate, in the Workflow's namespace, for the same identity; and the template
  must exist. Otherwise the create is 403 Forbidden (the message of the refused ``get``)
  or 404 NotFound for the template, and nothing is stored. This is what
  ``argo submit --from workflowtemplate/<name>`` and the Argo Events trigger do (they read
  the template as the submitter), and a Workflow of a missing template never runs. A
  reference with ``clusterScope: true`` needs ``get`` on ``clusterworkflowtemplates``,
  which this server does not serve (404). The admin token skips the ``get`` check only.
"""

from __future__ import annotations

from typing import Any

from aphex_stages.local.kubeapi.auth import Identity
from aphex_stages.local.kubeapi.rbac import authorize
from aphex_stages.local.kubeapi.resources import ARGO, Resource, by_plural
from aphex_stages.local.kubeapi.routing import RequestInfo
from aphex_stages.local.kubeapi.status import ApiError, details, not_found
from aphex_stages.local.kubeapi.store import Store


def require_namespace(store: Store, resource: Resource, namespace: str) -> None:
    """404 unless a namespaced resource's namespace exists."""
    if resource.namespaced and ("namespaces", "", namespace) not in store.objects:
        raise not_found(by_plural("namespaces"), namespace)


def require_template_access(
    store: Store, identity: Identity, namespace: str, doc: dict[str, Any]
) -> None:
    """For a Workflow naming a template: 403 unless ``identity`` may get it, 404 unless it exists."""
    spec = doc.get("spec")
    ref = spec.get("workflowTemplateRef") if isinstance(spec, dict) else None
    name = str(ref.get("name") or "") if isinstance(ref, dict) else ""
    if not name:
        return
    cluster_scope = bool(ref.get("clusterScope")) if isinstance(ref, dict) else False
    plural = "clusterworkflowtemplates" if cluster_scope else "workflowtemplates"
    info = RequestInfo(
        verb="get",
        api_group=ARGO,
        api_version="v1alpha1",
        resource=plural,
        subresource="",
        namespace="" if cluster_scope else namespace,
        name=name,
    )
    authorize(store, identity, info)
    if cluster_scope:
        raise ApiError(
            404,
            "NotFound",
            f'{plural}.{ARGO} "{name}" not found',
            details(ARGO, plural, name),
        )
    if ("workflowtemplates", namespace, name) not in store.objects:
        raise not_found(by_plural("workflowtemplates"), name)
