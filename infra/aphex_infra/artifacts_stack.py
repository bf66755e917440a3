"""AphexArtifactsStack: the artifact bucket, the workflow execution role, its log group and
the deployment-failure alarm.

Only resources moto's CloudFormation can create (the local run deploys this stack to a
moto server): no Lambda-backed custom resources, so no ``auto_delete_objects`` and no
bucket notifications. The one exception is :class:`aws_cdk.CfnJson`, used only when the
OIDC provider arrives from the cluster stack as a token (``aphex:stacks=all``, which is
never deployed to moto).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnJson,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from aphex_infra.nag import acknowledge
from aphex_infra.settings import METRIC_NAMESPACE, InfraSettings

__all__ = ["AphexArtifactsStack", "log_retention"]

# CloudWatch Logs accepts only these retention periods (days), in RetentionDays order.
_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731)
_DAYS += (1096, 1827, 2192, 2557, 2922, 3288, 3653)
_MEMBERS = [m for m in logs.RetentionDays if m != logs.RetentionDays.INFINITE]
_RETENTIONS = list(zip(_DAYS, _MEMBERS, strict=True))


def log_retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention that keeps at least ``days`` days."""
    for value, member in _RETENTIONS:
        if value >= days:
            return member
    return _RETENTIONS[-1][1]


