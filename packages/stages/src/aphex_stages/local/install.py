"""What a cluster install holds, made for a local run (`aphex run --local`).

On AWS, `docs/install-on-aws.md` (and infra/) make the artifact bucket, bootstrap the CDK
in every target account, and create in the cluster the namespace, the pipeline's service
account with its Role, and the WorkflowTemplate. A local run makes the same in its
embedded AWS (moto) and its embedded Kubernetes API server, as that API's admin: the tasks
then reach them only as their service account, through RBAC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api
from kubernetes.client.exceptions import ApiException

from aphex_config import AphexConfig
from aphex_generator import (
    GeneratorSettings,
    Label,
    render_workflow_template,
    service_account_rbac,
    validate,
)
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.local.identities import LocalIdentity

__all__ = [
    "LocalInstallError",
    "install_namespace",
    "install_service_accounts",
    "install_template",
]


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


def _apply(create: Callable[..., Any], replace: Callable[..., Any], **kwargs: Any) -> None:
    """Create an object, or replace the one a earlier install made (its rules may differ)."""
    if not _create(create, **kwargs):
        body = kwargs["body"]
        _create(replace, name=body["metadata"]["name"], **kwargs)


def install_service_accounts(
    cluster: KubeCluster, namespace: str, identities: Iterable[LocalIdentity], pipeline: str
) -> None:
    """One service account per kind of work, annotated with its IAM role and bound to a
    Role of its own rules (:func:`aphex_generator.identity_rules`, as a cluster install)."""
    core = CoreV1Api(cluster.api_client)
    rbac = RbacAuthorizationV1Api(cluster.api_client)
    for identity in identities:
        account, role, binding = service_account_rbac(
            identity.service_account, namespace, pipeline, identity.rules, identity.role_arn
        )
        ns = {"namespace": namespace}
        _apply(
            core.create_namespaced_service_account,
            core.replace_namespaced_service_account,
            body=account,
            **ns,
        )
        _apply(rbac.create_namespaced_role, rbac.replace_namespaced_role, body=role, **ns)
        _apply(
            rbac.create_namespaced_role_binding,
            rbac.replace_namespaced_role_binding,
            body=binding,
            **ns,
        )


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
