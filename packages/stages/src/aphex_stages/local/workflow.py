"""Read a WorkflowTemplate into what the local executor runs: tasks, templates, exit handler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aphex_stages.local.depends import referenced_tasks


class TemplateNotRunnable(ValueError):
    """The template uses something the local executor cannot run."""


@dataclass(frozen=True)
class Task:
    """One DAG task: the template it runs, its `depends` and its input parameters."""

    name: str
    template: str
    depends: str | None
    parameters: Mapping[str, str] = field(default_factory=dict)
    when: str | None = None

    @property
    def upstream(self) -> set[str]:
        """Tasks this one waits for."""
        return referenced_tasks(self.depends) if self.depends else set()


@dataclass(frozen=True)
class WorkflowPlan:
    """Everything the executor needs from a WorkflowTemplate spec."""

    name: str
    tasks: tuple[Task, ...]
    templates: Mapping[str, Mapping[str, Any]]
    parameters: Mapping[str, str]
    on_exit: str | None
    labels: Mapping[str, str]
    #: The pods' volumes (``spec.volumes``), by name.
    volumes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _parameters(items: list[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(p["name"]): str(p.get("value", "")) for p in items or []}


def plan_from_template(doc: Mapping[str, Any]) -> WorkflowPlan:
    """Turn a WorkflowTemplate into a plan; raise TemplateNotRunnable if it cannot run locally."""
    spec = doc.get("spec") or {}
    templates = {str(t["name"]): t for t in spec.get("templates") or []}
    entry = templates.get(str(spec.get("entrypoint")))
    if entry is None or "dag" not in entry:
        raise TemplateNotRunnable("the entrypoint must be a DAG template")
    tasks = []
    for raw in entry["dag"].get("tasks") or []:
        if raw.get("dependencies"):
            raise TemplateNotRunnable(f"task {raw['name']}: use `depends`, not `dependencies`")
        if raw["template"] not in templates:
            raise TemplateNotRunnable(f"task {raw['name']}: no template {raw['template']!r}")
        tasks.append(
            Task(
                name=str(raw["name"]),
                template=str(raw["template"]),
                depends=raw.get("depends"),
                parameters=_parameters((raw.get("arguments") or {}).get("parameters")),
                when=raw.get("when"),
            )
        )
    names = {task.name for task in tasks}
    for task in tasks:
        missing = task.upstream - names
        if missing:
            raise TemplateNotRunnable(f"task {task.name} depends on unknown {sorted(missing)}")
    metadata = doc.get("metadata") or {}
    workflow_labels = ((spec.get("workflowMetadata") or {}).get("labels")) or {}
    return WorkflowPlan(
        name=str(metadata.get("name", "")),
        tasks=tuple(tasks),
        templates=templates,
        parameters=_parameters((spec.get("arguments") or {}).get("parameters")),
        on_exit=spec.get("onExit"),
        labels={**(metadata.get("labels") or {}), **workflow_labels},
        volumes={str(v["name"]): v for v in spec.get("volumes") or []},
    )
