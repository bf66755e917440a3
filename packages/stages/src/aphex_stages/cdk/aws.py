"""Where the CDK CLI sends its AWS calls: real AWS, or a local AWS (moto server) endpoint.

``AwsTarget()`` is real AWS with the ambient credentials (instance role, IRSA, profile).
``LocalAws("http://localhost:PORT")`` is a local endpoint: every call gets
``AWS_ENDPOINT_URL`` and, unless credentials are given, dummy ones; the machine's AWS
config and credential files are hidden so that no real profile leaks in.

The deploy and diff flags are the same for both kinds (see :data:`DEPLOY_FLAGS`): what a
local run exercises is exactly what the cluster runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEPLOY_FLAGS",
    "DIFF_FLAGS",
    "AwsCredentials",
    "AwsTarget",
    "LocalAws",
    "assume_role",
]

# ``--method=direct``: CreateStack/UpdateStack instead of change sets. moto gives stacks made
# by change set no Outputs and fails DescribeChangeSet/DeleteChangeSet; on real AWS direct
# deployment is a documented, supported method with the same rollback behaviour.
# ``--no-previous-parameters``: reusing previous parameter values crashes moto; the apps pass
# every parameter through context anyway.
DEPLOY_FLAGS: tuple[str, ...] = ("--method=direct", "--no-previous-parameters")
# ``--method=template``: compare with the deployed template (no change set, no lookup role).
DIFF_FLAGS: tuple[str, ...] = ("--method=template",)

_DUMMY_KEY = "testing"
_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN")


@dataclass(frozen=True)
class AwsCredentials:
    """Static credentials (for example from STS ``AssumeRole``). The secret is not in repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def environ(self) -> dict[str, str | None]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_SECURITY_TOKEN": None,
            "AWS_PROFILE": None,
        }


@dataclass(frozen=True, kw_only=True)
class AwsTarget:
    """Real AWS. ``region`` sets the SDK default region; ``credentials`` replace ambient ones."""

    endpoint: str | None = None
    region: str | None = None
    credentials: AwsCredentials | None = None
    server_log: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.endpoint is not None

    def with_credentials(self, credentials: AwsCredentials) -> AwsTarget:
        return replace(self, credentials=credentials)

    def environ(self) -> dict[str, str | None]:
        """Environment changes for a subprocess: a value of ``None`` removes the variable."""
        changes: dict[str, str | None] = {}
        if self.region:
            changes["AWS_REGION"] = self.region
            changes["AWS_DEFAULT_REGION"] = self.region
        if self.credentials is not None:
            changes.update(self.credentials.environ())
        return changes

    def describe(self) -> str:
        return "AWS"


@dataclass(frozen=True)
class LocalAws(AwsTarget):
    """A local AWS endpoint such as a moto server: ``LocalAws("http://localhost:5000")``.

    The host must be ``localhost`` (moto only treats path-style S3 URLs as such when the
    host says localhost). ``server_log`` is named in failure messages: moto's tracebacks,
    the real cause behind a confusing SDK error, end up there.
    """

    endpoint: str
    region: str | None = field(default="us-east-1", kw_only=True)

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"local AWS endpoint must be an http(s) URL, got {self.endpoint!r}")
        if parts.hostname != "localhost":
            raise ValueError(
                f"local AWS endpoint must use the host name localhost, got {self.endpoint!r}"
                " (moto recognises path-style S3 URLs only on localhost)"
            )

    def environ(self) -> dict[str, str | None]:
        changes: dict[str, str | None] = {name: None for name in _CLEARED}
        changes["AWS_CONFIG_FILE"] = os.devnull
        changes["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        changes["AWS_ACCESS_KEY_ID"] = _DUMMY_KEY
        changes["AWS_SECRET_ACCESS_KEY"] = _DUMMY_KEY
        changes.update(super().environ())
        changes["AWS_ENDPOINT_URL"] = self.endpoint
        return changes

    def describe(self) -> str:
        where = f"local AWS at {self.endpoint}"
        return f"{where} (server log: {self.server_log})" if self.server_log else where


def apply_environ(base: Mapping[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    """``base`` with ``changes`` applied (``None`` removes a variable)."""
    result = dict(base)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def boto3_client(target: AwsTarget, service: str) -> Any:
    """A boto3 client of `service` with `target`'s endpoint, region and credentials."""
    import boto3  # a runtime dependency of aphex-stages; imported lazily to keep imports cheap

    environ = apply_environ({}, target.environ())
    session = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        region_name=target.region,
    )
    return session.client(service, endpoint_url=target.endpoint)


def assume_role(
    target: AwsTarget,
    role_arn: str,
    *,
    session_name: str = "aphex-pipeline",
    external_id: str | None = None,
) -> AwsTarget:
    """``target`` with credentials of ``role_arn`` from STS ``AssumeRole`` (through boto3).

    Against moto this is how a call lands in another account: resources created with the
    returned credentials live in the role's account. ``external_id`` is the ExternalId the
    role's trust policy requires (the target-account stack sets the pipeline's name).
    """
    sts = boto3_client(target, "sts")
    extra = {"ExternalId": external_id} if external_id else {}
    issued = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, **extra)["Credentials"]
    return target.with_credentials(
        AwsCredentials(
            access_key_id=issued["AccessKeyId"],
            secret_access_key=issued["SecretAccessKey"],
            session_token=issued["SessionToken"],
        )
    )
