#!/usr/bin/env python3
"""The sample CDK app: two stacks per environment, configured by CDK context only.

Context the pipeline passes (``-c key=value``):
  environment  the environment's name from aphex-config.yaml (required)
  account      its 12-digit account (required)
  region       its region (required)
  stage        per-environment context from aphex-config.yaml (default: the environment name)
  queue_name   optional explicit SQS queue name (default: a generated one)
"""

from __future__ import annotations

import aws_cdk as cdk
from sample_app.stacks import MessagingStack, SampleSettings, StorageStack

app = cdk.App()
settings = SampleSettings.from_context(app.node)
env = cdk.Environment(account=settings.account, region=settings.region)


def synthesizer() -> cdk.DefaultStackSynthesizer:
    # The defaults of `cdk bootstrap`, written out: qualifier hnb659fds, its roles and bucket.
    return cdk.DefaultStackSynthesizer(qualifier=settings.qualifier)


storage = StorageStack(app, "StorageStack", settings=settings, env=env, synthesizer=synthesizer())
messaging = MessagingStack(
    app,
    "MessagingStack",
    settings=settings,
    bucket_export_name=storage.bucket_export_name,
    env=env,
    synthesizer=synthesizer(),
)
messaging.add_stack_dependency(storage)
app.synth()
