"""Kubernetes manifests the cluster stack applies (plain dicts; no CDK import).

The RBAC here must stay equal to ``argo/rbac.yaml`` (the manifests for a cluster that is
not made by this app); ``infra/tests/cluster_stack_test.py`` compares them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aphex_generator import (
    IRSA_ROLE_ANNOTATION,
    Identity,
    Label,
    approver_rbac,
    identities,
    identity_role_name,
    identity_rules,
    identity_service_account,
    sensor_rules,
    service_account_rbac,
)

__all__ = [
    "IRSA_ANNOTATION",
    "identity_rbac",
    "WEBHOOK_PORT",
    "WEBHOOK_SERVICE",
    "event_bus",
    "event_source_name",
    "namespace",
    "rbac_yaml",
    "sensor_rbac",
    "webhook_service",
]

IRSA_ANNOTATION = IRSA_ROLE_ANNOTATION
WEBHOOK_PORT = 12000  # aphex_generator.settings.GeneratorSettings.webhook_port
WEBHOOK_SERVICE = "aphex-webhook"
SENSOR_SERVICE_ACCOUNT = "aphex-sensor"  # GeneratorSettings.sensor_service_account
JETSTREAM_VERSION = "2.10.10"  # GeneratorSettings.jetstream_version


def event_source_name(pipeline: str) -> str:
    """``<pipeline>-github``: aphex_generator.names.event_source_name for a valid name."""
    return f"{pipeline}-github"


def _meta(name: str, ns: str, pipeline: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "labels": {Label.PIPELINE: pipeline}, **extra}


def namespace(ns: str) -> dict[str, Any]:
    """The namespace of Argo and of the pipeline's WorkflowTemplate."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}


def identity_rbac(
    pipeline: str,
    ns: str,
    base: str,
    environments: Sequence[str],
    role_arn: Callable[[Identity, str | None], str],
) -> list[dict[str, Any]]:
    """Per identity: its ServiceAccount (``identity_service_account(base, ...)``,
    IRSA-annotated with ``role_arn(identity, environment)``), and a Role and RoleBinding of
    ``identity_rules``."""
    docs: list[dict[str, Any]] = []
    for identity, environment in identities(environments):
        name = identity_service_account(base, identity, environment)
        rules = identity_rules(pipeline, identity)
        docs += service_account_rbac(name, ns, pipeline, rules, role_arn(identity, environment))
    return docs


def sensor_rbac(ns: str, pipeline: str) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding of the Sensor."""
    return service_account_rbac(SENSOR_SERVICE_ACCOUNT, ns, pipeline, sensor_rules(pipeline))


def event_bus(ns: str, pipeline: str) -> dict[str, Any]:
    """The JetStream EventBus ``default`` (as aphex_generator.render_event_bus renders it)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventBus",
        "metadata": _meta("default", ns, pipeline),
        "spec": {"jetstream": {"version": JETSTREAM_VERSION, "replicas": 3}},
    }


def webhook_service(ns: str, pipeline: str, certificate_arn: str | None) -> dict[str, Any]:
    """An internet-facing NLB in front of the GitHub EventSource's pods.

    With ``certificate_arn`` the NLB terminates TLS on 443; without it, it forwards plain
    HTTP on 12000 (signatures are still checked: the EventSource has a webhook secret).
    """
    annotations = {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    }
    port = WEBHOOK_PORT
    if certificate_arn:
        port = 443
        annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] = certificate_arn
        annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] = "443"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(WEBHOOK_SERVICE, ns, pipeline, annotations=annotations),
        "spec": {
            "type": "LoadBalancer",
            "selector": {"eventsource-name": event_source_name(pipeline)},
            "ports": [
                {"name": "webhook", "port": port, "targetPort": WEBHOOK_PORT, "protocol": "TCP"}
            ],
        },
    }


def rbac_yaml(
    pipeline: str,
    ns: str,
    base: str,
    environments: Sequence[str],
    account: str,
    partition: str = "aws",
) -> str:
    """``argo/rbac.yaml``: every identity's RBAC (roles in ``account``), the Sensor's and the
    gate approvers', as multi-document YAML."""
    import yaml  # type: ignore[import-untyped, unused-ignore]

    def role_arn(identity: Identity, environment: str | None) -> str:
        name = identity_role_name(pipeline, identity, environment)
        return f"arn:{partition}:iam::{account}:role/{name}"

    docs = [
        *identity_rbac(pipeline, ns, base, environments, role_arn),
        *sensor_rbac(ns, pipeline),
        *approver_rbac(ns, pipeline),
    ]
    return yaml.safe_dump_all(docs, sort_keys=True, default_flow_style=False, width=100)
