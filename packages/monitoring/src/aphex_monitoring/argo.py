"""Argo Workflows inputs: ``workflow.failures`` JSON and Argo UI links."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from aphex_monitoring.records import FailureInfo, one_line

__all__ = ["argo_link", "parse_failures"]

logger = logging.getLogger(__name__)


def parse_failures(text: str | None) -> tuple[FailureInfo, ...]:
    """Parse Argo's ``{{workflow.failures}}``; empty, ``null`` or malformed gives ``()``."""
    raw = (text or "").strip()
    if not raw or raw.lower() in ("null", "none", "[]"):
        return ()
    if raw.startswith("{{") and raw.endswith("}}"):  # Argo left the expression unresolved
        return ()
    try:
        data: Any = json.loads(raw)
    except ValueError:
        logger.warning("--failures is not JSON; keeping it as one message")
        return (FailureInfo(name="workflow", message=one_line(raw)),)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return ()
    failures: list[FailureInfo] = []
    for item in data:
        if not isinstance(item, dict):
            continue
        name = item.get("displayName") or item.get("name") or item.get("templateName") or "step"
        failures.append(
            FailureInfo(
                name=str(name),
                message=one_line(str(item["message"])) if item.get("message") else None,
                template=str(item["templateName"]) if item.get("templateName") else None,
                phase=str(item["phase"]) if item.get("phase") else None,
            )
        )
    return tuple(failures)


def argo_link(base_url: str | None, workflow: str, namespace: str | None = None) -> str | None:
    """Argo UI link to a workflow: ``<base>/workflows/<namespace>/<workflow>``.

    ``base_url`` may already be a full link (it then contains the workflow name).
    Only http(s) URLs are returned.
    """
    if not base_url:
        return None
    base = base_url.strip().rstrip("/")
    if not base.lower().startswith(("http://", "https://")):
        return None
    if workflow in base:
        return base
    if namespace:
        return f"{base}/workflows/{quote(namespace)}/{quote(workflow)}"
    return f"{base}/workflows?name={quote(workflow)}"
