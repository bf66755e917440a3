"""Read a WorkflowTemplate into what the local executor runs: tasks, templates, exit handler,
and the order of a container set's containers."""

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


def container_order(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The containers of a ``containerSet`` template in an order their ``dependencies``
    allow (declaration order among the ready ones); TemplateNotRunnable when a container
    has no name, a name repeats, a dependency is unknown or they form a cycle."""
    name = template.get("name")
    containers = list((template.get("containerSet") or {}).get("containers") or [])
    if not containers:
        raise TemplateNotRunnable(f"template {name}: a container set needs containers")
    by_name: dict[str, Mapping[str, Any]] = {}
    for container in containers:
        key = container.get("name")
        if not isinstance(key, str) or not key:
            raise TemplateNotRunnable(f"template {name}: every container needs a name")
        if key in by_name:
            raise TemplateNotRunnable(f"template {name}: container {key!r} appears twice")
        by_name[key] = container
    for key, container in by_name.items():
        unknown = set(container.get("dependencies") or []) - by_name.keys()
        if unknown:
            raise TemplateNotRunnable(
                f"template {name}: container {key!r} depends on unknown {sorted(unknown)}"
            )
    ordered: list[Mapping[str, Any]] = []
    done: set[str] = set()
    while len(ordered) < len(containers):
        ready = [
            c
            for key, c in by_name.items()
            if key not in done and set(c.get("dependencies") or []) <= done
        ]
        if not ready:
            left = sorted(by_name.keys() - done)
            raise TemplateNotRunnable(f"template {name}: containers {left} depend on each other")
        ordered.append(ready[0])
        done.add(str(ready[0]["name"]))
    return ordered


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
    for template in templates.values():
        if "containerSet" in template:
            container_order(template)  # runnable here: names and dependencies check out
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
