"""`aphex approve WORKFLOW`: on a cluster, show what a waiting gate's environment would get,
then resume the gate (or, with ``--deny``, stop it).

The Workflow is read with your kubeconfig (as ``aphex redeploy`` submits). A gate is a
suspended node (``type: Suspend``, ``phase: Running``); the change set is the output
parameter ``changeset`` of the preview node before it (the node whose ``children`` name
the gate), so no AWS credentials are needed. Resuming does what ``argo resume`` does
(Argo's ``updateSuspendedNode``): the gate's node gets ``phase: Succeeded``, ``finishedAt``
and a message; ``--deny`` sets ``Failed`` instead, so the deploy after it never runs. The
node is changed with a JSON merge patch that names the Workflow's ``resourceVersion``: a
Workflow changed meanwhile is read again and the gate checked again.

Exit codes: 0 decided, 1 nothing waits or the cluster failed (or the answer was no), 2
usage (no terminal to ask and no ``--yes``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from aphex_generator import Output, approvers_group

__all__ = [
    "ApproveError",
    "Gate",
    "add_approve_parser",
    "decide_gate",
    "run_approve",
    "waiting_gates",
]

_ATTEMPTS = 5
#: Added to a refusal: how a person gets to approve (the install binds the group to the
#: Role ``<pipeline>-approvers``, aphex_generator.approver_rbac).
APPROVERS_HINT = (
    f"people who approve a pipeline's gates are in the Kubernetes group"
    f" {approvers_group('<pipeline>')} (an EKS access entry's kubernetesGroups), which the"
    " install binds to the Role <pipeline>-approvers"
)
_APPROVED, _DENIED = "Succeeded", "Failed"


class ApproveError(Exception):
    """Nothing to approve, or the cluster refused; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Gate:
    """A gate waiting in a Workflow: its node, its name in the DAG and the change set its
    preview computed (None when the preview gave none)."""

    node_id: str
    name: str
    changeset: str | None

    def to_json(self) -> dict[str, Any]:
        """As ``-o json`` prints it."""
        return {"gate": self.name, "node": self.node_id, "changeset": self.changeset}


def _changeset(node: Mapping[str, Any]) -> str | None:
    for parameter in (node.get("outputs") or {}).get("parameters") or []:
        if parameter.get("name") == Output.CHANGESET and isinstance(parameter.get("value"), str):
            return str(parameter["value"])
    return None


def waiting_gates(workflow: Mapping[str, Any]) -> list[Gate]:
    """The Workflow's suspended gates, by name, each with its preview's change set."""
    name = str((workflow.get("metadata") or {}).get("name") or "")
    nodes: Mapping[str, Any] = (workflow.get("status") or {}).get("nodes") or {}
    gates = []
    for node_id, node in nodes.items():
        if node.get("type") != "Suspend" or node.get("phase") != "Running":
            continue
        before = [n for n in nodes.values() if node_id in (n.get("children") or [])]
        texts = [text for n in before if (text := _changeset(n)) is not None]
        full = str(node.get("name") or node.get("displayName") or node_id)
        shown = full[len(name) + 1 :] if name and full.startswith(name + ".") else full
        gates.append(Gate(str(node_id), shown, texts[0] if texts else None))
    return sorted(gates, key=lambda gate: gate.name)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def decide_gate(cluster: Any, workflow: str, gate: Gate, approve: bool, by: str) -> None:
    """Resume (``approve``) or stop the gate as ``argo resume`` / ``argo node set`` do:
    merge-patch its node's phase, finish time and message at the Workflow's current
    ``resourceVersion``; on a conflict read again. ApproveError when the gate no longer
    waits, ClusterError when the cluster refuses."""
    from aphex_stages.cluster import ClusterConflict

    phase = _APPROVED if approve else _DENIED
    message = f"{'approved' if approve else 'denied'} by {by} with aphex approve"
    for _attempt in range(_ATTEMPTS):
        current = cluster.get_workflow(workflow)
        if current is None:
            raise ApproveError(f"workflow {workflow} is gone from namespace {cluster.namespace}")
        if gate.node_id not in {g.node_id for g in waiting_gates(current)}:
            raise ApproveError(f"{gate.name} of {workflow} no longer waits (decided meanwhile?)")
        patch = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "status": {
                "nodes": {gate.node_id: {"phase": phase, "finishedAt": _now(), "message": message}}
            },
        }
        try:
            cluster.merge_patch_workflow(workflow, patch)
            return
        except ClusterConflict:
            continue  # the controller wrote meanwhile: read again
    raise ApproveError(f"workflow {workflow} kept changing; run aphex approve again")


