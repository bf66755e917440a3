"""`aphex redeploy SHA --reason ...`: the one explicit way back to an older commit.

A pipeline and each of its environments only move forward along the branch (see
:mod:`aphex_stages.head`). A redeploy is a Workflow of the pipeline's template whose
``redeploy-by`` and ``redeploy-reason`` parameters are set; the Sensor never sets them.
With them the pipeline and deploy stages accept an older commit, and the heads they move
record who asked, why, and which commit was replaced.

On a cluster the Workflow is submitted with the kubeconfig's user (or ``APHEX_KUBE_HOST``);
``aphex redeploy --local`` runs it here as ``aphex run --local`` would.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aphex_generator import Label, Param, workflow_name_prefix
from aphex_stages.cluster import ClusterError, cluster_from_env
from aphex_stages.head import Redeploy
from aphex_stages.inputs import check_redeploy
from aphex_stages.local.layout import config_at, resolve_commit

__all__ = ["RedeployRequest", "redeploy_request", "redeploy_workflow_name", "submit_redeploy"]


@dataclass(frozen=True)
class RedeployRequest:
    """A commit to go back to, the pipeline it belongs to, and who asked and why."""

    repo: Path
    commit: str
    pipeline: str
    namespace: str
    repository: str
    redeploy: Redeploy


def _requester(repo: Path) -> str:
    """The git user's email in `repo`, else the login name."""
    import git

    try:
        email = git.Repo(repo).config_reader().get_value("user", "email", default="")
    except (OSError, ValueError, git.GitError):
        email = ""
    return str(email).strip() or getpass.getuser()


def redeploy_request(repo: Path, commit: str, reason: str, by: str | None) -> RedeployRequest:
    """The request for `commit` of the repository at `repo`, checked: the commit exists and
    its config names the pipeline; `reason` and `by` are one line each (LocalRunError, or
    StageError(USAGE) for a bad reason)."""
    top, sha = resolve_commit(repo, commit)
    config = config_at(top, sha)
    redeploy = check_redeploy(Redeploy(by=by or _requester(top), reason=reason))
    return RedeployRequest(
        repo=top,
        commit=sha,
        pipeline=config.pipeline.name,
        namespace=config.pipeline.namespace,
        repository=config.pipeline.repository,
        redeploy=redeploy,
    )


def redeploy_workflow_name(pipeline: str, commit: str, now: datetime | None = None) -> str:
    """``<pipeline prefix><12 hex digits>-redeploy-<UTC time>``: never a push's name."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    return f"{workflow_name_prefix(pipeline)}{commit[:12]}-redeploy-{stamp}"


def submit_redeploy(request: RedeployRequest) -> str:
    """Submit the redeploy Workflow to the cluster; its name. ClusterError if refused."""
    cluster = cluster_from_env(request.namespace)
    name = redeploy_workflow_name(request.pipeline, request.commit)
    parameters = {
        Param.COMMIT_SHA: request.commit,
        Param.REPO_URL: request.repository,
        Param.REDEPLOY_BY: request.redeploy.by,
        Param.REDEPLOY_REASON: request.redeploy.reason,
    }
    labels = {Label.PIPELINE: request.pipeline, Label.COMMIT: request.commit}
    if not cluster.submit_workflow(name, request.pipeline, parameters, labels):
        raise ClusterError(f"a Workflow named {name} exists already; try again in a second")
    return name
