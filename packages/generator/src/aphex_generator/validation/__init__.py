"""Offline validation of Argo Workflows and Argo Events manifests.

``validate(doc)`` runs, by kind:

* Workflow kinds: the strict Argo JSON schema (``schema``), the strict full
  WorkflowTemplate CRD (``crd``) and its CEL rules (``cel``), then semantic lint (``lint``).
* Argo Events kinds: the strict Events schema (``events``); a Workflow embedded in a
  Sensor trigger is validated as a Workflow, with paths under the trigger.

Validators are compiled on first use and cached for the life of the process.
"""

from __future__ import annotations

from typing import Any

from aphex_generator.problem import Problem, join_path
from aphex_generator.validation.cel import check_cel, crd_rules
from aphex_generator.validation.lint import lint_workflow
from aphex_generator.validation.structural import (
    argo_validator,
    check,
    crd_validator,
    events_validator,
)

__all__ = ["Problem", "validate", "warm_up", "WORKFLOW_KINDS", "EVENTS_KINDS"]

WORKFLOW_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
EVENTS_KINDS = ("EventSource", "Sensor", "EventBus")
_API_VERSION = "argoproj.io/v1alpha1"


def warm_up() -> None:
    """Compile every validator now (otherwise done lazily on first use)."""
    for kind in WORKFLOW_KINDS:
        argo_validator(kind)
    for kind in EVENTS_KINDS:
        events_validator(kind)
    crd_validator()
    crd_rules()
    # jsonschema resolves $refs lazily: one small document per kind primes the caches.
    for kind in ("Workflow", "WorkflowTemplate"):
        validate({"apiVersion": _API_VERSION, "kind": kind, "metadata": {"name": "x"}, "spec": {}})


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for problem in problems:
        key = (problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def _workflow(doc: dict[str, Any], kind: str, base: str, embedded: bool = False) -> list[Problem]:
    problems = check(argo_validator(kind), doc, "schema", base)
    if kind in ("Workflow", "WorkflowTemplate"):
        # Workflow and WorkflowTemplate share WorkflowSpec: the CRD (and its CEL rules)
        # covers both. A Workflow's status is not part of what is applied.
        shaped = {k: v for k, v in doc.items() if k != "status"}
        problems += check(crd_validator(), shaped, "crd", base)
        problems += check_cel(shaped, base)
    problems += lint_workflow(doc, base, check_name=not embedded)
    return problems


def _embedded_workflows(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Workflow resources embedded in a Sensor's triggers, with their paths."""
    found: list[tuple[str, dict[str, Any]]] = []
    spec = doc.get("spec")
    triggers = spec.get("triggers") if isinstance(spec, dict) else None
    if not isinstance(triggers, list):
        return found
    for index, trigger in enumerate(triggers):
        template = trigger.get("template") if isinstance(trigger, dict) else None
        if not isinstance(template, dict):
            continue
        for kind in ("argoWorkflow", "k8s"):
            body = template.get(kind)
            source = body.get("source") if isinstance(body, dict) else None
            resource = source.get("resource") if isinstance(source, dict) else None
            if isinstance(resource, dict) and resource.get("kind") in WORKFLOW_KINDS:
                path = join_path("spec.triggers", index, "template", kind, "source", "resource")
                found.append((path, resource))
    return found


def validate(doc: Any) -> list[Problem]:
    """Validate one manifest (a parsed YAML/JSON document); an empty list means valid."""
    if not isinstance(doc, dict):
        return [Problem("", "a manifest must be a mapping", "document")]
    kind = doc.get("kind")
    api = doc.get("apiVersion")
    if api != _API_VERSION:
        return [Problem("apiVersion", f"expected '{_API_VERSION}', got {api!r}", "document")]
    if kind in WORKFLOW_KINDS:
        return _dedupe(_workflow(doc, str(kind), ""))
    if kind in EVENTS_KINDS:
        problems = check(events_validator(str(kind)), doc, "events")
        for path, resource in _embedded_workflows(doc):
            problems += _workflow(resource, str(resource["kind"]), path, embedded=True)
        return _dedupe(problems)
    known = ", ".join(WORKFLOW_KINDS + EVENTS_KINDS)
    return [Problem("kind", f"unsupported kind {kind!r} (expected one of {known})", "document")]
