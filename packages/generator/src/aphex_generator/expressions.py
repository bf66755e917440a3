"""The only Argo expressions the generator writes, and the guard that keeps config values
from ever becoming one.

Every ``{{...}}`` in a rendered template comes from this module: workflow parameters, the
workflow's own variables, the outputs of two stages, and Argo's metric variables. A value
from the config is passed through :func:`literal`, which refuses anything that looks like
an expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aphex_generator.contract import OUTPUTS_DIR, PIPELINE, Output, Param


def _parameter(name: str) -> str:
    return "{{workflow.parameters." + name + "}}"


# The only Argo expressions the generator ever writes.
COMMIT = _parameter(Param.COMMIT_SHA)
REPO_URL = _parameter(Param.REPO_URL)
REDEPLOY_BY = _parameter(Param.REDEPLOY_BY)
REDEPLOY_REASON = _parameter(Param.REDEPLOY_REASON)
WORKFLOW_NAME = "{{workflow.name}}"
WORKFLOW_UID = "{{workflow.uid}}"
WORKFLOW_STATUS = "{{workflow.status}}"
WORKFLOW_FAILURES = "{{workflow.failures}}"
ENV_PARAM = "{{inputs.parameters.environment}}"  # compact layout only
#: A run whose pipeline stage restarted it on a new topology deploys nothing more: the
#: environments after the pipeline stage are skipped, and the run still succeeds.
NOT_SUPERSEDED = (
    "{{tasks." + PIPELINE.task + ".outputs.parameters." + Output.SUPERSEDED + "}} == false"
)
TIMEOUT_PARAM = "{{inputs.parameters.timeout-seconds}}"  # compact layout only
#: The compact layout's shared templates run as the environment's own service account.
SERVICE_ACCOUNT_INPUT = "service-account"
SERVICE_ACCOUNT_PARAM = "{{inputs.parameters." + SERVICE_ACCOUNT_INPUT + "}}"


def literal(value: str, what: str) -> str:
    """Guard: a config value is written verbatim and must never look like an expression."""
    if "{{" in value or "}}" in value:
        raise ValueError(f"{what} {value!r} contains '{{{{' or '}}}}' and cannot be rendered")
    return value


#: The build stage's artifact digest, a global output of the run (set when build ends).
ARTIFACT_DIGEST = "{{workflow.outputs.parameters." + Output.ARTIFACT_SHA256 + "}}"


def output_parameter(name: str) -> dict[str, Any]:
    """An output parameter the stage writes into the pod's outputs folder."""
    return {"name": name, "valueFrom": {"path": f"{OUTPUTS_DIR}/{name}"}}


def succeeded(tasks: Sequence[str]) -> str:
    """A ``depends`` expression: every one of `tasks` succeeded."""
    return " && ".join(f"{task}.Succeeded" for task in tasks)


def environment_metrics(pipeline: str, environment: str) -> dict[str, Any]:
    """Argo's Prometheus metrics of an environment's deploy: duration and result."""
    labels = [
        {"key": "pipeline", "value": pipeline},
        {"key": "environment", "value": environment},
    ]
    return {
        "prometheus": [
            {
                "name": "aphex_environment_duration_seconds",
                "help": "Duration of the last deployment of an environment, in seconds",
                "labels": labels,
                "gauge": {"realtime": False, "value": "{{duration}}"},
            },
            {
                "name": "aphex_environment_result_total",
                "help": "Deployments of an environment, by result",
                "labels": [*labels, {"key": "status", "value": "{{status}}"}],
                "counter": {"value": "1"},
            },
        ]
    }
