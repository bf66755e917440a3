"""Deploy the pipeline's own CDK app (`infra/`) from the pipeline stage, when it changed.

The app reads the pipeline's settings from the aphex-config.yaml this stage loaded
(`-c aphex:configFile=PATH`), so a commit that adds a target account or a notification
topic also updates the pipeline's own roles and permissions. It is synthesized once;
`cdk diff` against that assembly decides whether anything is deployed. When the app's
inputs and stacks are those of the last deploy, nothing is synthesized at all
(:mod:`aphex_stages.infra_state`).

Environment:
- `APHEX_INFRA_APP`: the folder holding the app's `cdk.json` (the deployer image ships it).
- `APHEX_INFRA_BIN`: optional folder put first on PATH for the app (its venv's `bin`).
- `APHEX_INFRA_CONTEXT`: optional extra `KEY=VALUE` context, comma-separated; a local run
  sets `aphex:stacks=artifacts` (moto cannot hold the EKS part).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from aphex_generator import INFRA_CONFIG_FILE_CONTEXT, EnvVar
from aphex_stages.cdk import CdkRunner
from aphex_stages.cdk.errors import CdkError
from aphex_stages.environment_job import base_target, seconds_from_env
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.infra_state import InfraState, infra_fingerprint
from aphex_stages.logs import command_output
from aphex_stages.runner import pipeline_region


def infra_context(config_file: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The app's context: the config file, plus `APHEX_INFRA_CONTEXT` pairs."""
    context = {INFRA_CONFIG_FILE_CONTEXT: str(config_file)}
    raw = environ.get(EnvVar.INFRA_CONTEXT, "")
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, separator, value = pair.partition("=")
        if not separator or not key.startswith("aphex:"):
            raise StageError(
                ExitCode.USAGE,
                f"{EnvVar.INFRA_CONTEXT}: expected aphex:KEY=VALUE pairs, got {pair!r}",
            )
        context[key] = value
    return context


def deploy_pipeline_infra(
    config_file: Path,
    log: logging.Logger,
    environ: Mapping[str, str] | None = None,
    *,
    state: InfraState | None = None,
) -> bool:
    """Synthesize the pipeline's app once and deploy its stacks if `cdk diff` shows a change.

    With `state`, nothing is synthesized when the app's inputs are those of the last deploy
    and its stacks are unchanged since (:mod:`aphex_stages.infra_state`). Returns whether
    anything was deployed; a failure is StageError(DEPLOY_FAILED).
    """
    env = os.environ if environ is None else environ
    app = Path(env[EnvVar.INFRA_APP])
    if not (app / "cdk.json").is_file():
        raise StageError(ExitCode.USAGE, f"{EnvVar.INFRA_APP}={app} holds no cdk.json")
    region = pipeline_region(env)
    app_bin = env.get(EnvVar.INFRA_BIN)
    extra = {"PATH": f"{app_bin}{os.pathsep}{env.get('PATH', '')}"} if app_bin else {}
    runner = CdkRunner(
        target=base_target(region, env),
        on_line=command_output(log),
        timeout=seconds_from_env(EnvVar.DEPLOY_TIMEOUT_SECONDS, 1800, env),
        env=extra,
    )
    context = infra_context(config_file, env)
    fingerprint = infra_fingerprint(app, config_file, context, cli=runner.cli, app_bin=app_bin)
    if state is not None and state.is_current(fingerprint):
        log.info(
            "pipeline infrastructure unchanged: same inputs as its last deploy (%s) and its"
            " stacks untouched since; not synthesized",
            fingerprint[:12],
        )
        return False
    try:
        with tempfile.TemporaryDirectory(prefix="aphex-infra-") as scratch:
            assembly = runner.synth(app, Path(scratch) / "cdk.out", context)
            stacks = [stack.artifact_id for stack in assembly.stacks]
            changed = runner.diff(assembly.directory, stacks)
            if changed:
                log.info("deploying the pipeline's own stacks: %s", ", ".join(stacks))
                _forget(state)
                runner.deploy(assembly.directory, stacks, Path(scratch) / "outputs.json")
            else:
                log.info("pipeline infrastructure unchanged (%s)", ", ".join(stacks))
    except CdkError as error:
        raise StageError(ExitCode.DEPLOY_FAILED, f"pipeline infrastructure: {error}") from None
    _remember(state, fingerprint, assembly.stack_names, log)
    return changed


def _forget(state: InfraState | None) -> None:
    if state is None:
        return
    try:
        state.forget()
    except (BotoCoreError, ClientError) as error:
        # A stale record could make the next run skip a deploy that failed: stop here.
        raise StageError(
            ExitCode.AWS_FAILED,
            f"could not clear s3://{state.bucket}/{state.key} before deploying: {error}",
        ) from None


def _remember(
    state: InfraState | None, fingerprint: str, stacks: Iterable[str], log: logging.Logger
) -> None:
    if state is None:
        return
    try:
        state.save(fingerprint, stacks)
    except (BotoCoreError, ClientError) as error:  # the next run just diffs again
        log.warning("could not record the pipeline's deployed inputs: %s", error)
