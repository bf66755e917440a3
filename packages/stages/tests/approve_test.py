"""`aphex approve WORKFLOW` against the local Kubernetes API server (real HTTP, the official
client): a Workflow waits at a gate after its preview; approve shows the preview's change
set and resumes the gate as `argo resume` does, or stops it with --deny."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import CoreV1Api, RbacAuthorizationV1Api

from aphex_config import load_config
from aphex_generator import (
    EnvVar,
    GeneratorSettings,
    approver_rbac,
    approvers_group,
    render_workflow_template,
)
from aphex_stages.cli import main
from aphex_stages.cluster import ClusterError
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.local.kubeapi import KubeApiServer
from aphex_stages.local.kubeapi.handler import Request
from aphex_testing.sample_env import sample_app_dir

WORKFLOW = "aphex-sample-0123456789ab"
CHANGES = (
    "change set of prod (222222222222/us-east-1) at commit 0123456789ab: 1 of 2 stack(s)"
    " change (StorageStack)\n\n=== StorageStack: changes\nResources\n"
    "[~] AWS::SSM::Parameter Parameter\n\n=== MessagingStack: no changes\n"
)


def _node(name: str, kind: str, phase: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{WORKFLOW}-{name}",
        "name": f"{WORKFLOW}.{name}",
        "displayName": name,
        "type": kind,
        "phase": phase,
        "templateName": extra.pop("template", name),
        **extra,
    }


def _status() -> dict[str, Any]:
    preview = _node(
        "preview-prod",
        "Pod",
        "Succeeded",
        children=[f"{WORKFLOW}-approve-prod"],
        outputs={"parameters": [{"name": "changeset", "value": CHANGES}]},
    )
    gate = _node("approve-prod", "Suspend", "Running", template="approval")
    dev = _node("deploy-dev", "Pod", "Succeeded", children=[preview["id"]])
    nodes = {node["id"]: node for node in (dev, preview, gate)}
    return {"phase": "Running", "nodes": nodes}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[KubeApiServer, KubeCluster]]:
    """A Workflow waiting at approve-prod; `aphex` talks to the server as its admin."""
    with KubeApiServer(authenticate=True) as api:
        admin = KubeCluster.with_token(api.url, api.admin_token, "argo")
        config = load_config(sample_app_dir() / "aphex-config.yaml")
        admin.apply_template(render_workflow_template(config, GeneratorSettings()), None)
        labels = {"aphex.io/pipeline": "aphex-sample"}
        assert admin.submit_workflow(WORKFLOW, "aphex-sample", {"commit-sha": "0" * 40}, labels)
        admin.set_workflow_status(WORKFLOW, _status())
        monkeypatch.setenv(EnvVar.KUBE_HOST, api.url)
        monkeypatch.setenv(EnvVar.KUBE_TOKEN, api.admin_token)
        yield api, admin


def _nodes(admin: KubeCluster) -> dict[str, Any]:
    stored = admin.get_workflow(WORKFLOW)
    assert stored is not None
    return {n["displayName"]: n for n in stored["status"]["nodes"].values()}


def test_approve_shows_the_change_set_and_resumes_the_gate(
    cluster: tuple[KubeApiServer, KubeCluster],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, admin = cluster
    # The controller writes the Workflow just before the first patch: it is read again.
    patches: list[str] = []

    def controller_writes_first(request: Request) -> None:
        if request.method == "PATCH":
            patches.append(request.path)
            if len(patches) == 1:
                api.update_object(
                    "workflows", "argo", WORKFLOW, lambda doc: doc["status"].update(progress="1/2")
                )

    api.request_hooks.append(controller_writes_first)
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    assert main(["approve", WORKFLOW]) == 0
    out = capsys.readouterr().out
    assert out.index(CHANGES) < out.index("Approve approve-prod? [y/N]")
    assert out.endswith("approve-prod: approved\n")
    assert len(patches) == 2
    nodes = _nodes(admin)
    gate = nodes["approve-prod"]
    assert gate["phase"] == "Succeeded" and gate["finishedAt"].endswith("Z")
    assert gate["message"].startswith("approved by ")
    # Nothing else changed: the preview keeps its change set, the controller's write stays.
    assert nodes["preview-prod"]["outputs"]["parameters"][0]["value"] == CHANGES
    assert nodes["deploy-dev"]["phase"] == "Succeeded"
    stored = admin.get_workflow(WORKFLOW)
    assert stored is not None and stored["status"]["progress"] == "1/2"


def test_no_answers_no_and_no_terminal_leave_the_gate_waiting(
    cluster: tuple[KubeApiServer, KubeCluster],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _api, admin = cluster
    assert main(["approve", WORKFLOW]) == 2  # pytest's stdin is no terminal
    captured = capsys.readouterr()
    assert captured.err == (
        f"aphex approve: {WORKFLOW} waits at approve-prod and there is no terminal to ask:"
        " pass --yes to approve or --deny to stop it\n"
    )
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    assert main(["approve", WORKFLOW]) == 1
    assert "not approved: approve-prod still wait(s)" in capsys.readouterr().out
    assert _nodes(admin)["approve-prod"]["phase"] == "Running"


def test_json_approve_and_deny(
    cluster: tuple[KubeApiServer, KubeCluster], capsys: pytest.CaptureFixture[str]
) -> None:
    _api, admin = cluster
    assert main(["approve", WORKFLOW, "--deny", "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "workflow": WORKFLOW,
        "gates": [
            {
                "gate": "approve-prod",
                "node": f"{WORKFLOW}-approve-prod",
                "changeset": CHANGES,
                "decision": "denied",
            }
        ],
    }
    gate = _nodes(admin)["approve-prod"]
    assert gate["phase"] == "Failed" and gate["message"].startswith("denied by ")
    # Decided: nothing waits any more; the error is JSON too.
    assert main(["approve", WORKFLOW, "--yes", "-o", "json"]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out)
    assert captured.err == f"aphex approve: {error['error']}\n"
    assert error == {
        "workflow": WORKFLOW,
        "error": f"{WORKFLOW} has no gate waiting for approval (phase: Running)",
        "exit_code": 1,
    }
    assert main(["approve", "aphex-sample-nope", "--yes"]) == 1
    assert capsys.readouterr().err == (
        "aphex approve: no workflow aphex-sample-nope in namespace argo\n"
    )


def test_the_approvers_role_is_enough_to_approve_and_a_pipeline_pod_cannot(
    cluster: tuple[KubeApiServer, KubeCluster],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The approvers' Role the install applies (bound to their group) lets `aphex approve`
    resume a gate; a pipeline pod's service account, with no such grant, is refused."""
    api, admin = cluster
    rbac = RbacAuthorizationV1Api(admin.api_client)  # the fixture's admin, over HTTP
    role, binding = approver_rbac("argo", "aphex-sample")
    assert binding["subjects"] == [
        {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Group",
            "name": approvers_group("aphex-sample"),
        }
    ]
    rbac.create_namespaced_role("argo", role)
    rbac.create_namespaced_role_binding("argo", binding)
    # The fake API server authenticates service accounts only: a person in the group is
    # stood for by one bound to the same Role.
    core = CoreV1Api(admin.api_client)
    for account in ("alice", "aphex-pipeline-build"):
        core.create_namespaced_service_account(
            "argo", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}}
        )
    person = {**binding, "metadata": {"name": "alice-approves", "namespace": "argo"}}
    person["subjects"] = [{"kind": "ServiceAccount", "name": "alice", "namespace": "argo"}]
    rbac.create_namespaced_role_binding("argo", person)

    monkeypatch.setenv(EnvVar.KUBE_TOKEN, api.issue_token("argo", "aphex-pipeline-build"))
    assert main(["approve", WORKFLOW, "--yes"]) == 1
    refused = capsys.readouterr().err
    assert "aphex-pipeline-build" in refused and "workflows" in refused, refused
    assert refused.rstrip().endswith(
        "people who approve a pipeline's gates are in the Kubernetes group"
        " aphex:<pipeline>:approvers (an EKS access entry's kubernetesGroups), which the"
        " install binds to the Role <pipeline>-approvers"
    )
    assert _nodes(admin)["approve-prod"]["phase"] == "Running"

    monkeypatch.setenv(EnvVar.KUBE_TOKEN, api.issue_token("argo", "alice"))
    assert main(["approve", WORKFLOW, "--yes"]) == 0, capsys.readouterr().err
    assert _nodes(admin)["approve-prod"]["phase"] == "Succeeded"
    # The Role gives nothing beyond that: no new Workflow, no template.
    alice = KubeCluster.with_token(api.url, api.issue_token("argo", "alice"), "argo")
    with pytest.raises(ClusterError):
        alice.submit_workflow("aphex-sample-x", "aphex-sample", {"commit-sha": "1" * 40}, {})
