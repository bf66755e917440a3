"""The local run's Argo controller: it runs the Workflows submitted to the local API server.

A Workflow names its WorkflowTemplate; at its first reconcile the controller copies the
template's spec into the Workflow's status (``storedWorkflowTemplateSpec``, as Argo does,
so a template applied meanwhile does not change a run in flight), executes its DAG with
:class:`aphex_stages.local.executor.LocalWorkflow`, and writes the outcome back: the
Workflow's phase, times and each task's phase and message. Each task's pod gets a token of
its service account for the API server, so what it may do there is what RBAC allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aphex_generator import EnvVar, Label
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.local.executor import LocalWorkflow, RunResult
from aphex_stages.local.kubeapi import KubeApiServer
from aphex_stages.local.workflow import TemplateNotRunnable, plan_from_template

__all__ = ["ControllerError", "LocalController"]

#: Argo's phase for a run that was stopped (its message says interrupted).
_PHASES = {"Interrupted": "Failed"}
#: Argo's node phases for the executor's (a task omitted by `depends` is Omitted in Argo too).
_NODE_PHASES = {"Errored": "Error", "Pending": "Pending", "Queued": "Pending"}


class ControllerError(Exception):
    """A Workflow that cannot run here; the message says why."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class LocalController:
    """Runs Workflows of `cluster`'s namespace; `make_workflow` builds the executor of one
    (its folders, runtime, approver...), given the plan, name, parameters and identity."""

    cluster: KubeCluster
    api: KubeApiServer
    make_workflow: Callable[..., LocalWorkflow]
    #: What a pod of the named service account gets besides its token (the AWS endpoint
    #: and the credentials of the account's role, ...).
    pod_identity: Callable[[str], Mapping[str, str]]

    def pending(self, commit: str) -> list[str]:
        """Workflows of `commit` that no controller has started yet, oldest name first."""
        found = self.cluster.list_workflows(f"{Label.COMMIT}={commit}")
        return sorted(
            str(w["metadata"]["name"]) for w in found if not (w.get("status") or {}).get("phase")
        )

    def _token_env(self, service_account: str) -> dict[str, str]:
        token = self.api.issue_token(self.cluster.namespace, service_account)
        return {EnvVar.KUBE_HOST: self.api.url, EnvVar.KUBE_TOKEN: token}

    def execute(self, name: str, on_start: Callable[[LocalWorkflow, str], None]) -> RunResult:
        """Run Workflow `name` to its end and store its outcome; `on_start` is told when its
        tasks are about to run (with the template's name and version)."""
        workflow = self.cluster.get_workflow(name)
        if workflow is None:
            raise ControllerError(f"workflow {name} was not submitted")
        spec = workflow.get("spec") or {}
        template_name = (spec.get("workflowTemplateRef") or {}).get("name")
        live = self.cluster.get_template(str(template_name)) if template_name else None
        if live is None:
            raise ControllerError(f"no WorkflowTemplate {template_name!r} is installed")
        try:
            plan = plan_from_template(live.doc)
        except TemplateNotRunnable as error:
            raise ControllerError(f"cannot run {template_name} locally: {error}") from None
        parameters = {
            str(p["name"]): str(p.get("value", ""))
            for p in (spec.get("arguments") or {}).get("parameters") or []
        }
        default_account = str((live.doc.get("spec") or {}).get("serviceAccountName") or "default")

        def identity(template: Mapping[str, Any]) -> Mapping[str, str]:
            account = str(template.get("serviceAccountName") or default_account)
            return {**self.pod_identity(account), **self._token_env(account)}

        executor = self.make_workflow(plan, name, parameters, identity)
        started = _now()
        self.cluster.set_workflow_status(
            name,
            {
                "phase": "Running",
                "startedAt": started,
                "storedWorkflowTemplateSpec": live.doc.get("spec") or {},
            },
        )
        on_start(executor, f"{template_name} v{live.resource_version}")
        result: RunResult | None = None
        try:
            result = executor.run()
        finally:
            phase = result.phase if result is not None else "Interrupted"
            self._finish(name, started, live.doc, phase, result)
        return result

    def _finish(
        self,
        name: str,
        started: str,
        template: Mapping[str, Any],
        phase: str,
        result: RunResult | None,
    ) -> None:
        nodes = {
            f"{name}-{state.name}": {
                "id": f"{name}-{state.name}",
                "name": f"{name}.{state.name}",
                "displayName": state.name,
                "type": "Suspend" if state.template == "approval" else "Pod",
                "templateName": state.template,
                "phase": _NODE_PHASES.get(state.phase, state.phase),
                "message": state.cause or "",
            }
            for state in (result.tasks.values() if result is not None else ())
        }
        status: dict[str, Any] = {
            "phase": _PHASES.get(phase, phase),
            "startedAt": started,
            "finishedAt": _now(),
            "storedWorkflowTemplateSpec": template.get("spec") or {},
            "nodes": nodes,
        }
        if phase == "Interrupted":
            status["message"] = "interrupted"
        elif result is not None and result.superseded:
            status["message"] = "superseded: restarted on a new topology"
        self.cluster.set_workflow_status(name, status)
