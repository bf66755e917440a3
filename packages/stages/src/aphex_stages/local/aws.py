"""The AWS a local run talks to: an embedded moto server, or an endpoint you give."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aphex_stages.local.moto import (
    MotoServer,
    ensure_local_admin,
    is_moto_server,
    set_moto_auth,
    start_moto_server,
)

#: Credentials moto accepts; never real ones (the machine's AWS config is hidden too).
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class LocalAwsEndpoint:
    """Where the local run's AWS calls go, and the moto log if we started moto."""

    endpoint: str
    log_path: Path | None
    region: str = "us-east-1"
    #: (access key id, secret) of the run's admin: moto's fixed test credentials while IAM
    #: is not enforced, the local admin user's once it is (:func:`enforce_iam`).
    credentials: tuple[str, str] = (
        LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )

    def client(self, service: str) -> Any:
        """A boto3 client for `service` at this endpoint, with the admin credentials."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.credentials[0],
            aws_secret_access_key=self.credentials[1],
        )

    def environ(self) -> dict[str, str]:
        """Environment variables that point boto3 and the CDK CLI at this endpoint, with the
        admin credentials."""
        key, secret = self.credentials
        admin = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
        return {**admin, **self.endpoint_environ()}

    def endpoint_environ(self) -> dict[str, str]:
        """The endpoint and region, with no credentials (a pod's come from its role)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }


def open_iam(aws: LocalAwsEndpoint) -> bool:
    """Before an install: a moto server stops enforcing IAM (the install works as every
    account's admin, as `aphex install` does). False when `aws` is not a moto server."""
    if not is_moto_server(aws.endpoint):
        return False
    set_moto_auth(aws.endpoint, on=False)
    return True


def enforce_iam(aws: LocalAwsEndpoint) -> LocalAwsEndpoint:
    """After an install: every call must be signed by a known identity and allowed by its
    policies. Returns `aws` with the local admin's credentials (which the run uses to
    assume each task's role, as EKS does for a pod)."""
    key, secret = ensure_local_admin(aws.endpoint, region=aws.region)
    set_moto_auth(aws.endpoint, on=True)
    return replace(aws, credentials=(key, secret))


#: How long a stopping moto server may take (it saves what changed since its last save).
_STOP_SECONDS = 120.0


@contextlib.contextmanager
def local_aws(
    endpoint: str | None,
    log_dir: Path,
    state_file: Path | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> Iterator[LocalAwsEndpoint]:
    """Yield `endpoint` as is, or start a moto server on a free port and stop it after.

    With `state_file`, the moto server we start begins with the resources the last one saved
    there and saves its own there when the block ends, however it ends (`say` tells what
    was restored, and why not when the file could not be read)."""
    if endpoint:
        try:
            yield LocalAwsEndpoint(endpoint=endpoint, log_path=None)
        finally:  # a server we were given is left as we found it: not enforcing IAM
            if is_moto_server(endpoint):
                set_moto_auth(endpoint, on=False)
        return
    server = start_moto_server(log_dir=log_dir, state_file=state_file)
    try:
        if state_file is not None:
            _say_restored(server, state_file, say)
        yield LocalAwsEndpoint(endpoint=server.endpoint, log_path=server.log_path)
    finally:
        try:
            if state_file is not None:
                _save(server, say)
        finally:
            server.stop(timeout=_STOP_SECONDS)


def _say_restored(server: MotoServer, state_file: Path, say: Callable[[str], None]) -> None:
    try:
        status = server.state()
    except (OSError, ValueError) as error:
        status = {"warning": f"cannot ask the local AWS what it restored ({error})"}
    if status.get("warning"):
        say(f"  warning: {status['warning']}; the local AWS starts empty")
    elif status.get("restored"):
        say(f"  local AWS: the resources of the last run restored from {state_file}")


def _save(server: MotoServer, say: Callable[[str], None]) -> None:
    """Save the server's resources; a failure is a warning (the last saved state stays)."""
    try:
        result = server.save_state()
    except (OSError, ValueError) as error:  # URLError is an OSError
        result = {"error": str(error)}
    if result.get("status") != "ok":
        say(f"  warning: could not save the local AWS state: {result.get('error')}")
