"""The local "cluster" of `aphex run --local`: WorkflowTemplates and Workflows as files.

Layout under the root (`<repo>/.aphex/local/` by default), per namespace:

    <ns>/workflowtemplates/<name>.json   {"resourceVersion": "7", "object": {...}}
    <ns>/workflows/<name>.json           a submitted Workflow, created once

It answers like the API server: a dry run validates without storing, an update must
name the current `resourceVersion` (else ClusterConflict), a create of an existing
name conflicts, and a workflow name can be submitted once. Every write is atomic
(temporary file, then rename) under an exclusive lock, so concurrent local runs and
a crash never leave half a template behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aphex_stages.cluster.base import ClusterConflict, ClusterRejected, LiveTemplate
from aphex_stages.jsonfile import write_json_atomically

# The layers a real API server checks: the installed CRD schema and its CEL rules.
SERVER_LAYERS = frozenset({"crd", "cel"})


def _server_problems(doc: Mapping[str, Any]) -> list[str]:
    from aphex_generator import validate

    return [str(problem) for problem in validate(dict(doc)) if problem.layer in SERVER_LAYERS]


class LocalCluster:
    """WorkflowTemplates and Workflows stored under `root`, with API-server semantics."""

    def __init__(self, root: Path, namespace: str) -> None:
        self.root = root
        self.namespace = namespace
        self._base = root / namespace

    # -- paths and locking ------------------------------------------------------------
    def _template_path(self, name: str) -> Path:
        return self._base / "workflowtemplates" / f"{name}.json"

    def workflow_path(self, name: str) -> Path:
        """Where a submitted workflow named `name` is stored."""
        return self._base / "workflows" / f"{name}.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._base.mkdir(parents=True, exist_ok=True)
        with open(self._base / ".lock", "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self, name: str) -> LiveTemplate | None:
        path = self._template_path(name)
        if not path.exists():
            return None
        stored = json.loads(path.read_text(encoding="utf-8"))
        return LiveTemplate(doc=stored["object"], resource_version=str(stored["resourceVersion"]))

    def _check(self, doc: Mapping[str, Any], resource_version: str | None) -> str:
        name = str(doc.get("metadata", {}).get("name", ""))
        if not name:
            raise ClusterRejected("metadata.name: Required value")
        problems = _server_problems(doc)
        if problems:
            raise ClusterRejected(f"WorkflowTemplate {name!r} is invalid", problems)
        live = self._read(name)
        if resource_version is None and live is not None:
            raise ClusterConflict(f"workflowtemplates {name!r} already exists")
        if resource_version is not None:
            if live is None:
                raise ClusterConflict(f"workflowtemplates {name!r} not found")
            if live.resource_version != resource_version:
                raise ClusterConflict(
                    f"workflowtemplates {name!r}: the object has been modified "
                    f"(resourceVersion {resource_version} is stale, now {live.resource_version})"
                )
        return name

    # -- the Cluster protocol ---------------------------------------------------------
    def get_template(self, name: str) -> LiveTemplate | None:
        """The live template named `name`, or None."""
        with self._locked():
            return self._read(name)

    def dry_run_template(self, doc: Mapping[str, Any], resource_version: str | None) -> None:
        """Validate a create or replace as the API server would; store nothing."""
        with self._locked():
            self._check(doc, resource_version)

    def apply_template(self, doc: Mapping[str, Any], resource_version: str | None) -> LiveTemplate:
        """Create (version None) or replace the template with the next resourceVersion."""
        with self._locked():
            name = self._check(doc, resource_version)
            next_version = str(int(resource_version or "0") + 1)
            stored = json.loads(json.dumps(doc))
            stored.setdefault("metadata", {})["resourceVersion"] = next_version
            write_json_atomically(
                self._template_path(name),
                {"resourceVersion": next_version, "object": stored},
                sort_keys=True,
            )
            return LiveTemplate(doc=stored, resource_version=next_version)

    def submit_workflow(
        self,
        name: str,
        template_name: str,
        parameters: Mapping[str, str],
        labels: Mapping[str, str],
    ) -> bool:
        """Record a Workflow to run from `template_name`; False if `name` already exists."""
        with self._locked():
            path = self.workflow_path(name)
            if path.exists():
                return False
            write_json_atomically(
                path,
                {
                    "name": name,
                    "template": template_name,
                    "parameters": dict(parameters),
                    "labels": dict(labels),
                    "phase": "Pending",
                },
                sort_keys=True,
            )
            return True

    # -- what the local runner needs beyond the protocol --------------------------------
    def read_workflow(self, name: str) -> dict[str, Any] | None:
        """A submitted workflow's record, or None."""
        path = self.workflow_path(name)
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def pending_workflows(self) -> list[dict[str, Any]]:
        """Submitted workflows that no runner has started yet, oldest name first."""
        folder = self._base / "workflows"
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("phase") == "Pending":
                found.append(data)
        return found

    def set_workflow_phase(self, name: str, phase: str) -> None:
        """Move a submitted workflow to `phase` (Running, Succeeded, Failed, ...)."""
        with self._locked():
            data = self.read_workflow(name)
            if data is None:
                raise ClusterConflict(f"workflows {name!r} not found")
            data["phase"] = phase
            write_json_atomically(self.workflow_path(name), data, sort_keys=True)
