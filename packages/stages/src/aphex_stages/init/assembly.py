"""The stacks of a synthesized cloud assembly in dependency order, and their outputs.

    stacks = stacks_in_order(read_cloud_assembly("cdk.out"))   # dependencies first

Only stack artifacts (``aws:cloudformation:stack``) count; a dependency through another
artifact (an asset manifest, a nested assembly) counts as a dependency on the stacks that
artifact depends on. Stacks with no order between them keep the app's definition order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aphex_stages.cdk import CloudAssembly, StackArtifact
from aphex_stages.init.errors import InitError

__all__ = ["output_keys", "stacks_in_order"]


def _stack_dependencies(
    artifacts: Mapping[str, Any], stack_ids: set[str], artifact_id: str
) -> set[str]:
    """The stacks `artifact_id` depends on, directly or through non-stack artifacts."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = list(_dependencies(artifacts, artifact_id))
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in stack_ids:
            found.add(current)
        else:
            pending.extend(_dependencies(artifacts, current))
    return found


def _dependencies(artifacts: Mapping[str, Any], artifact_id: str) -> list[str]:
    artifact = artifacts.get(artifact_id)
    if not isinstance(artifact, dict):
        return []
    return [str(dep) for dep in artifact.get("dependencies") or ()]


def stacks_in_order(assembly: CloudAssembly) -> tuple[StackArtifact, ...]:
    """The assembly's stacks, each after every stack it depends on; InitError on a cycle
    or when there is no stack."""
    if not assembly.stacks:
        raise InitError(
            f"the app synthesized no stacks into {assembly.directory.name}"
            " (stacks inside a cdk.Stage are not deployed by AphexPipeline)"
        )
    artifacts = assembly.manifest.get("artifacts") or {}
    by_id = {stack.artifact_id: stack for stack in assembly.stacks}
    needs = {
        stack_id: _stack_dependencies(artifacts, set(by_id), stack_id) - {stack_id}
        for stack_id in by_id
    }
    ordered: list[StackArtifact] = []
    placed: set[str] = set()
    while len(ordered) < len(by_id):
        ready = [sid for sid in by_id if sid not in placed and needs[sid] <= placed]
        if not ready:
            cycle = sorted(sid for sid in by_id if sid not in placed)
            raise InitError(f"the app's stacks depend on each other in a cycle: {', '.join(cycle)}")
        placed.add(ready[0])  # one at a time: the first ready in definition order
        ordered.append(by_id[ready[0]])
    return tuple(ordered)


def output_keys(assembly: CloudAssembly, stack: StackArtifact) -> tuple[str, ...]:
    """The output keys of `stack`'s synthesized template (empty when it has none)."""
    try:
        template = assembly.template(stack.artifact_id)
    except (OSError, ValueError):
        return ()
    outputs = template.get("Outputs") if isinstance(template, dict) else None
    return tuple(str(key) for key in outputs) if isinstance(outputs, dict) else ()
