"""The environment stage's core: deploy one environment of a built commit (no cluster needed).

    job = EnvironmentJob(pipeline="shop", commit=sha, environment="dev", bucket="artifacts",
                         work_dir=Path("/tmp/work"))
    result = deploy_environment(job, on_line=print)
    result.outputs          # {"StorageStack": {"BucketName": ...}, ...}

The steps: download the commit's artifact and verify it; load ``aphex-config.yaml`` from
its tree; install (or reuse) the config's ``toolchain``; assume the environment's role;
synthesize the CDK app once, in the tree, with the context ``account``, ``region``,
``environment`` and the environment's ``context``; deploy the configured stacks in order
from that one assembly; store the outputs beside the artifact as
``outputs/<environment>.json``.

The stage's job, its artifact and its target come from :mod:`aphex_stages.environment_job`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from aphex_config import Environment
from aphex_generator import EnvVar, outputs_name
from aphex_stages.artifact import s3_client, upload_beside
from aphex_stages.cdk import (
    AwsTarget,
    CdkCliNotFoundError,
    CdkDeployError,
    CdkError,
    CdkRunner,
    CdkTimeoutError,
    CloudAssembly,
    ContextValue,
    MissingContextError,
)
from aphex_stages.environment_job import (
    EnvironmentJob,
    FetchedEnvironment,
    app_path,
    environment_target,
    fetch_environment,
    move_environment_forward,
    seconds_from_env,
)
from aphex_stages.errors import ExitCode, StageError

__all__ = [
    "DEFAULT_DEPLOY_TIMEOUT",
    "DEPLOY_TIMEOUT_ENV",
    "SYNTH_TIMEOUT",
    "DeployResult",
    "deploy_budget",
    "deploy_environment",
    "in_progress_resources",
    "require_stack_environments",
    "synth_context",
    "synth_environment",
]

DEFAULT_DEPLOY_TIMEOUT = 30 * 60.0
DEPLOY_TIMEOUT_ENV = EnvVar.DEPLOY_TIMEOUT_SECONDS
SYNTH_TIMEOUT = 15 * 60.0
_RESERVED_CONTEXT = ("account", "region", "environment")
_TAIL = 20

_log = logging.getLogger("aphex.deploy")


@dataclass(frozen=True)
class DeployResult:
    """What a deployment did: the outputs, where they went, and how long each step took."""

    environment: str
    stacks: tuple[str, ...]
    outputs: dict[str, dict[str, str]]
    outputs_file: Path
    outputs_key: str
    synth_count: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def output_keys(self) -> tuple[str, ...]:
        """``Stack.OutputKey`` of every output, in deploy order."""
        return tuple(f"{stack}.{key}" for stack, values in self.outputs.items() for key in values)


def synth_context(env: Environment) -> dict[str, ContextValue]:
    """The environment's ``context`` plus ``account``, ``region`` and ``environment`` (these win)."""
    context: dict[str, ContextValue] = dict(env.context)
    overridden = sorted(key for key in _RESERVED_CONTEXT if key in context)
    if overridden:
        _log.warning("context %s of %s is set by the pipeline", ", ".join(overridden), env.name)
    context.update({"account": env.account, "region": env.region, "environment": env.name})
    return context


def _tail(lines: tuple[str, ...]) -> list[str]:
    return [line for line in lines if line.strip()][-_TAIL:]


def synth_environment(
    runner: CdkRunner, fetched: FetchedEnvironment, out: Path, timeout: float
) -> CloudAssembly:
    """Synthesize the environment's app once into ``out``; StageError when it fails, lacks
    one of the environment's stacks or targets another account or region."""
    env = fetched.env
    try:
        assembly = runner.synth(fetched.tree, out, synth_context(env), timeout=timeout)
    except CdkTimeoutError as error:
        raise StageError(
            ExitCode.TIMEOUT,
            f"cdk synth for {env.name} did not finish within {timeout:g} s",
            details=_tail(error.output),
        ) from None
    except MissingContextError as error:
        raise StageError(ExitCode.DEPLOY_FAILED, str(error)) from None
    except CdkError as error:
        output = getattr(error, "output", ())
        raise StageError(ExitCode.DEPLOY_FAILED, str(error), details=_tail(output)) from None
    missing = [stack.name for stack in env.stacks if stack.name not in assembly.stack_names]
    if missing:
        raise StageError(
            ExitCode.DEPLOY_FAILED,
            f"the CDK app has no stack {', '.join(missing)} for {env.name}"
            f" (it has: {', '.join(assembly.stack_names) or 'none'})",
        )
    require_stack_environments(assembly, env)
    return assembly


def require_stack_environments(assembly: CloudAssembly, env: Environment) -> None:
    """Every stack of `env` targets its account and region (or none: environment-agnostic
    stacks deploy where the pipeline sends them); anything else is refused before deploying."""
    for stack in env.stacks:
        artifact = assembly.stack(stack.name)
        wrong = [
            f"{what} {value} (the environment's is {expected})"
            for what, value, expected in (
                ("account", artifact.account, env.account),
                ("region", artifact.region, env.region),
            )
            if value is not None and value != expected
        ]
        if wrong:
            raise StageError(
                ExitCode.DEPLOY_FAILED,
                f"the CDK app synthesized {stack.name} for {' and '.join(wrong)}; {env.name}"
                " deploys only to its own account and region: build the stack's env from the"
                " `account` and `region` context the pipeline passes",
            )


def deploy_budget(env: Environment, environ: Mapping[str, str] | None = None) -> float:
    """Seconds the environment's deploys may take: its ``deploy_timeout_minutes``, unless
    an operator overrides every environment with ``APHEX_DEPLOY_TIMEOUT_SECONDS``."""
    return seconds_from_env(DEPLOY_TIMEOUT_ENV, env.deploy_timeout_minutes * 60.0, environ)


