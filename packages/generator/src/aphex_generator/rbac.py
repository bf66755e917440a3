"""Who may approve a pipeline's gates: a Role that lets the people of one Kubernetes group
read the namespace's Workflows and resume or stop a waiting gate (``aphex approve``, as
``argo resume`` does: a patch of the Workflow's status), and nothing else; and its
RoleBinding to that group.

On EKS, people reach the group through an access entry's ``kubernetesGroups`` (or the
``aws-auth`` ConfigMap). Standard library only (the pipeline's own CDK app imports it).
"""

from __future__ import annotations

from typing import Any

from aphex_generator.contract import ARGO_GROUP, Label, dns_name

__all__ = ["approver_rbac", "approver_rules", "approvers_group"]

_RBAC_GROUP = "rbac.authorization.k8s.io"


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
    """The Role ``<pipeline>-approvers`` of :func:`approver_rules` in ``namespace`` and its
    RoleBinding to the group :func:`approvers_group`."""
    name = dns_name(f"{pipeline}-approvers")
    meta = {"name": name, "namespace": namespace, "labels": {Label.PIPELINE: pipeline}}
    return [
        {
            "apiVersion": f"{_RBAC_GROUP}/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": approver_rules(),
        },
        {
            "apiVersion": f"{_RBAC_GROUP}/v1",
            "kind": "RoleBinding",
            "metadata": dict(meta),
            "roleRef": {"apiGroup": _RBAC_GROUP, "kind": "Role", "name": name},
            "subjects": [
                {"apiGroup": _RBAC_GROUP, "kind": "Group", "name": approvers_group(pipeline)}
            ],
        },
    ]
