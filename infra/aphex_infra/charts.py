"""The Helm charts the cluster stack installs: pinned versions and their values.

Refresh a pin with ``helm search repo argo/argo-workflows --versions`` (and
``argo/argo-events``), choosing the chart whose appVersion is the Argo release the
platform targets (Argo Workflows v4.1, Argo Events v1.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aphex_generator import argo_logs_prefix

__all__ = [
    "ARGO_EVENTS",
    "ARGO_WORKFLOWS",
    "CLUSTER_AUTOSCALER",
    "Chart",
    "argo_events_values",
    "argo_workflows_values",
    "cluster_autoscaler_values",
]

ARGO_REPOSITORY = "https://argoproj.github.io/argo-helm"


@dataclass(frozen=True)
class Chart:
    """A pinned Helm chart."""

    chart: str
    repository: str
    version: str
    release: str


ARGO_WORKFLOWS = Chart("argo-workflows", ARGO_REPOSITORY, "1.1.2", "argo-workflows")  # v4.1.x
ARGO_EVENTS = Chart("argo-events", ARGO_REPOSITORY, "2.4.21", "argo-events")  # v1.9.x
CLUSTER_AUTOSCALER = Chart(
    "cluster-autoscaler", "https://kubernetes.github.io/autoscaler", "9.52.1", "cluster-autoscaler"
)

#: Argo Server Service (the chart's ``<release>-server``) and its port.
ARGO_SERVER_SERVICE = f"{ARGO_WORKFLOWS.release}-server"
ARGO_SERVER_PORT = 2746

_INTERNAL_NLB = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
}


def argo_workflows_values(
    *,
    pipeline: str,
    namespace: str,
    service_account: str,
    bucket: str,
    region: str,
    auth_mode: str,
) -> dict[str, Any]:
    """Values of the argo-workflows chart.

    - Workflow defaults: pods are garbage-collected when they succeed (failed ones stay
      for debugging until the workflow's TTL), workflows are deleted 1 day after success
      and 7 days after failure (run records outlive them in S3).
    - The default artifact repository is the pipeline's bucket, reached with the pods'
      own IRSA credentials (``useSDKCreds``), under ``<pipeline>/argo/``, which every
      identity's role may write (each pod archives its own logs).
    - ``service_account`` is the pods' default: the pipeline deployment's; the template
      names every other stage's own (aphex_generator.identity_service_account).
    - No ``workflowRestrictions.templateReferencing: Secure``: the pipeline-deployment
      stage applies a new WorkflowTemplate while a run of the old one is in flight, and
      with ``Secure`` the controller would error that running workflow out.
    - The Argo Server asks for a bearer token (``auth_mode`` ``client``) and is reachable
      only inside the VPC, through an internal NLB, over TLS (``secure``).
    """
    return {
        "crds": {"install": True, "keep": True},
        "controller": {
            "workflowNamespaces": [namespace],
            "workflowDefaults": {
                "spec": {
                    "serviceAccountName": service_account,
                    "podGC": {"strategy": "OnPodSuccess", "deleteDelayDuration": "60s"},
                    "ttlStrategy": {
                        "secondsAfterSuccess": 24 * 3600,
                        "secondsAfterFailure": 7 * 24 * 3600,
                    },
                }
            },
            "metricsConfig": {"enabled": True},
        },
        # The ServiceAccount and its RBAC come from the stack (k8s.workflow_rbac).
        "workflow": {"serviceAccount": {"create": False}, "rbac": {"create": False}},
        "server": {
            "authModes": [auth_mode],
            "secure": True,
            "serviceType": "LoadBalancer",
            "serviceAnnotations": dict(_INTERNAL_NLB),
        },
        "useDefaultArtifactRepo": True,
        "useStaticCredentials": False,
        "artifactRepository": {
            "archiveLogs": True,
            "s3": {
                "bucket": bucket,
                "endpoint": f"s3.{region}.amazonaws.com",
                "region": region,
                "insecure": False,
                "useSDKCreds": True,
                "keyFormat": argo_logs_prefix(pipeline) + "{{workflow.name}}/{{pod.name}}",
                "encryptionOptions": {"enableEncryption": True},
            },
        },
    }


def argo_events_values() -> dict[str, Any]:
    """Values of the argo-events chart (the EventBus itself is a manifest of the stack)."""
    return {"crds": {"install": True, "keep": True}}


def cluster_autoscaler_values(*, cluster_name: str, region: str) -> dict[str, Any]:
    """Values of the cluster-autoscaler chart: auto-discovery of the managed node group's
    Auto Scaling group by the tags EKS puts on it. The ServiceAccount (with its IRSA role)
    is made by the stack, so the chart must not create it."""
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "rbac": {"serviceAccount": {"create": False, "name": "cluster-autoscaler"}},
        "extraArgs": {"balance-similar-node-groups": True, "skip-nodes-with-system-pods": False},
    }
