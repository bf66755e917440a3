"""The S3 client the artifact code uses, and how S3's failures become StageError."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from aphex_stages.errors import ExitCode, StageError

S3Client = Any  # boto3's S3 client (no stubs in the runtime image)


def s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    max_attempts: int | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
) -> S3Client:
    """An S3 client with standard retries: ``max_attempts`` tries in all per call (default
    ``$AWS_MAX_ATTEMPTS`` or 5), connect and read timeouts.

    The endpoint defaults to ``$AWS_ENDPOINT_URL`` (boto3 reads it), path-style addressing
    is used when an endpoint is set (a moto server).
    """
    attempts = max_attempts or int(os.environ.get("AWS_MAX_ATTEMPTS") or 5)
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"} if endpoint else None,
    )
    region_name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=region_name or "us-east-1", config=config
    )


def _endpoint(s3: S3Client) -> str:
    return str(getattr(s3.meta, "endpoint_url", "") or "S3")


@contextlib.contextmanager
def s3_call(s3: S3Client, what: str) -> Iterator[None]:
    """Map botocore failures (after boto3's own retries) to StageError(AWS_FAILED)."""
    try:
        yield
    except StageError:
        raise
    except (BotoConnectionError, HTTPClientError) as error:
        raise StageError(
            ExitCode.AWS_FAILED,
            f"cannot reach S3 at {_endpoint(s3)}: {error}; check AWS_ENDPOINT_URL/network",
        ) from None
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise StageError(
            ExitCode.AWS_FAILED, f"{what}: no usable AWS credentials ({error})"
        ) from None
    except ClientError as error:
        info = error.response.get("Error", {})
        code, message = info.get("Code", "Error"), info.get("Message", "")
        hint = "; check APHEX_ARTIFACT_BUCKET" if code == "NoSuchBucket" else ""
        raise StageError(
            ExitCode.AWS_FAILED, f"{what} failed: {code}: {message}{hint}".rstrip(": ")
        ) from None
    except BotoCoreError as error:
        raise StageError(ExitCode.AWS_FAILED, f"{what} failed: {error}") from None


def error_code(error: ClientError) -> str:
    """The ``Code`` of an S3 error answer (``NoSuchKey``, ``404``, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def check_bucket(s3: S3Client, bucket: str) -> None:
    """Fail early, before any work, when the artifact bucket is unreachable or absent."""
    with s3_call(s3, f"checking the artifact bucket s3://{bucket}"):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchBucket", "NotFound"):
                raise StageError(
                    ExitCode.AWS_FAILED,
                    f"the artifact bucket s3://{bucket} does not exist; check APHEX_ARTIFACT_BUCKET",
                ) from None
            raise


def get_bytes(s3: S3Client, bucket: str, key: str, missing: str) -> bytes:
    """The object's content; StageError(ARTIFACT_INVALID, ``missing``) when there is none."""
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            raise StageError(ExitCode.ARTIFACT_INVALID, missing) from None
        raise