class AphexArtifactsStack(Stack):
    """Artifact bucket, execution role, log group and alarm of one pipeline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: InfraSettings,
        oidc: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        """``oidc``: (provider ARN, issuer) of the cluster, from the cluster stack. Without
        it, ``settings.oidc_provider_arn`` (context) is trusted; without both, the role
        trusts the pipeline account's root (a standalone or local install)."""
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.log_bucket = self._log_bucket()
        self.bucket = self._artifact_bucket()
        self._write_once()
        self.log_group = logs.LogGroup(
            self,
            "PipelineLogGroup",
            log_group_name=settings.log_group_name,
            retention=log_retention(settings.runs_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "ExecutionRole",
            role_name=settings.execution_role_name,
            description=f"AphexPipeline {settings.pipeline}: the workflow pods' role",
            assumed_by=self._trust(oidc),
            max_session_duration=Duration.hours(1),
        )
        self._grant()
        self.alarm = self._alarm()
        self._outputs()

    # -- buckets -----------------------------------------------------------------------
    def _log_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(self.settings.retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # cdk-nag's S1 (access logging) does not apply to a bucket that receives access logs.
        return bucket

    def _artifact_bucket(self) -> s3.Bucket:
        pipeline = self.settings.pipeline
        retention = Duration.days(self.settings.retention_days)
        return s3.Bucket(
            self,
            "ArtifactBucket",
            bucket_name=self.settings.artifact_bucket_name(Aws.ACCOUNT_ID),
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="artifact-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=retention,
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="expire-artifacts",
                    prefix=f"{pipeline}/",
                    expiration=retention,
                ),
                s3.LifecycleRule(
                    id="expire-run-records",
                    prefix=f"runs/{pipeline}/",
                    expiration=Duration.days(self.settings.runs_retention_days),
                ),
                # deployed/<pipeline>/ holds the last successful deployment per environment:
                # current versions never expire.
            ],
        )

    #: The objects of a commit's artifact (``<pipeline>/<sha>/...``): written once, never
    #: replaced or deleted (the lifecycle rules expire them; bucket policies do not apply
    #: to lifecycle actions).
    WRITE_ONCE_FILES = ("artifact.tar.gz", "manifest.json", "latest.json")

    def _write_once(self) -> None:
        """Bucket policy: a PUT of an artifact object must be conditional (If-None-Match),
        so it can never replace one, and no principal may delete one."""
        pipeline = self.settings.pipeline
        arns = [
            self.bucket.arn_for_objects(f"{pipeline}/*/{name}") for name in self.WRITE_ONCE_FILES
        ]
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ArtifactsAreWriteOnce",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=arns,
                conditions={"Null": {"s3:if-none-match": "true"}},
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ArtifactsAreNeverDeleted",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=arns,
            )
        )

    # -- the execution role --------------------------------------------------------------
    def _trust(self, oidc: tuple[str, str] | None) -> iam.IPrincipal:
        settings = self.settings
        if oidc is None and settings.oidc_provider_arn and settings.oidc_issuer:
            oidc = (settings.oidc_provider_arn, settings.oidc_issuer)
        if oidc is None:
            # Standalone (no cluster yet, or a local run): principals of this account that
            # are allowed sts:AssumeRole on this role by their own policies.
            return iam.AccountRootPrincipal()
        provider_arn, issuer = oidc
        subject = f"system:serviceaccount:{settings.namespace}:{settings.service_account}"
        values = {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}
        conditions: Any = values
        if Token.is_unresolved(issuer):
            # A key cannot be a token in a template: resolve it at deploy time.
            conditions = CfnJson(self, "IrsaConditions", value=values)
        return iam.WebIdentityPrincipal(provider_arn, {"StringEquals": conditions})

    def _object_arns(self) -> list[str]:
        pipeline = self.settings.pipeline
        prefixes = (f"{pipeline}/", f"runs/{pipeline}/", f"deployed/{pipeline}/")
        return [self.bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]

    def _grant(self) -> None:
        settings = self.settings
        pipeline = settings.pipeline
        statements = [
            iam.PolicyStatement(
                sid="ArtifactObjects",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=self._object_arns(),
            ),
            iam.PolicyStatement(
                sid="ArtifactListing",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [
                            f"{pipeline}/*",
                            f"runs/{pipeline}/*",
                            f"deployed/{pipeline}/*",
                        ]
                    }
                },
            ),
            iam.PolicyStatement(
                sid="ArtifactBucketLocation",
                actions=["s3:GetBucketLocation"],
                resources=[self.bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="AssumeDeployRoles",
                actions=["sts:AssumeRole"],
                resources=list(self._deploy_roles()),
            ),
            iam.PolicyStatement(
                # The pipeline stage checks that its own stacks are unchanged since the
                # deploy it recorded before it skips their synth (aphex_stages.infra_state).
                sid="OwnStacks",
                actions=["cloudformation:DescribeStacks", "cloudformation:GetTemplate"],
                resources=[
                    self.format_arn(
                        service="cloudformation",
                        resource="stack",
                        resource_name=f"{settings.stack_prefix}-*/*",
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="Metrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            ),
            iam.PolicyStatement(
                sid="RunLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    self._log_group_arn(),
                    f"{self._log_group_arn()}:log-stream:*",
                ],
            ),
        ]
        if settings.sns_topic_arn:
            statements.append(
                iam.PolicyStatement(
                    sid="Notifications",
                    actions=["sns:Publish"],
                    resources=[settings.sns_topic_arn],
                )
            )
        policy = iam.Policy(self, "ExecutionPolicy", statements=statements, roles=[self.role])
        self._acknowledge_wildcards(policy)

    def _log_group_arn(self) -> str:
        return self.format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.settings.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _deploy_roles(self) -> tuple[str, ...]:
        """The configured accounts' deploy roles, and this account's (the pipeline
        deployment stage deploys this app through it)."""
        own = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{self.settings.deploy_role_name}"
        return (*self.settings.deploy_role_arn_patterns(Aws.PARTITION), own)

    def _acknowledge_wildcards(self, policy: iam.Policy) -> None:
        bucket = self._logical_id(self.bucket)
        for prefix in self._prefixes():
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{prefix}*]",
                "Object keys under the pipeline's own prefix of the artifact bucket: the "
                "keys are per commit and per run, so they cannot be listed in advance.",
            )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource-level permissions; the statement is "
            "limited to the AphexPipeline namespace by the cloudwatch:namespace condition.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
            f"<AWS::AccountId>:log-group:{self.settings.log_group_name}:log-stream:*]",
            "Streams of the pipeline's own log group: monitoring writes one stream per run, "
            "named after the run, so stream names cannot be listed in advance.",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:"
            f"<AWS::AccountId>:stack/{self.settings.stack_prefix}-*/*]",
            "Read-only DescribeStacks and GetTemplate of the pipeline's own stacks (named by "
            "its prefix); a stack ARN ends in an id CloudFormation assigns, so it cannot be "
            "listed in advance.",
        )

    def _prefixes(self) -> tuple[str, ...]:
        pipeline = self.settings.pipeline
        return (f"{pipeline}/", f"runs/{pipeline}/", f"deployed/{pipeline}/")

    def _logical_id(self, bucket: s3.Bucket) -> str:
        """The logical id cdk-nag shows for ``bucket`` in its finding ids."""
        return self.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]

    # -- alarm and outputs ---------------------------------------------------------------
    def _alarm(self) -> cloudwatch.Alarm:
        metric = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name="DeploymentFailed",
            dimensions_map={"Pipeline": self.settings.pipeline},
            statistic="Sum",
            period=Duration.minutes(5),
        )
        alarm = cloudwatch.Alarm(
            self,
            "DeploymentFailedAlarm",
            alarm_name=f"aphex-{self.settings.pipeline}-deployment-failed",
            alarm_description=f"A run of AphexPipeline {self.settings.pipeline} failed",
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if self.settings.sns_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "NotificationTopic", self.settings.sns_topic_arn)
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
        return alarm

    def _outputs(self) -> None:
        CfnOutput(self, "ArtifactBucketName", value=self.bucket.bucket_name)
        CfnOutput(self, "ExecutionRoleArn", value=self.role.role_arn)
        CfnOutput(self, "LogGroupName", value=self.log_group.log_group_name)
        CfnOutput(self, "DeploymentFailedAlarmName", value=self.alarm.alarm_name)
