"""Post-deployment test of the lambda app: the function exists, with the code the CDK published.

The pipeline passes each stack output as an environment variable named ``<STACK>_<OUTPUT>``
in upper snake case (``FunctionStack``/``FunctionName`` -> ``FUNCTION_STACK_FUNCTION_NAME``),
plus the AWS settings of the environment (region, credentials and, in a local run,
``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import os

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


def test_function_exists(session: boto3.session.Session) -> None:
    name = output("FUNCTION_STACK_FUNCTION_NAME")
    function = session.client("lambda").get_function(FunctionName=name)
    configuration = function["Configuration"]
    print(f"function {configuration['FunctionName']}: {configuration['FunctionArn']}")
    assert configuration["FunctionName"] == name
    assert configuration["Runtime"] == "python3.11"
    assert configuration["Handler"] == "handler.main"
    assert configuration["CodeSize"] > 0  # the zip the CDK published to the bootstrap bucket
