"""The job of an environment or test stage: which commit and environment, its verified
artifact, the environment's AWS target, and its head.

    job = EnvironmentJob.from_stage(context)
    fetched = fetch_environment(job, s3)               # verified tree, config, environment
    move_environment_forward(job, fetched.committed_at, s3)
    target = environment_target(job, fetched.env)      # credentials of its deploy role

Shared by :mod:`aphex_stages.deploy` (the environment stage) and
:mod:`aphex_stages.testrun` (the test stage).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import BotoCoreError, ClientError

from aphex_config import AphexConfig, Environment
from aphex_generator import (
    EXTERNAL_ID_KEY,
    EXTERNAL_ID_SECRET,
    EnvVar,
    Option,
    environment_head_key,
    session_name,
)
from aphex_monitoring import register_secret
from aphex_stages.artifact import ArtifactLocation, download_verified, require_digest
from aphex_stages.artifact.tarball import SHA256_HEX
from aphex_stages.cdk import AwsCredentials, AwsTarget, LocalAws, assume_role
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.head import Head, Redeploy, advance_head, read_head
from aphex_stages.toolchain import prepare_toolchain
from aphex_stages.workspace import load_workspace_config

if TYPE_CHECKING:
    from aphex_stages.runner import StageContext

__all__ = [
    "LOCAL_AWS_LOG_ENV",
    "EnvironmentJob",
    "FetchedEnvironment",
    "app_path",
    "base_target",
    "environment_target",
    "fetch_environment",
    "move_environment_forward",
    "newer_deployed",
    "seconds_from_env",
]

LOCAL_AWS_LOG_ENV = EnvVar.LOCAL_AWS_LOG  # the local AWS server's log, named in failures
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

_log = logging.getLogger("aphex.deploy")


@dataclass(frozen=True)
class EnvironmentJob:
    """One environment of one built commit, and where a stage may write."""

    pipeline: str
    commit: str
    environment: str
    bucket: str
    work_dir: Path
    #: The SHA-256 the run's build stage reported: any other artifact is refused.
    artifact_sha256: str | None = None
    #: Set by `aphex redeploy` only: the environment may go back to this older commit.
    redeploy: Redeploy | None = None

    @classmethod
    def from_stage(cls, context: StageContext) -> EnvironmentJob:
        """The job of a stage run with ``--environment`` (the bucket from its settings)."""
        environment = context.inputs.environment
        if environment is None:
            raise StageError(ExitCode.USAGE, "--environment is required")
        digest = getattr(context.args, "artifact_sha256", None)
        if digest is not None and not SHA256_HEX.fullmatch(digest):
            raise StageError(
                ExitCode.USAGE,
                f"{Option.ARTIFACT_SHA256} must be 64 lower-case hex digits, got {digest!r}",
            )
        return cls(
            pipeline=context.inputs.pipeline,
            commit=context.inputs.commit,
            environment=environment,
            bucket=context.settings.require_bucket(),
            work_dir=context.settings.work_dir,
            artifact_sha256=digest,
            redeploy=context.inputs.redeploy,
        )


@dataclass(frozen=True)
class FetchedEnvironment:
    """The verified artifact tree, its config, the environment picked from it and a fresh
    directory (``scratch``) for what the stage writes."""

    tree: Path
    scratch: Path
    config: AphexConfig
    env: Environment
    location: ArtifactLocation
    committed_at: datetime  # the commit's committer time, from the verified manifest


def seconds_from_env(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """A positive number of seconds from ``$name``, else ``default``; StageError(USAGE) if bad."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise StageError(
            ExitCode.USAGE, f"{name} must be a positive number of seconds, got {raw!r}"
        )
    return value


def base_target(region: str, environ: Mapping[str, str] | None = None) -> AwsTarget:
    """``LocalAws`` when ``AWS_ENDPOINT_URL`` is a localhost URL (a moto server), with the
    environment's credentials when it has some; else real AWS (ambient credentials)."""
    env = os.environ if environ is None else environ
    endpoint = (env.get("AWS_ENDPOINT_URL") or "").strip()
    parts = urlsplit(endpoint)
    if not endpoint or parts.hostname not in _LOCAL_HOSTS:
        return AwsTarget(region=region)
    # moto recognises path-style S3 URLs only when the host says localhost.
    netloc = "localhost" + (f":{parts.port}" if parts.port else "")
    local = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    log = env.get(LOCAL_AWS_LOG_ENV)
    target = LocalAws(local, region=region, server_log=Path(log) if log else None)
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:  # the pod's own role (a local run's tasks each get theirs)
        token = env.get("AWS_SESSION_TOKEN") or None
        return target.with_credentials(AwsCredentials(key, secret, token))
    return target


def deploy_external_id(environ: Mapping[str, str] | None = None) -> str:
    """The install's ExternalId of the deploy roles (``APHEX_EXTERNAL_ID``, which the pod
    reads from its Secret); StageError(USAGE) naming the Secret when it is missing."""
    env = os.environ if environ is None else environ
    value = (env.get(EnvVar.EXTERNAL_ID) or "").strip()
    if not value:
        raise StageError(
            ExitCode.USAGE,
            f"{EnvVar.EXTERNAL_ID} is not set: the deploy roles' ExternalId comes from the"
            f" Secret {EXTERNAL_ID_SECRET} (key {EXTERNAL_ID_KEY}) that `aphex install`"
            " creates; create it in the pipeline's namespace",
        )
    register_secret(value)  # unguessable per install: keep it out of every log line
    return value


