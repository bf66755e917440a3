"""Clusters the pipeline stage applies templates to: Kubernetes, or `.aphex/local/`."""

from __future__ import annotations

import os
from pathlib import Path

from aphex_generator import EnvVar
from aphex_stages.cluster.base import (
    Cluster,
    ClusterConflict,
    ClusterError,
    ClusterRejected,
    LiveTemplate,
)

__all__ = [
    "Cluster",
    "ClusterConflict",
    "ClusterError",
    "ClusterRejected",
    "LiveTemplate",
    "cluster_from_env",
]

LOCAL_PREFIX = "local:"


def cluster_from_env(namespace: str) -> Cluster:
    """`APHEX_CLUSTER=local:<dir>` selects the local cluster; otherwise Kubernetes
    (in-cluster config, else the kubeconfig)."""
    target = os.environ.get(EnvVar.CLUSTER, "")
    if target.startswith(LOCAL_PREFIX):
        from aphex_stages.cluster.local import LocalCluster

        return LocalCluster(Path(target[len(LOCAL_PREFIX) :]), namespace)
    from aphex_stages.cluster.kube import KubeCluster

    return KubeCluster.from_environment(namespace)
