"""The pipeline's self-update, on any `Cluster`: regenerate, check, apply, maybe restart.

`update_template` renders the WorkflowTemplate from the config, validates it offline (every
layer), asks the cluster for a dry run against the live version and applies it with the
`resourceVersion` it read, re-reading and retrying on a conflict. An invalid template never
reaches the live one. `restart_if_topology_changed` then replaces the current run with a
new Workflow from the new template when the topology changed: once per commit.

The pipeline stage (Kubernetes) and `aphex run --local` (files) both run this code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aphex_config import AphexConfig
from aphex_generator import (
    GeneratorSettings,
    Label,
    Param,
    diff_topology,
    dns_name,
    render_workflow_template,
    validate,
)
from aphex_stages.cluster.base import (
    Cluster,
    ClusterConflict,
    ClusterError,
    ClusterRejected,
    LiveTemplate,
)
from aphex_stages.errors import ExitCode, StageError, StageSuperseded
from aphex_stages.inputs import StageInputs

__all__ = [
    "RESTART_SUFFIX",
    "TemplateUpdate",
    "is_restart",
    "restart_if_topology_changed",
    "restart_name",
    "update_template",
]

RESTART_SUFFIX = "-r1"
_SHORT_SHA = 12
#: Attempts of read, dry run and apply when another writer keeps changing the template.
ATTEMPTS = 5
BACKOFF = 0.2  # seconds, doubled after each conflict

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplateUpdate:
    """What `update_template` did."""

    changed_topology: bool
    diff_lines: list[str] = field(default_factory=list)
    applied: bool = False
    resource_version: str | None = None


def _managed(doc: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """The parts of a template the generator owns: spec, labels, annotations."""
    meta = doc.get("metadata") or {}
    return doc.get("spec"), meta.get("labels") or {}, meta.get("annotations") or {}


def _topology(live: LiveTemplate | None, doc: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether the topology changed against the live template, one line per change."""
    if live is None:
        return False, ["no live WorkflowTemplate yet: creating it"]
    try:
        diff = diff_topology(live.doc, doc)
    except ValueError as error:
        return True, [f"live WorkflowTemplate has no readable topology ({error}): replacing it"]
    return diff.changed, diff.render_lines()


def _ours_after_error(cluster: Cluster, name: str, doc: Mapping[str, Any]) -> LiveTemplate | None:
    """After an apply failed without a clear answer (a 5xx, a timeout): the live template
    when it is the one we applied (the write took effect), else None."""
    try:
        live = cluster.get_template(name)
    except ClusterError:
        return None
    return live if live is not None and _managed(live.doc) == _managed(doc) else None


def _landed(
    name: str,
    live: LiveTemplate,
    changed: bool,
    lines: list[str],
    log: logging.Logger,
    why: str,
) -> TemplateUpdate:
    log.warning(
        "WorkflowTemplate %s: the apply took effect (resourceVersion %s) though %s",
        name,
        live.resource_version,
        why,
    )
    for line in lines:
        log.info("topology: %s", line)
    return TemplateUpdate(changed, lines, True, live.resource_version)


