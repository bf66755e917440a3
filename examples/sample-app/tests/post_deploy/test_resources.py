"""Post-deployment tests of the sample app: check the deployed resources through the AWS API.

They only read: the tests run with the environment's deploy role, which may read what was
deployed (AWS's ReadOnlyAccess) and nothing more.

The pipeline passes each stack output as an environment variable named
``<STACK>_<OUTPUT>`` in upper snake case (``StorageStack``/``BucketName`` ->
``STORAGE_STACK_BUCKET_NAME``), plus the AWS settings of the environment (region,
credentials and, in a local run, ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import boto3
import pytest


def output(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests with the stack outputs as env vars")
    return value


@pytest.fixture(scope="module")
def session() -> boto3.session.Session:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        pytest.fail("AWS_REGION is not set")
    return boto3.session.Session(region_name=region)


def client(session: boto3.session.Session, service: str) -> Any:
    return session.client(service)


def test_bucket_exists_and_is_listable(session: boto3.session.Session) -> None:
    s3 = client(session, "s3")
    bucket = output("STORAGE_STACK_BUCKET_NAME")
    s3.head_bucket(Bucket=bucket)
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=1)["KeyCount"] >= 0


def test_stage_parameter_holds_the_stage(session: boto3.session.Session) -> None:
    name = output("STORAGE_STACK_PARAMETER_NAME")
    assert name.startswith("/aphex-sample/") and name.endswith("/stage")
    value = client(session, "ssm").get_parameter(Name=name)["Parameter"]["Value"]
    assert value
    expected = os.environ.get("APHEX_SAMPLE_EXPECTED_STAGE")
    if expected:
        assert value == expected


def test_messaging_stack_received_the_bucket_name(session: boto3.session.Session) -> None:
    name = output("MESSAGING_STACK_BUCKET_PARAMETER_NAME")
    value = client(session, "ssm").get_parameter(Name=name)["Parameter"]["Value"]
    assert value == output("STORAGE_STACK_BUCKET_NAME")


def test_queue_attributes(session: boto3.session.Session) -> None:
    attributes = client(session, "sqs").get_queue_attributes(
        QueueUrl=output("MESSAGING_STACK_QUEUE_URL"), AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["MessageRetentionPeriod"] == str(4 * 24 * 3600)
    assert attributes["QueueArn"].endswith(":" + output("MESSAGING_STACK_QUEUE_NAME"))


def test_queue_is_found_by_its_name(session: boto3.session.Session) -> None:
    sqs = client(session, "sqs")
    name = output("MESSAGING_STACK_QUEUE_NAME")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    assert url.endswith("/" + name) and output("MESSAGING_STACK_QUEUE_URL").endswith("/" + name)
