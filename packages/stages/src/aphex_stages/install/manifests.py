"""The cluster objects of an install, rendered from the config: one ServiceAccount, Role
and RoleBinding per identity (and the Sensor's), the Argo Events manifests and the
WorkflowTemplate, the latter validated before any is applied."""

from __future__ import annotations

from typing import Any

from aphex_config import AphexConfig
from aphex_generator import (
    IRSA_ROLE_ANNOTATION,
    GeneratorSettings,
    Label,
    approver_rbac,
    render_events,
    render_workflow_template,
    sensor_rules,
    validate,
)
from aphex_stages.install.options import InstallError
from aphex_stages.local.identities import identities_of
from aphex_stages.local.install import RBAC_API, RBAC_GROUP

__all__ = ["namespace", "pipeline_manifests", "rbac_manifests"]


def namespace(name: str, pipeline: str) -> dict[str, Any]:
    """The pipeline's namespace."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {Label.PIPELINE: pipeline}},
    }


def _rbac(
    name: str, ns: str, pipeline: str, rules: list[dict[str, Any]], role_arn: str | None
) -> list[dict[str, Any]]:
    """A ServiceAccount (IRSA-annotated with `role_arn`), its Role of `rules` and binding."""
    meta = {"name": name, "namespace": ns, "labels": {Label.PIPELINE: pipeline}}
    account: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    if role_arn is not None:
        account["metadata"] = {**meta, "annotations": {IRSA_ROLE_ANNOTATION: role_arn}}
    return [
        account,
        {"apiVersion": RBAC_API, "kind": "Role", "metadata": meta, "rules": rules},
        {
            "apiVersion": RBAC_API,
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        },
    ]


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
        rules = [dict(rule) for rule in identity.rules]
        docs += _rbac(identity.service_account, ns, pipeline, rules, identity.role_arn)
    docs += _rbac(settings.sensor_service_account, ns, pipeline, sensor_rules(pipeline), None)
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
