"""Compare the topology of two rendered WorkflowTemplates (a view of their pipeline graphs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aphex_generator.graph import PipelineGraph, TopologyDiff

__all__ = ["TopologyDiff", "diff_topology"]


def diff_topology(old: Mapping[str, Any], new: Mapping[str, Any]) -> TopologyDiff:
    """Compare two rendered WorkflowTemplates: environments, order, dependencies, gates,
    tests and stacks. ValueError when either has no readable topology annotation."""
    return PipelineGraph.from_template(old).diff(PipelineGraph.from_template(new))
