"""``aphex-stage-validation``: check that the commit can be built, before anything runs.

It runs in the builder image, so it checks what that image is meant to have. Every check
runs and every problem is reported at once:

* the configuration at the commit parses (else exit 4, CONFIG_INVALID, with every problem);
* AWS credentials work (STS ``GetCallerIdentity`` of this stage's own identity; it may not
  assume the environments' deploy roles, which only their deploy stages can);
* the artifact bucket answers, when ``APHEX_ARTIFACT_BUCKET`` is set;
* ``cdk.json`` parses and names the ``app``; ``cdk.context.json``, if present, parses;
* every string build command parses (``/bin/sh -n``) and its program is on PATH;
* node >= 18 and npm >= 9 (for the build commands).

The deployer's tools (the pinned CDK CLI, the test commands' programs) are checked by the
pipeline stage, in the deployer image, before anything deploys.

Any other problem: exit 12, PRECONDITION_FAILED, with one detail line per problem.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from aphex_config import AphexConfig
from aphex_generator import VALIDATION
from aphex_monitoring import RunFacts, record_run_start
from aphex_stages.artifact import check_bucket, s3_client
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.preflight import build_commands, check_cdk_files, check_commands, check_toolchain
from aphex_stages.runner import Stage, StageContext, pipeline_region
from aphex_stages.workspace import checkout_source, load_workspace_config

__all__ = ["check_aws", "main", "stage"]

# -- AWS ------------------------------------------------------------------------------------


def _aws_reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")
    if isinstance(error, BotoConnectionError | HTTPClientError):
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the STS endpoint"
        return f"cannot reach {endpoint}: {error}"
    return str(error)


def _sts(region: str) -> Any:
    session = boto3.session.Session()
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 3)
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=5,
        read_timeout=20,
    )
    return session.client("sts", region_name=region, config=config)


def check_aws(*, log: Any) -> list[str]:
    """Problems with this stage's AWS credentials (STS ``GetCallerIdentity``)."""
    try:
        identity = _sts(pipeline_region()).get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        return [f"AWS credentials: sts:GetCallerIdentity failed ({_aws_reason(error)})"]
    log.info("AWS identity %s (account %s)", identity.get("Arn"), identity.get("Account"))
    return []


# -- the stage ------------------------------------------------------------------------------


def _check_bucket(bucket: str | None) -> list[str]:
    if not bucket:
        return []
    try:
        check_bucket(s3_client(max_attempts=3), bucket)
    except StageError as error:
        return [f"artifact bucket: {error.cause}"]
    return []


def _run_checks(checks: Sequence[Callable[[], list[str]]]) -> list[str]:
    """Run independent checks at once (they mostly wait on AWS and on tools' processes);
    their problems in the order of `checks`."""
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = [pool.submit(check) for check in checks]
        return [problem for future in futures for problem in future.result()]


def _announce_run(context: StageContext) -> None:
    """The run starts here: a Running record and a `pending` GitHub status (bounded, never fails)."""
    inputs = context.inputs
    if inputs.workflow_name:
        record_run_start(
            RunFacts(
                pipeline=inputs.pipeline,
                workflow_name=inputs.workflow_name,
                commit_sha=inputs.commit,
                repository=inputs.repository,
                trigger="push",
            )
        )


def _work(context: StageContext) -> None:
    log = context.log
    _announce_run(context)
    checkout = checkout_source(context)
    root = checkout.path
    config: AphexConfig | None = None
    config_error: StageError | None = None
    try:
        config = load_workspace_config(root)
    except StageError as error:
        config_error = error
    checks: list[Callable[[], list[str]]] = [lambda: check_aws(log=log)]
    if config is not None:
        loaded = config
        checks.append(lambda: check_commands(build_commands(loaded), root))
    checks.append(lambda: _check_bucket(context.settings.artifact_bucket))
    checks.append(lambda: check_cdk_files(root))
    checks.append(lambda: check_toolchain(root, cdk=False))
    problems = _run_checks(checks)
    if config_error is not None:
        more = f"; and {len(problems)} other problems" if problems else ""
        raise StageError(
            ExitCode.CONFIG_INVALID,
            config_error.cause + more,
            details=[*config_error.details, *problems],
        )
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise StageError(ExitCode.PRECONDITION_FAILED, f"{count}: {problems[0]}", details=problems)
    assert config is not None
    log.info(
        "validation passed: %d environments, %d build commands, build tools and CDK files ok",
        len(config.environments),
        len(config.build.commands),
    )


stage = Stage(
    spec=VALIDATION,
    description="Check the config, credentials, CDK files and build tools of the commit.",
    work=_work,
)
main = stage.main
