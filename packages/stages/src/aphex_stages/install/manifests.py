"""The cluster objects of an install, rendered from the config: one ServiceAccount, Role
and RoleBinding per identity (and the Sensor's), the Argo Events manifests and the
WorkflowTemplate, the latter validated before any is applied."""

from __future__ import annotations

from typing import Any

from aphex_config import AphexConfig
from aphex_generator import (
    GeneratorSettings,
    Label,
    approver_rbac,
    render_events,
    render_workflow_template,
    sensor_rules,
    service_account_rbac,
    validate,
)
from aphex_stages.install.options import InstallError
from aphex_stages.local.identities import identities_of

__all__ = ["namespace", "pipeline_manifests", "rbac_manifests"]


def namespace(name: str, pipeline: str) -> dict[str, Any]:
    """The pipeline's namespace."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {Label.PIPELINE: pipeline}},
    }


def rbac_manifests(
    config: AphexConfig, settings: GeneratorSettings, account: str
) -> list[dict[str, Any]]:
    """Per identity (`aphex_generator.identities`), its ServiceAccount annotated with its
    role in the pipeline `account`, Role (`identity_rules`) and RoleBinding; then the
    Sensor's (`sensor_rules`, no AWS role); then the gate approvers' Role and binding."""
    pipeline = config.pipeline.name
    ns = settings.namespace or config.pipeline.namespace
    docs: list[dict[str, Any]] = []
    for identity in identities_of(config, settings.service_account, account):
        name = identity.service_account
        docs += service_account_rbac(name, ns, pipeline, identity.rules, identity.role_arn)
    sensor = settings.sensor_service_account
    docs += service_account_rbac(sensor, ns, pipeline, sensor_rules(pipeline))
    return docs + approver_rbac(ns, pipeline)


def pipeline_manifests(config: AphexConfig, settings: GeneratorSettings) -> list[dict[str, Any]]:
    """[EventBus, EventSource, Sensor, WorkflowTemplate], each validated; InstallError
    naming the first problems when any is invalid (then none may be applied)."""
    try:
        docs = [*render_events(config, settings), render_workflow_template(config, settings)]
    except ValueError as error:  # SettingsError, a repository not on GitHub
        raise InstallError(f"cannot render the pipeline's manifests: {error}") from None
    problems = [f"{doc['kind']}: {problem}" for doc in docs for problem in validate(doc)]
    if problems:
        raise InstallError(
            "the manifests rendered from this config are invalid, so none was applied: "
            + "; ".join(problems[:5])
        )
    return docs