def environment_target(job: EnvironmentJob, env: Environment) -> AwsTarget:
    """The environment's target with credentials of its role (``env.effective_role_arn``),
    assumed with the install's ExternalId."""
    role = env.effective_role_arn
    base = base_target(env.region)
    external_id = deploy_external_id()
    try:
        target = assume_role(
            base,
            role,
            session_name=session_name(job.pipeline, job.commit),
            external_id=external_id,  # what the target-account stack's trust requires
        )
    except ClientError as error:
        info = error.response.get("Error", {})
        cause = f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")
    except BotoCoreError as error:
        cause = str(error)
    else:
        if target.credentials is not None:  # keep them out of every log line
            register_secret(target.credentials.secret_access_key)
            register_secret(target.credentials.session_token)
        return target
    raise StageError(
        ExitCode.AWS_FAILED,
        f"cannot assume {role} for {env.name} ({base.describe()}): {cause}",
    )


def fetch_environment(job: EnvironmentJob, s3: Any) -> FetchedEnvironment:
    """Download and verify the commit's artifact, load its config, pick the environment."""
    location = ArtifactLocation.from_latest(s3, job.bucket, job.pipeline, job.commit)
    require_digest(location, job.artifact_sha256)
    job.work_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{job.environment}-", dir=job.work_dir))
    tree, manifest = download_verified(
        s3,
        job.bucket,
        job.pipeline,
        job.commit,
        scratch / "artifact",
        expected_sha256=job.artifact_sha256 or location.sha256,
    )
    try:
        committed_at = datetime.strptime(manifest.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise StageError(
            ExitCode.ARTIFACT_INVALID,
            f"the manifest of {location.uri} has no commit time (created: {manifest.created!r});"
            " build the commit again",
        ) from None
    config = load_workspace_config(tree)
    try:
        env = config.environment(job.environment)
    except KeyError:
        known = ", ".join(e.name for e in config.environments)
        raise StageError(
            ExitCode.CONFIG_INVALID,
            f"environment {job.environment!r} is not in aphex-config.yaml at {job.commit[:12]}"
            f" (it has: {known})",
        ) from None
    return FetchedEnvironment(tree, scratch, config, env, location, committed_at)


def _newer_than(head: Head, job: EnvironmentJob, committed_at: datetime) -> str:
    return (
        f"{job.environment} already runs commit {head.commit[:12]} (committed"
        f" {head.committed_at:%Y-%m-%d %H:%M:%S %Z}), newer than {job.commit[:12]}"
        f" (committed {committed_at:%Y-%m-%d %H:%M:%S %Z})"
    )


def newer_deployed(job: EnvironmentJob, committed_at: datetime, s3: Any) -> str | None:
    """Why deploying ``job.commit`` will be refused: a newer commit already runs in the
    environment (one line, as the deploy would say it); None when it moves forward, or when
    the job is a redeploy. Reads the environment's head; writes nothing."""
    if job.redeploy is not None:
        return None
    head = read_head(s3, job.bucket, environment_head_key(job.pipeline, job.environment))
    if head is None or not head.is_newer_than(job.commit, committed_at):
        return None
    return (
        f"{_newer_than(head, job, committed_at)}: its deploy will refuse (an environment only"
        f" moves forward); aphex redeploy {job.commit} --reason ... goes back on purpose"
    )


def move_environment_forward(job: EnvironmentJob, committed_at: datetime, s3: Any) -> None:
    """Make this commit the environment's head before deploying it; StageError(STALE_COMMIT)
    when a newer commit is deployed there (a run held at a gate, a replay): an environment
    only moves forward, and `aphex redeploy` is the one way back."""
    key = environment_head_key(job.pipeline, job.environment)
    if job.redeploy is not None:
        _log.warning(
            "redeploy of %s to %s requested by %s: %s",
            job.commit[:12],
            job.environment,
            job.redeploy.by,
            job.redeploy.reason,
        )
    newer = advance_head(s3, job.bucket, key, job.commit, committed_at, redeploy=job.redeploy)
    if newer is not None:
        raise StageError(
            ExitCode.STALE_COMMIT,
            f"{_newer_than(newer, job, committed_at)}; an environment only moves forward, so"
            f" {job.commit[:12]} is not deployed. To go back on purpose: aphex redeploy"
            f" {job.commit} --reason ...",
        )


def app_path(
    fetched: FetchedEnvironment,
    *,
    log: logging.Logger,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """The app's toolchain, installed or reused (:func:`prepare_toolchain`), as the PATH its
    commands run with; empty when the config has no ``toolchain``."""
    prepared = prepare_toolchain(
        fetched.config.toolchain, fetched.tree, log=log, on_line=on_line, scratch=fetched.scratch
    )
    return {} if prepared is None else {"PATH": prepared.environ["PATH"]}
