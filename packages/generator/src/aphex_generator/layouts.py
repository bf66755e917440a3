"""The two WorkflowTemplate layouts' fixed parts: the names of the shared templates, the
size of the per-environment layout, and the compact layout's per-variant DAGs.

A pipeline gets one template per environment (deploy, tests) while that fits the CRD's
``maxItems``; beyond, environments share one deploy and one test template, and each
environment is a task of a *variant* DAG (gated and/or tested) over them.
"""

from __future__ import annotations

from typing import Any

from aphex_generator.contract import ENVIRONMENT, PREVIEW, TEST
from aphex_generator.expressions import (
    ENV_PARAM,
    SERVICE_ACCOUNT_INPUT,
    SERVICE_ACCOUNT_PARAM,
    TIMEOUT_PARAM,
    succeeded,
)
from aphex_generator.graph import PipelineGraph

__all__ = [
    "APPROVAL",
    "SHARED_DEPLOY",
    "SHARED_PREVIEW",
    "SHARED_TEST",
    "per_environment_size",
    "variant_dag",
]

#: The suspend template of every manual gate.
APPROVAL = "approval"
# Compact layout: the shared templates (and a variant's tasks) are named after their stage.
SHARED_DEPLOY = ENVIRONMENT.task
SHARED_TEST = TEST.task
SHARED_PREVIEW = PREVIEW.task


def per_environment_size(graph: PipelineGraph) -> tuple[int, int]:
    """(templates, DAG tasks) of the per-environment layout: it is used while both fit the
    CRD's limits, else the compact layout shares templates."""
    envs = graph.environments
    gated = sum(1 for env in envs if env.approval)
    tested = sum(1 for env in envs if env.tests)
    # A gated environment has a preview template and two tasks more (preview, gate).
    templates = 5 + (1 if gated else 0) + len(envs) + tested + gated
    tasks = 3 + len(envs) + tested + 2 * gated
    return templates, tasks


def variant_dag(name: str, gated: bool, tested: bool) -> dict[str, Any]:
    """A DAG of one environment's preview and gate, deploy and tests, over the shared
    templates."""
    env_arg = {"name": "environment", "value": ENV_PARAM}
    account_arg = {"name": SERVICE_ACCOUNT_INPUT, "value": SERVICE_ACCOUNT_PARAM}
    tasks: list[dict[str, Any]] = []
    if gated:
        tasks.append(
            {
                "name": SHARED_PREVIEW,
                "template": SHARED_PREVIEW,
                "arguments": {"parameters": [env_arg, account_arg]},
            }
        )
        tasks.append(
            {"name": "approve", "template": APPROVAL, "depends": succeeded([SHARED_PREVIEW])}
        )
    deploy: dict[str, Any] = {
        "name": SHARED_DEPLOY,
        "template": SHARED_DEPLOY,
        "arguments": {"parameters": [env_arg, account_arg]},
    }
    if gated:
        deploy["depends"] = succeeded(["approve"])
    tasks.append(deploy)
    inputs = [{"name": "environment"}, {"name": SERVICE_ACCOUNT_INPUT}]
    if tested:
        timeout_arg = {"name": "timeout-seconds", "value": TIMEOUT_PARAM}
        tasks.append(
            {
                "name": SHARED_TEST,
                "template": SHARED_TEST,
                "depends": succeeded([SHARED_DEPLOY]),
                "arguments": {"parameters": [env_arg, account_arg, timeout_arg]},
            }
        )
        inputs.append({"name": "timeout-seconds"})
    return {"name": name, "inputs": {"parameters": inputs}, "dag": {"tasks": tasks}}
