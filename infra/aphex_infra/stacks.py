"""Compose the app's stacks from :class:`InfraSettings` (used by ``app.py`` and the tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import App, Environment

from aphex_infra.artifacts_stack import AphexArtifactsStack
from aphex_infra.nag import add_checks
from aphex_infra.settings import InfraSettings
from aphex_infra.target_account_stack import AphexTargetAccountStack

if TYPE_CHECKING:
    from aphex_infra.cluster_stack import AphexClusterStack

__all__ = ["Stacks", "build", "feature_flags", "new_app"]

INFRA_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Stacks:
    """The stacks of one app: the cluster is absent with ``aphex:stacks=artifacts``; target
    account stacks (one per account with an environment using ``aphex:deployRoleName``)
    need ``aphex:pipelineAccount``."""

    artifacts: AphexArtifactsStack
    cluster: AphexClusterStack | None = None
    targets: list[AphexTargetAccountStack] = field(default_factory=list)


def feature_flags(cdk_json: Path = INFRA_DIR / "cdk.json") -> dict[str, Any]:
    """The feature flags of ``cdk.json`` (the CLI passes them; tests must too)."""
    return dict(json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {}))


def new_app(context: dict[str, Any] | None = None, **kwargs: Any) -> App:
    """An App with ``cdk.json``'s feature flags plus ``context`` (for tests and tools)."""
    return App(context={**feature_flags(), **(context or {})}, **kwargs)


def build(app: App, settings: InfraSettings | None = None) -> Stacks:
    """Add the stacks that ``settings`` (default: the app's context) ask for, with cdk-nag."""
    settings = settings or InfraSettings.from_context(app.node.try_get_context)
    prefix = settings.stack_prefix
    description = f"AphexPipeline {settings.pipeline}"
    cluster = None
    if settings.stacks == "all":
        # Imported here: a local run (artifacts only) needs no kubectl layer package.
        from aphex_infra.cluster_stack import AphexClusterStack

        cluster = AphexClusterStack(
            app,
            "AphexClusterStack",
            settings=settings,
            stack_name=f"{prefix}-cluster",
            description=f"{description}: VPC, EKS, Argo Workflows and Argo Events",
        )
    artifacts = AphexArtifactsStack(
        app,
        "AphexArtifactsStack",
        settings=settings,
        oidc=cluster.oidc if cluster else None,
        stack_name=f"{prefix}-artifacts",
        description=f"{description}: artifact bucket, identity roles, logs, alarm",
    )
    stacks = Stacks(artifacts=artifacts, cluster=cluster)
    if settings.pipeline_account:
        # Local runs (aphex:stacks=artifacts) deploy these into moto too.
        for account in settings.deploy_role_accounts:
            stacks.targets.append(
                AphexTargetAccountStack(
                    app,
                    f"AphexTargetAccountStack-{account}",
                    settings=settings,
                    env=Environment(account=account),
                    stack_name=f"{prefix}-deploy-role",
                    description=f"{description}: the deploy role of account {account}",
                )
            )
    add_checks(app)
    return stacks
