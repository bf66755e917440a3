"""Stable, DNS-safe names for templates, tasks, locks and resources."""

from __future__ import annotations

from aphex_generator.contract import MAX_NAME, dns_name


def deploy_name(env: str) -> str:
    """Task and template name of an environment's deployment."""
    return dns_name(f"deploy-{env}")


def test_name(env: str) -> str:
    """Task and template name of an environment's post-deployment tests."""
    return dns_name(f"test-{env}")


def approve_name(env: str) -> str:
    """Task name of the manual approval gate before an environment."""
    return dns_name(f"approve-{env}")


def preview_name(env: str) -> str:
    """Task and template name of the change-set preview before an environment's gate."""
    return dns_name(f"preview-{env}")


def env_task_name(env: str) -> str:
    """Task name of an environment in the compact (shared-template) layout."""
    return dns_name(f"env-{env}")


def mutex_name(pipeline: str, env: str) -> str:
    """The per-environment lock: one deployment (or test) of an environment at a time.
    Dots cannot occur in pipeline or environment names, so no two pairs share a lock
    (``a-b``/``c`` and ``a``/``b-c`` would with dashes)."""
    return f"aphex.{pipeline}.{env}"


def pipeline_mutex_name(pipeline: str) -> str:
    """The pipeline-deployment lock: one self-update of a pipeline at a time (one dot, so
    it never equals an environment's lock)."""
    return f"aphex.{pipeline}"


def workflow_name_prefix(pipeline: str) -> str:
    """Prefix of Workflow names (``<prefix><40-char commit SHA>`` stays within 63)."""
    return dns_name(pipeline, MAX_NAME - 40 - 1) + "-"


def event_source_name(pipeline: str) -> str:
    """Name of the pipeline's GitHub EventSource."""
    return dns_name(f"{pipeline}-github")


def sensor_name(pipeline: str) -> str:
    """Name of the pipeline's Sensor."""
    return dns_name(f"{pipeline}-push")
