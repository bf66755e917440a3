"""The install's Secrets: the deploy roles' ExternalId (made once, random, never shown) and
the GitHub webhook's (random unless given in a file; its value is never shown either)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

from aphex_generator import EXTERNAL_ID_KEY, EXTERNAL_ID_SECRET, Label, SecretRef
from aphex_monitoring import register_secret
from aphex_stages.install.kube import Cluster
from aphex_stages.install.options import UsageError

__all__ = ["WEBHOOK_SECRET", "ensure_external_id", "ensure_webhook_secret", "how_to_read"]

#: The Secret the EventSource checks webhook signatures with (docs/install-on-aws.md).
WEBHOOK_SECRET = SecretRef("aphex-github-webhook", "secret")


def _secret(namespace: str, name: str, key: str, value: str, pipeline: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {Label.PIPELINE: pipeline}},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode("utf-8")).decode("ascii")},
    }


def ensure_external_id(cluster: Cluster, namespace: str, pipeline: str) -> tuple[str, str]:
    """The install's ExternalId and "created" or "unchanged". Made once: the deployed deploy
    roles trust exactly this value, so an existing one is never replaced."""
    value = cluster.secret_value(namespace, EXTERNAL_ID_SECRET, EXTERNAL_ID_KEY)
    if value is not None:
        register_secret(value)
        return value.strip(), "unchanged"
    value = secrets.token_hex(16)
    register_secret(value)
    doc = _secret(namespace, EXTERNAL_ID_SECRET, EXTERNAL_ID_KEY, value, pipeline)
    return value, cluster.apply(doc)


def ensure_webhook_secret(
    cluster: Cluster, namespace: str, pipeline: str, value_file: Path | None
) -> str:
    """The webhook Secret: the value of `value_file` (replacing another), else the live one,
    else a new random one. "created", "updated" or "unchanged"."""
    if value_file is not None:
        try:
            value = value_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--webhook-secret-file: cannot read {value_file}: {error}") from None
        if len(value) < 16:
            raise UsageError(f"--webhook-secret-file: {value_file} holds fewer than 16 characters")
    else:
        live = cluster.secret_value(namespace, WEBHOOK_SECRET.name, WEBHOOK_SECRET.key)
        value = live if live is not None else secrets.token_hex(32)
    register_secret(value)
    return cluster.apply(
        _secret(namespace, WEBHOOK_SECRET.name, WEBHOOK_SECRET.key, value, pipeline)
    )


def how_to_read(namespace: str) -> str:
    """The kubectl command that prints the webhook secret (for GitHub's hook settings)."""
    path = "{.data." + WEBHOOK_SECRET.key + "}"
    return (
        f"kubectl -n {namespace} get secret {WEBHOOK_SECRET.name} -o jsonpath='{path}' | base64 -d"
    )
