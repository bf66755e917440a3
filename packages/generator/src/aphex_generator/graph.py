"""The pipeline graph: the one decision of what runs after what, built once from a config.

Nodes are the fixed stages (validation, build, pipeline deployment), then per environment
an optional approval gate (after a preview of what its deploy would change), its deploy and
its optional tests, and the exit handler. An
environment waits for the last node of every environment it depends on (the pipeline
deployment when it depends on none). Both WorkflowTemplate layouts, the template's
topology annotation and the topology diff are views of this graph::

    graph = PipelineGraph.from_config(config)
    graph.nodes                          # in an order where every node follows its `after`
    graph.topology_json()                # the aphex.io/topology annotation
    PipelineGraph.from_topology_json(text).diff(graph)   # a TopologyDiff
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aphex_generator import contract, names

if TYPE_CHECKING:
    from aphex_config import AphexConfig

__all__ = [
    "EnvironmentNodes",
    "EnvironmentTopology",
    "Node",
    "NodeKind",
    "PipelineGraph",
    "STAGE_OF",
    "Stacks",
    "TopologyDiff",
]

#: An environment's stack names, or their digest when the annotation would be too large.
Stacks = tuple[str, ...] | str

_TOPOLOGY_LIMIT = 200_000  # bytes; annotations are capped at 256 KiB in total
APPROVAL_MANUAL = "manual"
APPROVAL_NONE = "none"


class NodeKind(StrEnum):
    """What a node of the pipeline graph does."""

    VALIDATION = "validation"
    BUILD = "build"
    PIPELINE = "pipeline"
    PREVIEW = "preview"
    APPROVAL = "approval"
    DEPLOY = "deploy"
    TEST = "test"
    EXIT_HANDLER = "exit-handler"


#: The stage each kind of node runs (an approval gate runs none).
STAGE_OF = {
    NodeKind.VALIDATION: contract.VALIDATION,
    NodeKind.BUILD: contract.BUILD,
    NodeKind.PIPELINE: contract.PIPELINE,
    NodeKind.PREVIEW: contract.PREVIEW,
    NodeKind.DEPLOY: contract.ENVIRONMENT,
    NodeKind.TEST: contract.TEST,
    NodeKind.EXIT_HANDLER: contract.NOTIFY,
}


@dataclass(frozen=True)
class Node:
    """One task of the pipeline: its name (a DNS label), kind, environment and the tasks
    that must all succeed before it runs."""

    name: str
    kind: NodeKind
    environment: str | None = None
    after: tuple[str, ...] = ()

    @property
    def stage(self) -> contract.StageSpec | None:
        """The stage this node runs (None for an approval gate)."""
        return STAGE_OF.get(self.kind)


@dataclass(frozen=True)
class EnvironmentTopology:
    """What decides an environment's place in the pipeline."""

    name: str
    depends_on: tuple[str, ...]
    approval: bool
    tests: bool
    stacks: Stacks

    def to_json(self) -> dict[str, Any]:
        """The annotation entry of this environment."""
        return {
            "name": self.name,
            "depends_on": list(self.depends_on),
            "approval": APPROVAL_MANUAL if self.approval else APPROVAL_NONE,
            "tests": self.tests,
            "stacks": self.stacks if isinstance(self.stacks, str) else list(self.stacks),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EnvironmentTopology:
        """Parse an annotation entry (KeyError, TypeError or ValueError when malformed)."""
        stacks = data["stacks"]
        return cls(
            name=str(data["name"]),
            depends_on=tuple(str(dep) for dep in data["depends_on"]),
            approval=data["approval"] == APPROVAL_MANUAL,
            tests=bool(data["tests"]),
            stacks=stacks if isinstance(stacks, str) else tuple(str(s) for s in stacks),
        )


@dataclass(frozen=True)
class EnvironmentNodes:
    """An environment's nodes: its gate (if manual) and the preview before it, its deploy
    and its tests (if any)."""

    gate: Node | None
    deploy: Node
    test: Node | None
    #: What the deploy would change, computed before the gate (with the gate, or None).
    preview: Node | None = None

    @property
    def last(self) -> Node:
        """The node whose success means the environment is done."""
        return self.test or self.deploy

    def __iter__(self):  # type: ignore[no-untyped-def]
        nodes = (self.preview, self.gate, self.deploy, self.test)
        return iter(node for node in nodes if node is not None)


def _fixed_nodes() -> tuple[Node, Node, Node]:
    validation = Node(contract.VALIDATION.task, NodeKind.VALIDATION)
    build = Node(contract.BUILD.task, NodeKind.BUILD, after=(validation.name,))
    pipeline = Node(contract.PIPELINE.task, NodeKind.PIPELINE, after=(build.name,))
    return validation, build, pipeline


@dataclass(frozen=True)
class PipelineGraph:
    """The topology of one pipeline. Build it with :meth:`from_config` or
    :meth:`from_topology_json`; everything else is derived from ``environments``."""

    environments: tuple[EnvironmentTopology, ...]

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: AphexConfig) -> PipelineGraph:
        """The graph of a validated config (``depends_on`` defaults applied)."""
        return cls(
            tuple(
                EnvironmentTopology(
                    name=env.name,
                    depends_on=tuple(config.effective_depends_on(env.name)),
                    approval=env.approval == APPROVAL_MANUAL,
                    tests=env.tests is not None,
                    stacks=tuple(stack.name for stack in env.stacks),
                )
                for env in config.environments
            )
        )

    @classmethod
    def from_topology_json(cls, text: str) -> PipelineGraph:
        """The graph recorded in a template's topology annotation (ValueError if malformed)."""
        try:
            data = json.loads(text)
            return cls(tuple(EnvironmentTopology.from_json(env) for env in data["environments"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"malformed {contract.Annotation.TOPOLOGY} annotation: {exc}") from exc

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> PipelineGraph:
        """The graph of a WorkflowTemplate rendered by this package (ValueError otherwise)."""
        meta = template.get("metadata") if isinstance(template, Mapping) else None
        annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
        raw = annotations.get(contract.Annotation.TOPOLOGY) if annotations else None
        if not isinstance(raw, str):
            raise ValueError(
                f"not an aphex WorkflowTemplate: no {contract.Annotation.TOPOLOGY} annotation"
            )
        return cls.from_topology_json(raw)

    # -- views --------------------------------------------------------------------------
    @cached_property
    def _by_name(self) -> dict[str, EnvironmentTopology]:
        return {env.name: env for env in self.environments}

    def environment(self, name: str) -> EnvironmentTopology:
        """The environment called ``name`` (KeyError if absent)."""
        return self._by_name[name]

    def last_node_name(self, name: str) -> str:
        """The task whose success means environment ``name`` is done (its tests, else its
        deploy)."""
        return names.test_name(name) if self.environment(name).tests else names.deploy_name(name)

    def environment_nodes(self, name: str) -> EnvironmentNodes:
        """The preview, gate, deploy and test nodes of environment ``name``."""
        env = self.environment(name)
        after = (
            tuple(self.last_node_name(dep) for dep in env.depends_on)
            if env.depends_on
            else (contract.PIPELINE.task,)
        )
        gate = preview = None
        if env.approval:  # the gate shows what the deploy would change: preview it first
            preview = Node(names.preview_name(name), NodeKind.PREVIEW, name, after)
            gate = Node(names.approve_name(name), NodeKind.APPROVAL, name, (preview.name,))
            after = (gate.name,)
        deploy = Node(names.deploy_name(name), NodeKind.DEPLOY, name, after)
        test = (
            Node(names.test_name(name), NodeKind.TEST, name, (deploy.name,)) if env.tests else None
        )
        return EnvironmentNodes(gate, deploy, test, preview)

    @property
    def fixed_nodes(self) -> tuple[Node, ...]:
        """Validation, build and pipeline deployment, in that order."""
        return _fixed_nodes()

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node but the exit handler: the fixed ones, then each environment's."""
        out = list(_fixed_nodes())
        for env in self.environments:
            out.extend(self.environment_nodes(env.name))
        return tuple(out)

    @property
    def exit_handler(self) -> Node:
        """The node that runs after everything, whatever the outcome."""
        return Node(contract.NOTIFY.task, NodeKind.EXIT_HANDLER)

    @property
    def gated(self) -> bool:
        """Whether any environment waits for a manual approval."""
        return any(env.approval for env in self.environments)

    @property
    def tested(self) -> bool:
        """Whether any environment has post-deployment tests."""
        return any(env.tests for env in self.environments)

    def topology_json(self) -> str:
        """The ``aphex.io/topology`` annotation: compact JSON; stack lists become digests
        when the whole would not fit in an annotation."""
        envs = [env.to_json() for env in self.environments]
        text = _dump({"environments": envs})
        if len(text) > _TOPOLOGY_LIMIT:
            for entry in envs:
                if not isinstance(entry["stacks"], str):
                    digest = hashlib.sha256(json.dumps(entry["stacks"]).encode()).hexdigest()
                    entry["stacks"] = "sha256:" + digest
            text = _dump({"environments": envs})
        return text

    def diff(self, new: PipelineGraph) -> TopologyDiff:
        """What changes from this graph to ``new``."""
        before = {env.name: env for env in self.environments}
        after = {env.name: env for env in new.environments}
        kept = [name for name in after if name in before]
        old_order = tuple(name for name in before if name in after)
        new_order = tuple(kept)

        def changed(attr: str) -> list[str]:
            return [n for n in kept if getattr(before[n], attr) != getattr(after[n], attr)]

        return TopologyDiff(
            added=tuple(name for name in after if name not in before),
            removed=tuple(name for name in before if name not in after),
            order=(old_order, new_order) if old_order != new_order else None,
            dependencies=tuple(
                (n, before[n].depends_on, after[n].depends_on) for n in changed("depends_on")
            ),
            gates_added=tuple(n for n in changed("approval") if after[n].approval),
            gates_removed=tuple(n for n in changed("approval") if before[n].approval),
            tests_added=tuple(n for n in changed("tests") if after[n].tests),
            tests_removed=tuple(n for n in changed("tests") if before[n].tests),
            stacks=tuple((n, before[n].stacks, after[n].stacks) for n in changed("stacks")),
        )


def _dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class TopologyDiff:
    """Topology changes between two pipeline graphs (empty tuples: nothing changed)."""

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


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _stacks(stacks: Stacks) -> str:
    return stacks if isinstance(stacks, str) else _list(stacks)