def in_progress_resources(target: AwsTarget, stack: str) -> list[str]:
    """The stack's resources still in progress (``LogicalId (Type)``), as CloudFormation
    reports them with the target's credentials; empty when it cannot be asked."""
    env = {name: value for name, value in target.environ().items() if value}
    try:
        session = boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
            region_name=env.get("AWS_REGION"),
        )
        client = session.client("cloudformation", endpoint_url=target.endpoint)
        resources = client.describe_stack_resources(StackName=stack)["StackResources"]
    except (BotoCoreError, ClientError):
        return []
    return [
        f"{item['LogicalResourceId']} ({item.get('ResourceType', '?')})"
        for item in resources
        if item.get("LogicalResourceId")
        and str(item.get("ResourceStatus", "")).endswith("_IN_PROGRESS")
    ]


def _deploy_failure(
    error: CdkDeployError, runner: CdkRunner, timeout: float, env_name: str
) -> StageError:
    done = ", ".join(error.outputs) or "none"
    details = [f"deployed before it: {done}", *_tail(error.output)]
    if error.timed_out:
        pending = in_progress_resources(runner.target, error.stack) if error.stack else []
        waiting = f"; still in progress: {', '.join(pending)}" if pending else ""
        if runner.target.is_local:
            hint = (
                "against local AWS a Lambda-backed custom resource never completes;"
                f" {runner.target.describe()}"
            )
        else:
            hint = "look for a custom resource or a resource waiting on a signal in its events"
        return StageError(
            ExitCode.TIMEOUT,
            f"{error.stack} did not finish deploying within the deploy timeout of {timeout:g} s"
            f" (environments[{env_name}].deploy_timeout_minutes in aphex-config.yaml, or"
            f" {DEPLOY_TIMEOUT_ENV}){waiting}; {hint}",
            details=details,
        )
    reason = error.reason or str(error)
    where = f" [{runner.target.describe()}]" if runner.target.is_local else ""
    return StageError(ExitCode.DEPLOY_FAILED, f"{error.stack} failed: {reason}{where}", details)


def _deploy(
    runner: CdkRunner,
    assembly: CloudAssembly,
    stacks: tuple[str, ...],
    outputs_file: Path,
    timeout: float,
    env_name: str,
) -> dict[str, dict[str, str]]:
    """Deploy ``stacks`` in order from ``assembly`` with one CLI run, within ``timeout``."""
    try:
        return runner.deploy(assembly.directory, stacks, outputs_file, timeout=timeout)
    except CdkDeployError as error:
        raise _deploy_failure(error, runner, timeout, env_name) from None
    except CdkError as error:
        raise StageError(ExitCode.DEPLOY_FAILED, str(error)) from None


def _write_outputs(path: Path, outputs: Mapping[str, Mapping[str, str]]) -> bytes:
    data = (json.dumps(outputs, indent=2) + "\n").encode("utf-8")
    path.write_bytes(data)
    return data


def deploy_environment(
    job: EnvironmentJob,
    *,
    s3: Any | None = None,
    cli: str | os.PathLike[str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    log: logging.Logger | None = None,
) -> DeployResult:
    """Deploy ``job.environment`` of ``job.commit``; raise StageError on any failure.

    ``timeout`` (default: :func:`deploy_budget`, the environment's deploy_timeout_minutes)
    bounds the deploys of all stacks together; synth has its own limit
    (:data:`SYNTH_TIMEOUT`). ``cli`` is the ``cdk`` executable (default: the pinned one).
    """
    log = log or _log
    s3 = s3 if s3 is not None else s3_client()
    timings: dict[str, float] = {}
    started = time.monotonic()
    fetched = fetch_environment(job, s3)
    move_environment_forward(job, fetched.committed_at, s3)
    env = fetched.env
    budget = timeout if timeout is not None else deploy_budget(env)
    stacks = tuple(stack.name for stack in env.stacks)
    timings["fetch"] = time.monotonic() - started
    mark = time.monotonic()
    target = environment_target(job, env)
    timings["assume_role"] = time.monotonic() - mark
    log.info(
        "deploying %s to %s/%s (%s)", ", ".join(stacks), env.account, env.region, target.describe()
    )
    mark = time.monotonic()
    app_environ = app_path(fetched, log=log, on_line=on_line)
    timings["toolchain"] = time.monotonic() - mark
    try:
        runner = CdkRunner(
            target=target, cli=cli, on_line=on_line, timeout=SYNTH_TIMEOUT, env=app_environ
        )
    except CdkCliNotFoundError as error:
        raise StageError(ExitCode.DEPLOY_FAILED, str(error)) from None
    mark = time.monotonic()
    assembly = synth_environment(runner, fetched, fetched.scratch / "cdk.out", SYNTH_TIMEOUT)
    timings["synth"] = time.monotonic() - mark
    mark = time.monotonic()
    outputs_file = fetched.scratch / "outputs.json"
    outputs = _deploy(runner, assembly, stacks, outputs_file, budget, env.name)
    timings["deploy"] = time.monotonic() - mark
    data = _write_outputs(outputs_file, outputs)
    key = upload_beside(s3, job.bucket, fetched.location, outputs_name(env.name), data)
    timings["total"] = time.monotonic() - started
    return DeployResult(
        environment=env.name,
        stacks=stacks,
        outputs=outputs,
        outputs_file=outputs_file,
        outputs_key=key,
        synth_count=runner.synth_count,
        timings=timings,
    )