def add_approve_parser(commands: Any) -> None:
    """`aphex approve`: its options and --help."""
    approve = commands.add_parser(
        "approve",
        help="show a waiting gate's change set and resume it (on a cluster)",
        description="Show what the deploy behind each gate waiting in WORKFLOW would change"
        " (its preview's change set, from the Workflow), ask, and resume the gate as `argo"
        " resume` does. The Workflow is read and changed with your kubeconfig.",
        epilog="Exit codes: 0 decided, 1 nothing waits, the answer was no or the cluster"
        " failed, 2 usage error (no terminal to ask: pass --yes or --deny).",
    )
    approve.add_argument("workflow", metavar="WORKFLOW", help="the waiting Workflow's name")
    approve.add_argument(
        "--namespace", default="argo", help="the pipeline's namespace (default: argo)"
    )
    decision = approve.add_mutually_exclusive_group()
    decision.add_argument("--yes", action="store_true", help="approve without asking")
    decision.add_argument("--deny", action="store_true", help="stop the gate: nothing deploys")
    approve.add_argument("-o", "--output", choices=("text", "json"), default="text")


@dataclass
class _Io:
    out: TextIO
    err: TextIO
    stdin: TextIO
    ask: Callable[[str], str]


def _decide(args: argparse.Namespace, io: _Io, cluster: Any) -> list[dict[str, Any]]:
    workflow = cluster.get_workflow(args.workflow)
    if workflow is None:
        raise ApproveError(f"no workflow {args.workflow} in namespace {args.namespace}")
    gates = waiting_gates(workflow)
    if not gates:
        phase = (workflow.get("status") or {}).get("phase") or "not started"
        raise ApproveError(f"{args.workflow} has no gate waiting for approval (phase: {phase})")
    interactive = not (args.yes or args.deny)
    if interactive and (args.output == "json" or not io.stdin.isatty()):
        raise ApproveError(
            f"{args.workflow} waits at {', '.join(g.name for g in gates)} and there is no"
            " terminal to ask: pass --yes to approve or --deny to stop it",
            code=2,
        )
    by = getpass.getuser()
    decided = []
    for gate in gates:
        if args.output == "text":
            io.out.write(f"{args.workflow}: {gate.name} waits\n")
            io.out.write(gate.changeset or "  (its preview gave no change set)\n")
            io.out.flush()
        approve = args.yes
        if interactive:
            approve = io.ask(f"\nApprove {gate.name}? [y/N] ").strip().lower() in ("y", "yes")
            if not approve:
                decided.append({**gate.to_json(), "decision": "waiting"})
                continue
        decide_gate(cluster, args.workflow, gate, approve, by)
        decided.append({**gate.to_json(), "decision": "approved" if approve else "denied"})
    return decided


def run_approve(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
    ask: Callable[[str], str] = input,
) -> int:
    """`aphex approve`: decide the gates waiting in ``args.workflow``; the exit code."""
    from aphex_stages.cluster import ClusterError, ClusterForbidden, cluster_from_env

    io = _Io(out or sys.stdout, err or sys.stderr, stdin or sys.stdin, ask)
    try:
        decided = _decide(args, io, cluster_from_env(args.namespace))
    except (ApproveError, ClusterError) as error:
        code = error.code if isinstance(error, ApproveError) else 1
        message = str(error)
        if isinstance(error, ClusterForbidden):
            message += f"; {APPROVERS_HINT}"
        if args.output == "json":
            failure = {"workflow": args.workflow, "error": message, "exit_code": code}
            io.out.write(json.dumps(failure) + "\n")
        io.err.write(f"aphex approve: {message}\n")
        return code
    waiting = [d["gate"] for d in decided if d["decision"] == "waiting"]
    if args.output == "json":
        io.out.write(json.dumps({"workflow": args.workflow, "gates": decided}) + "\n")
    else:
        for entry in decided:
            if entry["decision"] != "waiting":
                io.out.write(f"{entry['gate']}: {entry['decision']}\n")
        if waiting:
            io.out.write(
                f"not approved: {', '.join(waiting)} still wait(s) (aphex approve --deny"
                f" {args.workflow} stops them)\n"
            )
    return 1 if waiting else 0
