"""Two small stacks that moto's CloudFormation can create: no custom resources, no assets."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct, Node

_ACCOUNT = re.compile(r"^\d{12}$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$")


@dataclass(frozen=True)
class SampleSettings:
    """The app's settings, all read from CDK context."""

    environment: str
    account: str
    region: str
    stage: str
    queue_name: str | None = None
    qualifier: str = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER

    @classmethod
    def from_context(cls, node: Node) -> SampleSettings:
        def value(key: str) -> str | None:
            raw = node.try_get_context(key)
            return None if raw is None else str(raw)

        missing = [key for key in ("environment", "account", "region") if value(key) is None]
        if missing:
            raise ValueError(
                "missing CDK context: " + ", ".join(missing) + " (pass -c environment=NAME"
                " -c account=123456789012 -c region=us-east-1)"
            )
        environment, account, region = value("environment"), value("account"), value("region")
        assert environment is not None and account is not None and region is not None
        if not _NAME.match(environment):
            raise ValueError(f"context environment={environment!r} is not a DNS label")
        if not _ACCOUNT.match(account):
            raise ValueError(f"context account={account!r} is not 12 digits")
        return cls(
            environment=environment,
            account=account,
            region=region,
            stage=value("stage") or environment,
            queue_name=value("queue_name"),
            qualifier=value("bootstrap_qualifier") or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER,
        )

    @property
    def parameter_prefix(self) -> str:
        return f"/aphex-sample/{self.environment}"


class StorageStack(cdk.Stack):
    """An S3 bucket and an SSM parameter holding the stage. Exports the bucket's name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: SampleSettings,
        env: cdk.Environment,
        synthesizer: cdk.IStackSynthesizer,
    ) -> None:
        super().__init__(scope, construct_id, env=env, synthesizer=synthesizer)
        bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=False,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        parameter = ssm.StringParameter(
            self,
            "StageParameter",
            parameter_name=f"{settings.parameter_prefix}/stage",
            string_value=settings.stage,
            description=f"Stage of the {settings.environment} environment",
        )
        self.bucket_export_name = f"aphex-sample-{settings.environment}-bucket-name"
        cdk.CfnOutput(
            self, "BucketName", value=bucket.bucket_name, export_name=self.bucket_export_name
        )
        cdk.CfnOutput(self, "ParameterName", value=parameter.parameter_name)


class MessagingStack(cdk.Stack):
    """An SQS queue and an SSM parameter holding the bucket name imported from StorageStack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: SampleSettings,
        bucket_export_name: str,
        env: cdk.Environment,
        synthesizer: cdk.IStackSynthesizer,
    ) -> None:
        super().__init__(scope, construct_id, env=env, synthesizer=synthesizer)
        queue = sqs.Queue(
            self,
            "Queue",
            queue_name=settings.queue_name,
            visibility_timeout=cdk.Duration.seconds(45),
            retention_period=cdk.Duration.days(4),
        )
        bucket_parameter = ssm.StringParameter(
            self,
            "BucketParameter",
            parameter_name=f"{settings.parameter_prefix}/bucket-name",
            string_value=cdk.Fn.import_value(bucket_export_name),
            description="Name of the StorageStack bucket",
        )
        cdk.CfnOutput(self, "QueueUrl", value=queue.queue_url)
        cdk.CfnOutput(self, "QueueName", value=queue.queue_name)
        cdk.CfnOutput(self, "BucketParameterName", value=bucket_parameter.parameter_name)
