"""Settings read from the environment (never from pipeline config)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from aphex_monitoring.http import RetryPolicy

__all__ = [
    "BUCKET_ENV",
    "NAMESPACE_ENV",
    "SNS_TOPIC_ENV",
    "WORKFLOW_NAME_ENV",
    "AwsSettings",
    "MonitorSettings",
]

logger = logging.getLogger(__name__)

DEFAULT_GITHUB_API_URL = "https://api.github.com"
#: Set in every pipeline pod by the generator (the stage contract's names; a test in
#: aphex-stages checks that they agree, since monitoring imports no other aphex package).
BUCKET_ENV = "APHEX_ARTIFACT_BUCKET"
NAMESPACE_ENV = "APHEX_NAMESPACE"
WORKFLOW_NAME_ENV = "APHEX_WORKFLOW_NAME"
#: Set in the exit handler's pod when the config names an SNS topic.
SNS_TOPIC_ENV = "APHEX_SNS_TOPIC_ARN"


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        logger.warning("ignoring %s=%r: not a number", name, raw)
        return default
    return max(minimum, value)


@dataclass(frozen=True)
class AwsSettings:
    """Timeouts and retries for every boto3 client monitoring creates."""

    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 3
    region: str | None = None


@dataclass(frozen=True)
class MonitorSettings:
    """Everything monitoring needs from its environment.

    ``APHEX_ARTIFACT_BUCKET``, ``APHEX_SNS_TOPIC_ARN``, ``APHEX_GITHUB_API_URL``,
    ``APHEX_ARGO_URL``, ``APHEX_NAMESPACE``, ``APHEX_MONITOR_DEADLINE_SECONDS`` (whole
    notify, default 60), ``APHEX_MONITOR_CONNECT_TIMEOUT`` / ``_READ_TIMEOUT`` /
    ``_MAX_ATTEMPTS`` (per call). Secrets are read at send time, not stored here.
    """

    bucket: str | None = None
    sns_topic_arn: str | None = None
    github_api_url: str = DEFAULT_GITHUB_API_URL
    argo_url: str | None = None
    namespace: str | None = None
    deadline_seconds: float = 60.0
    aws: AwsSettings = field(default_factory=AwsSettings)
    http: RetryPolicy = field(default_factory=RetryPolicy)
    environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MonitorSettings:
        """Build settings from ``environ`` (default: ``os.environ``)."""
        env = dict(os.environ if environ is None else environ)
        deadline = _number(env, "APHEX_MONITOR_DEADLINE_SECONDS", 60.0, 1.0)
        connect = _number(env, "APHEX_MONITOR_CONNECT_TIMEOUT", 3.0, 0.1)
        read = _number(env, "APHEX_MONITOR_READ_TIMEOUT", 10.0, 0.1)
        attempts = int(_number(env, "APHEX_MONITOR_MAX_ATTEMPTS", 3, 1))
        region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip() or None
        return cls(
            bucket=(env.get(BUCKET_ENV) or "").strip() or None,
            sns_topic_arn=(env.get(SNS_TOPIC_ENV) or "").strip() or None,
            github_api_url=(env.get("APHEX_GITHUB_API_URL") or "").strip()
            or DEFAULT_GITHUB_API_URL,
            argo_url=(env.get("APHEX_ARGO_URL") or "").strip() or None,
            namespace=(env.get(NAMESPACE_ENV) or "").strip() or None,
            deadline_seconds=deadline,
            aws=AwsSettings(
                connect_timeout=connect, read_timeout=read, max_attempts=attempts, region=region
            ),
            http=RetryPolicy(
                connect_timeout=connect,
                read_timeout=read,
                max_attempts=max(attempts, 1) + 1,
                total_seconds=min(30.0, deadline / 2),
            ),
            environ=env,
        )
