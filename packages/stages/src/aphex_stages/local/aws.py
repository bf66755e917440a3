"""The AWS a local run talks to: an embedded moto server, or an endpoint you give."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aphex_stages.local.moto import start_moto_server

#: Credentials moto accepts; never real ones (the machine's AWS config is hidden too).
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class LocalAwsEndpoint:
    """Where the local run's AWS calls go, and the moto log if we started moto."""

    endpoint: str
    log_path: Path | None
    region: str = "us-east-1"

    def client(self, service: str) -> Any:
        """A boto3 client for `service` at this endpoint, with the local credentials."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def environ(self) -> dict[str, str]:
        """Environment variables that point boto3 and the CDK CLI at this endpoint, with the
        local admin credentials."""
        return {**LOCAL_CREDENTIALS, **self.endpoint_environ()}

    def endpoint_environ(self) -> dict[str, str]:
        """The endpoint and region, with no credentials (a pod's come from its role)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }


@contextlib.contextmanager
def local_aws(endpoint: str | None, log_dir: Path) -> Iterator[LocalAwsEndpoint]:
    """Yield `endpoint` as is, or start a moto server on a free port and stop it after."""
    if endpoint:
        yield LocalAwsEndpoint(endpoint=endpoint, log_path=None)
        return
    server = start_moto_server(log_dir=log_dir)
    try:
        yield LocalAwsEndpoint(endpoint=server.endpoint, log_path=server.log_path)
    finally:
        server.stop()
