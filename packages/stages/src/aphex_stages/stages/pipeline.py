"""``aphex-stage-pipeline``: the pipeline updates itself from the commit it runs.

1. checks out exactly the commit and loads its ``aphex-config.yaml``; checks the deployer's
   tools (node, npm, the pinned CDK CLI, the test commands' programs: this is the first
   stage in the deployer image), exit 12 when one is missing;
2. deploys the pipeline's own CDK app when ``APHEX_INFRA_APP`` (``EnvVar.INFRA_APP``) is set (skipped otherwise),
   without even synthesizing it when its inputs are those of its last deploy;
3. regenerates the WorkflowTemplate from the config, with every other setting taken from
   the pod's environment variables (never from the commit), validates it, has the cluster
   dry-run it and applies it with the ``resourceVersion`` it read (``selfupdate``);
4. when the topology changed, submits this commit again on the new template (once per
   commit) and ends this run as superseded: the stage succeeds with the output
   ``superseded=true``, so the run's environment tasks are skipped (their `when`) and the
   run succeeds; its record says Superseded. Otherwise the output is ``false``.

The cluster is the Kubernetes API: in-cluster with the pod's service account, or the API
server ``APHEX_KUBE_HOST`` names with the token ``APHEX_KUBE_TOKEN`` (a local run's).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from aphex_config import AphexConfig
from aphex_generator import CONFIG_FILE, PIPELINE, EnvVar, Output, head_key
from aphex_stages.cluster import ClusterError, cluster_from_env
from aphex_stages.errors import ExitCode, StageError, StageSuperseded
from aphex_stages.generator_settings import generator_settings_from_env
from aphex_stages.preflight import check_commands, check_toolchain, test_commands
from aphex_stages.runner import Stage, StageContext, pipeline_region
from aphex_stages.selfupdate import restart_if_topology_changed, update_template
from aphex_stages.workspace import open_workspace

__all__ = ["main", "stage"]


def _deploy_infra(config_file: Path, context: StageContext) -> None:
    log = context.log
    if not os.environ.get(EnvVar.INFRA_APP):
        log.info("%s is not set: not deploying the pipeline's own CDK app", EnvVar.INFRA_APP)
        return
    from aphex_stages.infra_deploy import deploy_pipeline_infra
    from aphex_stages.infra_state import InfraState

    bucket = context.settings.require_bucket()
    state = InfraState.connect(bucket, context.inputs.pipeline, pipeline_region(os.environ))
    deploy_pipeline_infra(config_file, log, state=state)


def _preflight(root: Path, config: AphexConfig, log: logging.Logger) -> None:
    """The deployer's tools, checked here (in the deployer image) before anything deploys:
    node, npm and the pinned CDK CLI, and the programs of the test commands (unless the
    config has a ``toolchain``: they come from it, installed only in the environment stage)."""
    tests = [] if config.toolchain is not None else test_commands(config)
    problems = check_toolchain(root, cdk=True) + check_commands(tests, root)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise StageError(
            ExitCode.PRECONDITION_FAILED,
            f"the deployer cannot deploy this commit: {count}: {problems[0]}",
            details=problems,
        )
    log.info("deployer tools ok: node, npm, the CDK CLI and the test commands' programs")


def _move_forward(context: StageContext, committed_at: datetime) -> None:
    """Make this commit the pipeline's head, or end the run as stale: a newer commit's
    pipeline stage already ran, and an older commit never redeploys over it (unless
    `aphex redeploy` asked for exactly that)."""
    from aphex_stages.artifact import s3_client
    from aphex_stages.head import advance_head

    inputs = context.inputs
    bucket = context.settings.require_bucket()
    if inputs.redeploy is not None:
        context.log.warning(
            "redeploy of %s requested by %s: %s",
            inputs.commit[:12],
            inputs.redeploy.by,
            inputs.redeploy.reason,
        )
    newer = advance_head(
        s3_client(),
        bucket,
        head_key(inputs.pipeline),
        inputs.commit,
        committed_at,
        redeploy=inputs.redeploy,
    )
    if newer is None:
        return
    context.outputs[Output.SUPERSEDED] = "true"  # the run's later tasks are skipped
    raise StageSuperseded(
        f"commit {newer.commit[:12]} (committed {newer.committed_at:%Y-%m-%d %H:%M:%S %Z}) is"
        f" newer than {inputs.commit[:12]} (committed {committed_at:%Y-%m-%d %H:%M:%S %Z}) and"
        " already ran: the pipeline only moves forward, so this run deploys nothing (to go"
        f" back on purpose: aphex redeploy {inputs.commit} --reason ...)"
    )


def _work(context: StageContext) -> None:
    inputs, log = context.inputs, context.log
    context.settings.require_bucket()  # the template names it; never regenerate a default
    workspace = open_workspace(context)
    config = workspace.config
    if config.pipeline.name != inputs.pipeline:
        raise StageError(
            ExitCode.CONFIG_INVALID,
            f"aphex-config.yaml at {inputs.commit[:12]} names pipeline "
            f"{config.pipeline.name!r}, but this is pipeline {inputs.pipeline!r}; a pipeline "
            "cannot rename itself: install the new name separately",
        )
    _preflight(workspace.path, config, log)
    _move_forward(context, workspace.checkout.committed_at)
    _deploy_infra(workspace.path / CONFIG_FILE, context)
    settings = generator_settings_from_env()
    namespace = settings.namespace or config.pipeline.namespace
    try:
        cluster = cluster_from_env(namespace)
    except ClusterError as error:
        raise StageError(ExitCode.CLUSTER_FAILED, str(error)) from error
    update = update_template(cluster, config, settings, log=log)
    context.outputs[Output.SUPERSEDED] = "false"
    try:
        restart_if_topology_changed(cluster, update, inputs, config.pipeline.name, log=log)
    except StageSuperseded:
        context.outputs[Output.SUPERSEDED] = "true"  # the run's later tasks are skipped
        raise


stage = Stage(
    spec=PIPELINE,
    description="Deploy the pipeline's own infrastructure, regenerate and apply its "
    "WorkflowTemplate, and restart the run when the topology changed.",
    work=_work,
)
main = stage.main
