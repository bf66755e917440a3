"""AphexArtifactsStack: the artifact bucket, one IAM role per kind of work (build, pipeline
deployment, each environment's deploy and test, notify), the log group and the
deployment-failure alarm.

Only resources moto's CloudFormation can create (the local run deploys this stack to a
moto server): no Lambda-backed custom resources, so no ``auto_delete_objects`` and no
bucket notifications. The one exception is :class:`aws_cdk.CfnJson`, used only when the
OIDC provider arrives from the cluster stack as a token (``aphex:stacks=all``, which is
never deployed to moto).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

from aphex_generator import (
    ARTIFACT_FILE,
    COMMIT_LENGTH,
    ENVIRONMENT,
    LATEST_FILE,
    MANIFEST_FILE,
    PIPELINE,
    PREVIEW,
    TEST,
    UPLOAD,
    UPLOAD_TIME_LENGTH,
    VALIDATION,
    Identity,
    argo_logs_prefix,
    changeset_json_name,
    changeset_text_name,
    commit_prefix,
    environment_head_key,
    head_key,
    infra_record_key,
    latest_key,
    outputs_name,
    tests_prefix,
    upload_prefix,
)
from aphex_infra.nag import acknowledge
from aphex_infra.settings import METRIC_NAMESPACE, InfraSettings, TargetEnvironment

__all__ = ["AphexArtifactsStack", "log_retention"]

#: A commit in an artifact key (aphex_generator's bucket layout): its full 40-digit sha.
#: IAM's ``?`` matches one character, so ``<pipeline>/<40 x ?>/`` is an artifact and never
#: the pipeline's head (``head.json``), an environment's head (``environments/``), its infra
#: record (``infra/``) or Argo's logs (``argo/``), none of which has a 40-character segment.
_COMMIT = "?" * COMMIT_LENGTH
#: One upload of a commit's artifact: its time (``UPLOAD_TIME_FORMAT``, fixed length).
_UPLOAD = "?" * UPLOAD_TIME_LENGTH


@dataclass(frozen=True)
class _Grant:
    """A statement of an identity's policy and the cdk-nag findings its wildcards raise
    (``(resource as cdk-nag shows it, reason)``), acknowledged with it."""

    statement: iam.PolicyStatement
    wildcards: list[tuple[str, str]] = field(default_factory=list)


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
    """Artifact bucket, identity roles, log group and alarm of one pipeline."""

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
        it, ``settings.oidc_provider_arn`` (context) is trusted; without both, every role
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
        self._identities(oidc)
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
    WRITE_ONCE_FILES = (ARTIFACT_FILE, MANIFEST_FILE, LATEST_FILE)

    def _write_once(self) -> None:
        """Bucket policy: a PUT of an artifact object must be conditional (If-None-Match),
        so it can never replace one, and no principal may delete one."""
        pipeline = self.settings.pipeline
        arns = [
            self.bucket.arn_for_objects(commit_prefix(pipeline, "*") + name)
            for name in self.WRITE_ONCE_FILES
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

    # -- the identities -----------------------------------------------------------------
    def _identities(self, oidc: tuple[str, str] | None) -> None:
        """One role per kind of work (aphex_generator.Identity), each trusted by its own
        service account only and allowed only what its stages call."""
        settings = self.settings
        if oidc is None and settings.oidc_provider_arn and settings.oidc_issuer:
            oidc = (settings.oidc_provider_arn, settings.oidc_issuer)
        self._oidc = oidc
        self.build_role = self._role("BuildRole", Identity.BUILD, None, self._build_grants())
        self.pipeline_role = self._role(
            "PipelineRole", Identity.PIPELINE, None, self._pipeline_grants()
        )
        self.notify_role = self._role("NotifyRole", Identity.NOTIFY, None, self._notify_grants())
        self.deploy_roles: dict[str, iam.Role] = {
            env.name: self._role(
                f"DeployRole-{env.name}", Identity.DEPLOY, env.name, self._deploy_grants(env)
            )
            for env in settings.environments
        }

    def _role(
        self,
        construct_id: str,
        identity: Identity,
        environment: str | None,
        grants: list[_Grant],
    ) -> iam.Role:
        settings = self.settings
        what = f"the {environment} deploy and test" if environment else f"the {identity.value}"
        role = iam.Role(
            self,
            construct_id,
            role_name=settings.role_name(identity, environment),
            description=f"AphexPipeline {settings.pipeline}: {what} pods' role",
            assumed_by=self._trust(construct_id, identity, environment),
            max_session_duration=Duration.hours(1),
        )
        policy = iam.Policy(
            self,
            f"{construct_id}Policy",
            statements=[grant.statement for grant in grants],
            roles=[role],
        )
        for grant in grants:
            for finding, reason in grant.wildcards:
                acknowledge(policy, f"AwsSolutions-IAM5[Resource::{finding}]", reason)
        return role

    def _trust(
        self, construct_id: str, identity: Identity, environment: str | None
    ) -> iam.IPrincipal:
        settings = self.settings
        if self._oidc is None:
            # Standalone (no cluster yet, or a local run): principals of this account that
            # are allowed sts:AssumeRole on this role by their own policies.
            return iam.AccountRootPrincipal()
        provider_arn, issuer = self._oidc
        account = settings.service_account_of(identity, environment)
        subject = f"system:serviceaccount:{settings.namespace}:{account}"
        values = {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}
        conditions: Any = values
        if Token.is_unresolved(issuer):
            # A key cannot be a token in a template: resolve it at deploy time.
            conditions = CfnJson(self, f"{construct_id}IrsaConditions", value=values)
        return iam.WebIdentityPrincipal(provider_arn, {"StringEquals": conditions})

    # -- what each identity may do -------------------------------------------------------
    def _objects(self, sid: str, actions: list[str], keys: list[str], reason: str = "") -> _Grant:
        """``actions`` on the bucket's objects at ``keys``; wildcard keys acknowledged for
        ``reason``."""
        if any("*" in key for key in keys) and not reason:
            raise ValueError(f"{sid}: a wildcard key needs a reason")
        bucket = self._logical_id(self.bucket)
        return _Grant(
            iam.PolicyStatement(
                sid=sid,
                actions=actions,
                resources=[self.bucket.arn_for_objects(key) for key in keys],
            ),
            [(f"<{bucket}.Arn>/{key}", reason) for key in keys if "*" in key],
        )

    def _bucket(self, prefixes: list[str]) -> list[_Grant]:
        """HeadBucket and listing (both s3:ListBucket) within ``prefixes``, and the bucket's
        region. ``IfExists``: HeadBucket, and S3's check whether a missing key may be told
        apart from a forbidden one (404 rather than 403, which the stages rely on), carry no
        ``s3:prefix``; a listing that names a prefix must name one of these."""
        return [
            _Grant(
                iam.PolicyStatement(
                    sid="Bucket",
                    actions=["s3:ListBucket", "s3:GetBucketLocation"],
                    resources=[self.bucket.bucket_arn],
                    conditions={"StringLikeIfExists": {"s3:prefix": prefixes}},
                )
            )
        ]

    def _argo_logs(self) -> _Grant:
        """Argo's executor in every pod archives the pod's logs under the key format of
        the artifact repository (charts.argo_workflows_values) with the pod's own role."""
        return self._objects(
            "ArgoLogs",
            ["s3:PutObject"],
            [argo_logs_prefix(self.settings.pipeline) + "*"],
            "Argo's executor archives each pod's logs under <pipeline>/argo/<workflow>/<pod>/; "
            "workflow and pod names are per run, so they cannot be listed in advance.",
        )

    def _stage_records(self, names: list[str]) -> _Grant:
        """The stage records (aphex_monitoring.layout.stage_key) of ``names`` only."""
        pipeline = self.settings.pipeline
        keys = [f"runs/{pipeline}/workflows/*/stages/{name}.json" for name in names]
        return self._objects(
            "StageRecords",
            ["s3:PutObject"],
            keys,
            "Each stage writes its own record under runs/<pipeline>/workflows/<workflow>/"
            "stages/; the workflow name is per run, the file name is fixed per stage.",
        )

    def _build_grants(self) -> list[_Grant]:
        """Validation (HeadBucket) and the upload (aphex_stages.artifact.transfer): read a
        commit's artifact, write its write-once files; nothing else of the bucket."""
        pipeline = self.settings.pipeline
        upload = upload_prefix(pipeline, _COMMIT, _UPLOAD)
        return [
            *self._bucket([f"{pipeline}/*"]),
            self._objects(
                "ReadArtifacts",
                ["s3:GetObject"],
                [commit_prefix(pipeline, _COMMIT) + "*"],
                "Artifact objects of any commit (<pipeline>/<40-character sha>/...): the "
                "upload checks whether its commit already has one; commits are not known "
                "in advance.",
            ),
            self._objects(
                "WriteArtifacts",
                ["s3:PutObject"],
                [upload + ARTIFACT_FILE, upload + MANIFEST_FILE, latest_key(pipeline, _COMMIT)],
                "The write-once artifact files of a commit's upload (the tarball, its "
                "manifest and latest.json); commit and upload time are per run.",
            ),
            self._objects(
                "RunStart",
                ["s3:PutObject"],
                [
                    f"runs/{pipeline}/workflows/*/run.json",
                    f"runs/{pipeline}/????/??/??/*.json",
                ],
                "Validation marks the run as started (aphex_monitoring.layout.start_key and "
                "run_key): the workflow name and the date are per run.",
            ),
            self._stage_records([VALIDATION.name, UPLOAD.name]),
            self._argo_logs(),
        ]

    def _pipeline_grants(self) -> list[_Grant]:
        """The pipeline stage: its head, its infra record (aphex_stages.infra_state), its
        stage record, its own stacks, and the CDK CLI's way in: the pipeline account's
        bootstrap roles. No aphex deploy role, no artifact."""
        settings = self.settings
        pipeline = settings.pipeline
        qualifier = settings.cdk_qualifier
        bootstrap = f"cdk-{qualifier}-*-role-{Aws.ACCOUNT_ID}-*"
        return [
            *self._bucket([f"{pipeline}/*"]),
            self._objects(
                "HeadAndInfraRecord",
                ["s3:GetObject", "s3:PutObject"],
                [head_key(pipeline), infra_record_key(pipeline)],
            ),
            self._stage_records([PIPELINE.name]),
            self._argo_logs(),
            _Grant(
                iam.PolicyStatement(
                    # infra_state checks that its own stacks are unchanged since the deploy
                    # it recorded before it skips their synth.
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
                [
                    (
                        "arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:"
                        f"stack/{settings.stack_prefix}-*/*",
                        "Read-only DescribeStacks and GetTemplate of the pipeline's own stacks "
                        "(named by its prefix); a stack ARN ends in an id CloudFormation "
                        "assigns, so it cannot be listed in advance.",
                    )
                ],
            ),
            _Grant(
                iam.PolicyStatement(
                    sid="CdkBootstrapRoles",
                    actions=["sts:AssumeRole", "sts:TagSession"],
                    resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{bootstrap}"],
                ),
                [
                    (
                        f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-{qualifier}-*-role-"
                        "<AWS::AccountId>-*",
                        "The CDK CLI deploys the pipeline's own stacks through this account's "
                        "CDK bootstrap roles (deploy, lookup, file and image publishing) in its "
                        "region; the role kind and the region are the wildcards.",
                    )
                ],
            ),
        ]

    def _deploy_grants(self, env: TargetEnvironment) -> list[_Grant]:
        """One environment's deployment and tests (aphex_stages.deploy, testrun): read the
        artifact, move that environment's head, store its outputs, test results and stage
        records, and assume that environment's deploy role and nothing else."""
        settings = self.settings
        pipeline = settings.pipeline
        upload = upload_prefix(pipeline, _COMMIT, _UPLOAD)
        name = env.name
        return [
            *self._bucket([f"{pipeline}/*"]),
            self._objects(
                "ReadArtifacts",
                ["s3:GetObject"],
                [commit_prefix(pipeline, _COMMIT) + "*"],
                "Artifact objects of any commit (<pipeline>/<40-character sha>/...), with the "
                "outputs the deploy stored beside them; commits are not known in advance.",
            ),
            self._objects(
                "EnvironmentHead",
                ["s3:GetObject", "s3:PutObject"],
                [environment_head_key(pipeline, name)],
            ),
            self._objects(
                "EnvironmentResults",
                ["s3:PutObject"],
                [
                    upload + outputs_name(name),
                    upload + tests_prefix(name) + "*",
                    upload + changeset_json_name(name),
                    upload + changeset_text_name(name),
                ],
                "This environment's stack outputs, test results and change set beside a "
                "commit's artifact (<pipeline>/<sha>/<upload>/outputs/<env>.json, tests/<env>/, "
                "changesets/<env>.json); commit and upload are per run, report names per test "
                "suite.",
            ),
            self._stage_records([f"{stage.name}.{name}" for stage in (PREVIEW, ENVIRONMENT, TEST)]),
            self._argo_logs(),
            _Grant(
                iam.PolicyStatement(
                    sid="AssumeDeployRole",
                    actions=["sts:AssumeRole"],
                    resources=[settings.deploy_role_arn(env, Aws.PARTITION)],
                )
            ),
        ]

    def _notify_grants(self) -> list[_Grant]:
        """The exit handler (aphex_monitoring.service.notify_run): read the run's records,
        write the run record and the deployed pointers, metrics, its log and the topic."""
        settings = self.settings
        pipeline = settings.pipeline
        group = self._log_group_arn()
        grants = [
            *self._bucket([f"runs/{pipeline}/*", f"deployed/{pipeline}/*"]),
            self._objects(
                "RunRecords",
                ["s3:GetObject", "s3:PutObject"],
                [f"runs/{pipeline}/*", f"deployed/{pipeline}/*"],
                "The pipeline's run records and deployed pointers (runs/<pipeline>/, "
                "deployed/<pipeline>/): keyed by run and date, so not known in advance.",
            ),
            self._argo_logs(),
            _Grant(
                iam.PolicyStatement(
                    sid="Metrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
                ),
                [
                    (
                        "*",
                        "cloudwatch:PutMetricData has no resource-level permissions; the "
                        "statement is limited to the AphexPipeline namespace by the "
                        "cloudwatch:namespace condition.",
                    )
                ],
            ),
            _Grant(
                iam.PolicyStatement(
                    sid="RunLogs",
                    actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[group, f"{group}:log-stream:*"],
                ),
                [
                    (
                        "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                        f"{settings.log_group_name}:log-stream:*",
                        "Streams of the pipeline's own log group: monitoring writes one stream "
                        "per run, named after the run, so stream names cannot be listed in "
                        "advance.",
                    )
                ],
            ),
        ]
        if settings.sns_topic_arn:
            grants.append(
                _Grant(
                    iam.PolicyStatement(
                        sid="Notifications",
                        actions=["sns:Publish"],
                        resources=[settings.sns_topic_arn],
                    )
                )
            )
        return grants

    def _log_group_arn(self) -> str:
        return self.format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.settings.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

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
        CfnOutput(self, "BuildRoleArn", value=self.build_role.role_arn)
        CfnOutput(self, "PipelineRoleArn", value=self.pipeline_role.role_arn)
        CfnOutput(self, "NotifyRoleArn", value=self.notify_role.role_arn)
        CfnOutput(self, "LogGroupName", value=self.log_group.log_group_name)
        CfnOutput(self, "DeploymentFailedAlarmName", value=self.alarm.alarm_name)
