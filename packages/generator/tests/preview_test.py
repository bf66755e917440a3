"""The change set at the gate: a preview task before every manual approval gate."""

from __future__ import annotations

from typing import Any

from generator_cases import SETTINGS, sample

from aphex_generator import (
    OUTPUTS_DIR,
    PREVIEW,
    EnvVar,
    Identity,
    Option,
    Output,
    PipelineGraph,
    identity_service_account,
    render_workflow_template,
    validate,
)
from aphex_generator.graph import NodeKind


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def _rendered() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    doc = render_workflow_template(sample("approval"), SETTINGS)
    assert validate(doc) == []
    templates = _by_name(doc["spec"]["templates"])
    tasks = _by_name(templates["pipeline"]["dag"]["tasks"])
    return templates, tasks


def test_the_gate_waits_for_a_preview_of_its_environment() -> None:
    _, tasks = _rendered()
    assert tasks["preview-prod"]["depends"] == "test-dev.Succeeded"
    assert tasks["approve-prod"]["depends"] == "preview-prod.Succeeded"
    assert tasks["deploy-prod"]["depends"] == "approve-prod.Succeeded"
    assert "preview-dev" not in tasks  # no gate, no preview


def test_the_preview_runs_as_its_environments_deploy_identity() -> None:
    templates, _ = _rendered()
    preview, deploy = templates["preview-prod"], templates["deploy-prod"]
    assert preview["serviceAccountName"] == identity_service_account(
        SETTINGS.service_account, Identity.DEPLOY, "prod"
    )
    assert preview["serviceAccountName"] == deploy["serviceAccountName"]
    container = preview["container"]
    assert container["command"] == [PREVIEW.script]
    assert container["image"] == deploy["container"]["image"]
    args = container["args"]
    # The environment is a literal argv entry; the digest the build's global output.
    assert args[args.index(Option.ENVIRONMENT) + 1] == "prod"
    assert args[args.index(Option.ARTIFACT_SHA256) + 1] == (
        "{{workflow.outputs.parameters.artifact-sha256}}"
    )
    assert Option.REDEPLOY_BY not in args  # it moves no head
    env = [e["name"] for e in container["env"]]
    assert env == [e["name"] for e in deploy["container"]["env"]]
    assert EnvVar.EXTERNAL_ID in env
    # One at a time with the environment's deploys and tests.
    assert preview["synchronization"] == deploy["synchronization"]
    assert preview["outputs"] == {
        "parameters": [
            {"name": Output.CHANGESET, "valueFrom": {"path": f"{OUTPUTS_DIR}/{Output.CHANGESET}"}}
        ]
    }
    assert "metrics" not in preview


def test_the_graph_puts_the_preview_first_among_a_gated_environments_nodes() -> None:
    graph = PipelineGraph.from_config(sample("approval"))
    prod = graph.environment_nodes("prod")
    assert [node.kind for node in prod] == [
        NodeKind.PREVIEW,
        NodeKind.APPROVAL,
        NodeKind.DEPLOY,
        NodeKind.TEST,
    ]
    assert prod.preview is not None and prod.preview.stage is PREVIEW
    assert graph.environment_nodes("dev").preview is None
