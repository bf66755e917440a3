"""boto3 clients with bounded timeouts and retries (``AWS_ENDPOINT_URL`` is honoured by boto3)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from aphex_monitoring.settings import AwsSettings

__all__ = ["make_client", "region_from_arn"]

FALLBACK_REGION = "us-east-1"


def region_from_arn(arn: str | None) -> str | None:
    """The region field of an ARN such as ``arn:aws:sns:eu-west-1:123:topic``."""
    if not arn:
        return None
    parts = arn.split(":")
    return (parts[3] or None) if len(parts) >= 6 else None


def make_client(
    service: str, settings: AwsSettings | None = None, region: str | None = None
) -> Any:
    """A boto3 client whose every call has a connect/read timeout and bounded retries."""
    settings = settings or AwsSettings()
    config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
    )
    session = boto3.session.Session()
    chosen = region or settings.region or session.region_name or FALLBACK_REGION
    return session.client(service, region_name=chosen, config=config)
