#!/usr/bin/env python3
"""The lambda sample CDK app: one stack with a Lambda function, configured by CDK context only.

Context the pipeline passes (``-c key=value``):
  environment  the environment's name from aphex-config.yaml (required)
  account      its 12-digit account (required)
  region       its region (required)
"""

from __future__ import annotations

import re

import aws_cdk as cdk
from lambda_app.stacks import FunctionStack

app = cdk.App()


def context(key: str) -> str:
    value = app.node.try_get_context(key)
    if value is None or str(value) == "":
        raise ValueError(
            f"missing CDK context: {key} (pass -c environment=NAME -c account=123456789012"
            " -c region=us-east-1)"
        )
    return str(value)


environment, account, region = context("environment"), context("account"), context("region")
if not re.fullmatch(r"\d{12}", account):
    raise ValueError(f"context account={account!r} is not 12 digits")

FunctionStack(
    app,
    "FunctionStack",
    environment=environment,
    env=cdk.Environment(account=account, region=region),
    # The defaults of `cdk bootstrap`: qualifier hnb659fds, its roles and its assets bucket.
    synthesizer=cdk.DefaultStackSynthesizer(),
)
app.synth()
