"""The cluster the pipeline stage applies templates to: the Kubernetes API.

On a cluster that is the in-cluster API with the pod's service account; a local run gives
its tasks the embedded API server's address and a token (`APHEX_KUBE_HOST`,
`APHEX_KUBE_TOKEN`); otherwise the kubeconfig.
"""

from __future__ import annotations

from aphex_stages.cluster.base import (
    Cluster,
    ClusterConflict,
    ClusterError,
    ClusterForbidden,
    ClusterRejected,
    LiveTemplate,
)

__all__ = [
    "Cluster",
    "ClusterConflict",
    "ClusterError",
    "ClusterForbidden",
    "ClusterRejected",
    "LiveTemplate",
    "cluster_from_env",
]


def cluster_from_env(namespace: str) -> Cluster:
    """The Kubernetes API of this pod (or of `APHEX_KUBE_HOST`, or the kubeconfig)."""
    from aphex_stages.cluster.kube import KubeCluster

    return KubeCluster.from_environment(namespace)