def update_template(
    cluster: Cluster,
    config: AphexConfig,
    settings: GeneratorSettings,
    *,
    log: logging.Logger,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> TemplateUpdate:
    """Render, validate, dry-run and apply the pipeline's WorkflowTemplate.

    Raises StageError(TEMPLATE_REJECTED) when offline validation or the server's dry run
    rejects the document (the live template is left alone) and StageError(CLUSTER_FAILED)
    when the cluster fails or the template keeps changing under us.
    """
    doc = render_workflow_template(config, settings)
    name = str(doc["metadata"]["name"])
    problems = validate(doc)
    if problems:
        raise StageError(
            ExitCode.TEMPLATE_REJECTED,
            f"regenerated WorkflowTemplate failed validation: {len(problems)} problems; "
            f"the live template {name} was not changed",
            details=[f"{problem} [{problem.layer}]" for problem in problems],
        )
    # The topology change is judged against the template as this stage first found it:
    # after a lost response the live template is already ours, and comparing with it
    # would hide the change (and the new environments would not run in this run).
    first: list[LiveTemplate | None] = []
    attempted = False
    for attempt in range(1, attempts + 1):
        try:
            live = cluster.get_template(name)
            if not first:
                first.append(live)
            changed, lines = _topology(first[0], doc)
            if live is not None and _managed(live.doc) == _managed(doc):
                if attempted:  # an earlier apply landed; only its answer was lost
                    return _landed(name, live, changed, lines, log, "its answer was lost")
                log.info(
                    "WorkflowTemplate %s is up to date (resourceVersion %s); nothing to apply",
                    name,
                    live.resource_version,
                )
                return TemplateUpdate(False, ["no topology change"], False, live.resource_version)
            version = live.resource_version if live is not None else None
            cluster.dry_run_template(doc, version)
            attempted = True
            applied = cluster.apply_template(doc, version)
        except ClusterConflict as conflict:
            if attempt == attempts:
                raise StageError(
                    ExitCode.CLUSTER_FAILED,
                    f"WorkflowTemplate {name} kept changing while it was being updated: "
                    f"{attempts} attempts ended in a conflict ({conflict}); another writer is "
                    "updating it, so let that finish and retry this run",
                ) from conflict
            delay = backoff * 2 ** (attempt - 1)
            log.warning(
                "WorkflowTemplate %s changed while updating it (attempt %d of %d: %s); "
                "reading it again in %.1f s",
                name,
                attempt,
                attempts,
                conflict,
                delay,
            )
            sleep(delay)
            continue
        except ClusterRejected as rejected:
            raise StageError(
                ExitCode.TEMPLATE_REJECTED,
                f"the cluster rejected the regenerated WorkflowTemplate {name}: {rejected}; "
                "the live template was not changed",
                details=rejected.problems,
            ) from rejected
        except ClusterError as error:
            landed = _ours_after_error(cluster, name, doc) if attempted else None
            if landed is None:
                raise StageError(ExitCode.CLUSTER_FAILED, str(error)) from error
            changed, lines = _topology(first[0] if first else None, doc)
            return _landed(name, landed, changed, lines, log, f"the cluster answered: {error}")
        action = "created" if version is None else f"updated from resourceVersion {version}"
        log.info(
            "WorkflowTemplate %s %s to resourceVersion %s",
            name,
            action,
            applied.resource_version,
        )
        for line in lines:
            log.info("topology: %s", line)
        return TemplateUpdate(changed, lines, True, applied.resource_version)
    raise AssertionError("unreachable")  # pragma: no cover


def restart_name(pipeline: str, commit: str) -> str:
    """The Workflow that re-runs `commit` on a new topology: `<pipeline>-<sha12>-r1`."""
    limit = 63 - _SHORT_SHA - len(RESTART_SUFFIX) - 1
    return f"{dns_name(pipeline, limit)}-{commit[:_SHORT_SHA]}{RESTART_SUFFIX}"


def is_restart(workflow_name: str) -> bool:
    """Whether a Workflow is itself a topology restart (its name ends with `-r1`).

    Workflows from the Sensor end with the 40-hex commit, and generated names end with
    five letters or digits, so only a restart ends with `-r1`."""
    return workflow_name.endswith(RESTART_SUFFIX)


def restart_if_topology_changed(
    cluster: Cluster,
    update: TemplateUpdate,
    inputs: StageInputs,
    template_name: str,
    *,
    log: logging.Logger | None = None,
) -> None:
    """When the topology changed, submit this commit again on the new template and raise
    StageSuperseded; at most one restart per commit."""
    log = log or _log
    if not update.changed_topology:
        return
    current = inputs.workflow_name
    if not current:
        log.warning(
            "topology changed, but this run has no --workflow-name to restart; "
            "the new topology takes effect on the next run"
        )
        return
    if is_restart(current):
        log.warning(
            "topology changed again, but %s already restarted commit %s once; not restarting "
            "again: this run keeps its topology and the next run uses the new one",
            current,
            inputs.commit[:_SHORT_SHA],
        )
        return
    name = restart_name(inputs.pipeline, inputs.commit)
    labels = {
        Label.PIPELINE: inputs.pipeline,
        Label.COMMIT: inputs.commit,
        Label.RESTART_OF: current,
    }
    parameters = {Param.COMMIT_SHA: inputs.commit, Param.REPO_URL: inputs.repository}
    if inputs.redeploy is not None:  # the restart is the same redeploy
        parameters[Param.REDEPLOY_BY] = inputs.redeploy.by
        parameters[Param.REDEPLOY_REASON] = inputs.redeploy.reason
    try:
        created = cluster.submit_workflow(name, template_name, parameters, labels)
    except ClusterError as error:
        raise StageError(
            ExitCode.CLUSTER_FAILED,
            f"topology changed but the restarted workflow {name} could not be submitted: {error}",
        ) from error
    if created:
        log.info("submitted %s from WorkflowTemplate %s for the new topology", name, template_name)
    else:
        log.info("%s was already submitted (a duplicate delivery); not submitting again", name)
    changes = "; ".join(update.diff_lines)
    raise StageSuperseded(f"topology changed: {changes}; restarted as {name}")
