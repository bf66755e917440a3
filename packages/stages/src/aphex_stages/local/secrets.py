"""Secrets of a local run: what a pod's ``secretKeyRef`` reads, as on a cluster.

A local run's Kubernetes API server holds Secrets like a cluster's. The runner installs
every file ``.aphex/local/secrets/<name>/<key>`` of the repository as key ``<key>`` of the
Secret ``<name>`` (``.aphex/`` is never committed), and a task's ``secretKeyRef`` reads
the Secret through the API when the task starts. A missing Secret or key stops that task
with the command that makes it, never with an empty value.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from aphex_generator import Label
from aphex_stages.cluster.kube import KubeCluster

__all__ = ["SecretReader", "SecretUnavailable", "install_local_secrets", "secret_reader"]

#: Reads key `key` of Secret `name`; raises SecretUnavailable.
SecretReader = Callable[[str, str], str]


class SecretUnavailable(Exception):
    """A task's secretKeyRef names a Secret or key that is not there."""


def _fix(folder: Path, name: str, key: str) -> str:
    return f"put the value in {folder / name / key} and run again"


def secret_reader(cluster: KubeCluster, namespace: str, folder: Path) -> SecretReader:
    """A reader of the Secrets in `namespace` of the local API server; its errors name the
    file under `folder` that makes the Secret."""
    core = CoreV1Api(cluster.api_client)

    def read(name: str, key: str) -> str:
        try:
            secret = core.read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404:
                raise SecretUnavailable(
                    f"secret {name} is not in namespace {namespace}: {_fix(folder, name, key)}"
                ) from None
            raise SecretUnavailable(f"could not read secret {name}: {error.reason}") from None
        data = secret.data or {}
        if key not in data:
            raise SecretUnavailable(f"secret {name} has no key {key}: {_fix(folder, name, key)}")
        return base64.b64decode(data[key]).decode("utf-8")

    return read


def install_local_secrets(
    cluster: KubeCluster, namespace: str, folder: Path, pipeline: str
) -> list[str]:
    """Create or replace a Secret per folder of `folder` (a key per file); their names."""
    core = CoreV1Api(cluster.api_client)
    installed = []
    for secret_dir in sorted(p for p in folder.glob("*") if p.is_dir()):
        data = {
            key.name: base64.b64encode(key.read_bytes().rstrip(b"\n")).decode("ascii")
            for key in sorted(secret_dir.iterdir())
            if key.is_file()
        }
        body: Any = {  # the client sends a dict as it is (its stubs want a V1Secret)
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_dir.name, "labels": {Label.PIPELINE: pipeline}},
            "type": "Opaque",
            "data": data,
        }
        try:
            core.create_namespaced_secret(namespace, body)
        except ApiException as error:
            if error.status != 409:
                raise
            core.replace_namespaced_secret(secret_dir.name, namespace, body)
        installed.append(secret_dir.name)
    return installed
