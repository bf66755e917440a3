"""Imported by the local runner's fork server only: botocore's data files parsed once.

Every boto3 session parses botocore's JSON data again (endpoints, the service models): 50
to 140 ms per client, and each stage makes several. In the fork server this module wraps
botocore's JSON file loader with a cache and fills it for the services the stages use, so
each forked stage starts with the parsed files in memory (copied on write: a stage's
changes never reach another stage). Nothing else imports it; a stage started any other way
parses as usual.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.loaders

#: The services the stages and monitoring call.
SERVICES = ("s3", "sts", "cloudformation", "cloudwatch", "logs", "sns", "ssm")

_parsed: dict[str, Any] = {}
_load_file = botocore.loaders.JSONFileLoader.load_file


def _cached_load_file(self: botocore.loaders.JSONFileLoader, file_path: str) -> Any:
    """botocore's own loader, once per file per process (its result is read-only data)."""
    if file_path not in _parsed:
        _parsed[file_path] = _load_file(self, file_path)
    return _parsed[file_path]


def warm(services: tuple[str, ...] = SERVICES) -> None:
    """Install the cache and parse what clients of `services` need."""
    botocore.loaders.JSONFileLoader.load_file = _cached_load_file
    session = boto3.session.Session(
        aws_access_key_id="warm", aws_secret_access_key="warm", region_name="us-east-1"
    )
    for service in services:
        session.client(service)


warm()
