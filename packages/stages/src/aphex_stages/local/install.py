"""What a cluster install holds, made for a local run (`aphex run --local`).

On AWS, `docs/install-on-aws.md` (and infra/) make the artifact bucket, bootstrap the CDK
in every target account, and create in the cluster the namespace, the pipeline's service
account with its Role, and the WorkflowTemplate. A local run makes the same in its
embedded AWS (moto) and its embedded Kubernetes API server, as that API's admin: the tasks
then reach them only as their service account, through RBAC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api
from kubernetes.client.exceptions import ApiException

from aphex_config import AphexConfig
from aphex_generator import (
    GeneratorSettings,
    Label,
    render_workflow_template,
    validate,
    workflow_rules,
)
from aphex_stages.cluster.kube import KubeCluster

__all__ = [
    "LocalInstallError",
    "ServiceAccounts",
    "install_namespace",
    "install_service_accounts",
    "install_template",
]

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API = f"{RBAC_GROUP}/v1"


class LocalInstallError(Exception):
    """The local install could not be made; the message says what to do."""


def _create(create: Callable[..., Any], **kwargs: Any) -> bool:
    """Create an object; False when it already exists (an install is idempotent)."""
    try:
        create(**kwargs)
    except ApiException as error:
        if error.status == 409:
            return False
        raise LocalInstallError(
            f"the local API server refused an install step: {error.reason}: {error.body}"
        ) from None
    return True


def install_namespace(cluster: KubeCluster, namespace: str, pipeline: str) -> None:
    """The pipeline's namespace."""
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {Label.PIPELINE: pipeline}},
    }
    _create(CoreV1Api(cluster.api_client).create_namespace, body=body)


def install_service_accounts(
    cluster: KubeCluster, namespace: str, service_accounts: Iterable[str], pipeline: str
) -> None:
    """Each service account, bound to a Role of the pipeline's pods' rules (the same
    :func:`aphex_generator.workflow_rules` the cluster install gives them)."""
    core = CoreV1Api(cluster.api_client)
    rbac = RbacAuthorizationV1Api(cluster.api_client)
    labels = {Label.PIPELINE: pipeline}
    for name in dict.fromkeys(service_accounts):
        meta = {"name": name, "namespace": namespace, "labels": labels}
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
        role = {
            "apiVersion": RBAC_API,
            "kind": "Role",
            "metadata": meta,
            "rules": workflow_rules(pipeline),
        }
        binding = {
            "apiVersion": RBAC_API,
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        _create(core.create_namespaced_service_account, namespace=namespace, body=account)
        _create(rbac.create_namespaced_role, namespace=namespace, body=role)
        _create(rbac.create_namespaced_role_binding, namespace=namespace, body=binding)


def install_template(
    cluster: KubeCluster, config: AphexConfig, settings: GeneratorSettings
) -> Mapping[str, Any] | None:
    """The WorkflowTemplate rendered from `config`, unless one is live; the new one or None."""
    if cluster.get_template(config.pipeline.name) is not None:
        return None
    doc = render_workflow_template(config, settings)
    problems = validate(doc)
    if problems:
        raise LocalInstallError(
            "the WorkflowTemplate rendered from this config is invalid: "
            + "; ".join(str(p) for p in problems[:5])
        )
    cluster.apply_template(doc, None)
    return doc


@dataclass(frozen=True)
class ServiceAccounts:
    """The service accounts a template's pods run as (its spec's and its templates')."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, template: Mapping[str, Any]) -> ServiceAccounts:
        """Every `serviceAccountName` of a WorkflowTemplate."""
        spec = template.get("spec") or {}
        names = [spec.get("serviceAccountName")]
        names += [t.get("serviceAccountName") for t in spec.get("templates") or []]
        return cls(tuple(dict.fromkeys(str(n) for n in names if n)))
