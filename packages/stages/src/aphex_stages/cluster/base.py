"""What the pipeline stage and the local runner need from a cluster, and its errors.

The implementation is `KubeCluster` (the Kubernetes API through the official client; a
local run serves the same API, :mod:`aphex_stages.local.kubeapi`): templates carry a
`resourceVersion`, a stale one is a conflict, a dry run validates without storing, and a
workflow name can be submitted once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class LiveTemplate:
    """A WorkflowTemplate as stored, with the version an update must name."""

    doc: dict[str, Any]
    resource_version: str


class ClusterError(Exception):
    """The cluster could not be reached or answered unexpectedly."""


class ClusterRejected(ClusterError):
    """The cluster refused a document (validation, 400/422); `problems` says why."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class ClusterConflict(ClusterError):
    """The object changed since it was read (409 on a stale `resourceVersion`)."""


class ClusterForbidden(ClusterError):
    """The credentials were not accepted (401) or may not do this (403)."""


class Cluster(Protocol):
    """The operations the pipeline stage performs on WorkflowTemplates and Workflows."""

    def get_template(self, name: str) -> LiveTemplate | None:
        """The live template named `name` in the namespace, or None."""
        ...

    def dry_run_template(self, doc: Mapping[str, Any], resource_version: str | None) -> None:
        """Validate a create (version None) or replace as the server would; store nothing."""
        ...

    def apply_template(self, doc: Mapping[str, Any], resource_version: str | None) -> LiveTemplate:
        """Create (version None) or replace the template; ClusterConflict if the version is stale."""
        ...

    def submit_workflow(
        self,
        name: str,
        template_name: str,
        parameters: Mapping[str, str],
        labels: Mapping[str, str],
    ) -> bool:
        """Submit a Workflow from `template_name`; False if `name` already exists."""
        ...
