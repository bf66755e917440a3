"""The pipeline's RBAC manifests, built once for every way they reach a cluster (the
cluster stack of infra/, ``aphex install``, ``argo/rbac.yaml``, a local run's install):

* :func:`service_account_rbac`: a kind of work's ServiceAccount (IRSA-annotated with its
  IAM role), its Role and the RoleBinding between them;
* :func:`approver_rbac`: who may approve a pipeline's gates. A Role that lets the people of
  one Kubernetes group read the namespace's Workflows and resume or stop a waiting gate
  (``aphex approve``, as ``argo resume`` does: a patch of the Workflow's status), and
  nothing else; and its RoleBinding to that group. On EKS, people reach the group through
  an access entry's ``kubernetesGroups`` (or the ``aws-auth`` ConfigMap).

Standard library only (the pipeline's own CDK app imports it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aphex_generator.contract import ARGO_GROUP, IRSA_ROLE_ANNOTATION, Label, dns_name

__all__ = [
    "approver_rbac",
    "approver_rules",
    "approvers_group",
    "service_account_rbac",
]

_RBAC_API_GROUP = "rbac.authorization.k8s.io"
_RBAC_API_VERSION = f"{_RBAC_API_GROUP}/v1"


def _meta(name: str, namespace: str, pipeline: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {Label.PIPELINE: pipeline}}


def _role_and_binding(
    name: str,
    namespace: str,
    pipeline: str,
    rules: Sequence[Mapping[str, Any]],
    subject: dict[str, Any],
) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": _RBAC_API_VERSION,
            "kind": "Role",
            "metadata": _meta(name, namespace, pipeline),
            "rules": [dict(rule) for rule in rules],
        },
        {
            "apiVersion": _RBAC_API_VERSION,
            "kind": "RoleBinding",
            "metadata": _meta(name, namespace, pipeline),
            "roleRef": {"apiGroup": _RBAC_API_GROUP, "kind": "Role", "name": name},
            "subjects": [subject],
        },
    ]


def service_account_rbac(
    name: str,
    namespace: str,
    pipeline: str,
    rules: Sequence[Mapping[str, Any]],
    role_arn: str | None = None,
) -> list[dict[str, Any]]:
    """[ServiceAccount, Role, RoleBinding], all named ``name``: the account (annotated for
    IRSA with ``role_arn`` when given) bound to a Role of ``rules``."""
    account: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, namespace, pipeline),
    }
    if role_arn is not None:
        account["metadata"]["annotations"] = {IRSA_ROLE_ANNOTATION: role_arn}
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    return [account, *_role_and_binding(name, namespace, pipeline, rules, subject)]


def approvers_group(pipeline: str) -> str:
    """The Kubernetes group of a pipeline's approvers: ``aphex:<pipeline>:approvers``."""
    return f"aphex:{pipeline}:approvers"


def approver_rules() -> list[dict[str, Any]]:
    """Read Workflows and patch one (a gate's node is resumed or stopped in its status).
    No create, update or delete, no template, no pod or Secret."""
    return [
        {
            "apiGroups": [ARGO_GROUP],
            "resources": ["workflows"],
            "verbs": ["get", "list", "watch", "patch"],
        }
    ]


def approver_rbac(namespace: str, pipeline: str) -> list[dict[str, Any]]:
    """[Role, RoleBinding] ``<pipeline>-approvers`` in ``namespace``: the Role of
    :func:`approver_rules`, bound to the group :func:`approvers_group`."""
    subject = {"apiGroup": _RBAC_API_GROUP, "kind": "Group", "name": approvers_group(pipeline)}
    name = dns_name(f"{pipeline}-approvers")
    return _role_and_binding(name, namespace, pipeline, approver_rules(), subject)
