"""Compare the topology of two rendered WorkflowTemplates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aphex_generator.workflow import ANNOTATION_TOPOLOGY

Stacks = tuple[str, ...] | str  # a list of names, or a digest for very large pipelines


@dataclass(frozen=True)
class EnvTopology:
    """What the diff knows of one environment."""

    name: str
    depends_on: tuple[str, ...]
    approval: bool
    tests: bool
    stacks: Stacks


@dataclass(frozen=True)
class TopologyDiff:
    """Topology changes between two WorkflowTemplates (empty tuples: nothing changed)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    order: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    dependencies: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    gates_added: tuple[str, ...] = ()
    gates_removed: tuple[str, ...] = ()
    tests_added: tuple[str, ...] = ()
    tests_removed: tuple[str, ...] = ()
    stacks: tuple[tuple[str, Stacks, Stacks], ...] = ()

    @property
    def changed(self) -> bool:
        """True when anything differs."""
        return any(
            (
                self.added,
                self.removed,
                self.order,
                self.dependencies,
                self.gates_added,
                self.gates_removed,
                self.tests_added,
                self.tests_removed,
                self.stacks,
            )
        )

    def render_lines(self) -> list[str]:
        """One human-readable line per change; ``["no topology change"]`` when empty."""
        if not self.changed:
            return ["no topology change"]
        lines = [f"environment added: {name}" for name in self.added]
        lines += [f"environment removed: {name}" for name in self.removed]
        if self.order:
            lines.append(f"order changed: {', '.join(self.order[0])} -> {', '.join(self.order[1])}")
        lines += [
            f"dependencies of {name} changed: {_list(old)} -> {_list(new)}"
            for name, old, new in self.dependencies
        ]
        lines += [f"approval gate added before {name}" for name in self.gates_added]
        lines += [f"approval gate removed before {name}" for name in self.gates_removed]
        lines += [f"tests added to {name}" for name in self.tests_added]
        lines += [f"tests removed from {name}" for name in self.tests_removed]
        lines += [
            f"stacks of {name} changed: {_stacks(old)} -> {_stacks(new)}"
            for name, old, new in self.stacks
        ]
        return lines


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(items) + "]"


def _stacks(stacks: Stacks) -> str:
    return stacks if isinstance(stacks, str) else _list(stacks)


def topology_of(template: dict[str, Any]) -> list[EnvTopology]:
    """The environments of a WorkflowTemplate rendered by this package, in pipeline order.

    Read from the ``aphex.io/topology`` annotation (data the renderer writes alongside
    the DAG). Raises ``ValueError`` for a template without it.
    """
    meta = template.get("metadata") if isinstance(template, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    raw = annotations.get(ANNOTATION_TOPOLOGY) if isinstance(annotations, dict) else None
    if not isinstance(raw, str):
        raise ValueError(f"not an aphex WorkflowTemplate: no {ANNOTATION_TOPOLOGY} annotation")
    try:
        data = json.loads(raw)
        return [
            EnvTopology(
                name=str(env["name"]),
                depends_on=tuple(str(d) for d in env["depends_on"]),
                approval=env["approval"] == "manual",
                tests=bool(env["tests"]),
                stacks=env["stacks"] if isinstance(env["stacks"], str) else tuple(env["stacks"]),
            )
            for env in data["environments"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"malformed {ANNOTATION_TOPOLOGY} annotation: {exc}") from exc


def diff_topology(old: dict[str, Any], new: dict[str, Any]) -> TopologyDiff:
    """Compare two rendered WorkflowTemplates: environments, order, dependencies, gates,
    tests and stacks."""
    before = {env.name: env for env in topology_of(old)}
    after = {env.name: env for env in topology_of(new)}
    kept = [name for name in after if name in before]
    old_order = tuple(name for name in before if name in after)
    new_order = tuple(kept)
    return TopologyDiff(
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        order=(old_order, new_order) if old_order != new_order else None,
        dependencies=tuple(
            (name, before[name].depends_on, after[name].depends_on)
            for name in kept
            if before[name].depends_on != after[name].depends_on
        ),
        gates_added=tuple(n for n in kept if after[n].approval and not before[n].approval),
        gates_removed=tuple(n for n in kept if before[n].approval and not after[n].approval),
        tests_added=tuple(n for n in kept if after[n].tests and not before[n].tests),
        tests_removed=tuple(n for n in kept if before[n].tests and not after[n].tests),
        stacks=tuple(
            (name, before[name].stacks, after[name].stacks)
            for name in kept
            if before[name].stacks != after[name].stacks
        ),
    )
