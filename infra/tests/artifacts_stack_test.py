"""AphexArtifactsStack as the local run deploys it (``aphex:stacks=artifacts``, moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.helpers import (
    PIPELINE,
    SAMPLE_CONTEXT,
    TOPIC,
    Assembly,
    cfn_lint_errors,
    resources,
    synth,
)

from aphex_infra.artifacts_stack import log_retention

ARTIFACTS = "AphexArtifactsStack"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"

#: Types moto's CloudFormation creates; anything else (a Lambda-backed custom resource, a
#: bucket notification) would hang or be skipped in a local run.
MOTO_TYPES = {
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Alarm",
}


@pytest.fixture(scope="module")
def local(module_tmp: Path) -> Assembly:
    return synth(module_tmp / "local", {**SAMPLE_CONTEXT, "aphex:stacks": "artifacts"})


@pytest.fixture(scope="module")
def template(local: Assembly) -> dict[str, Any]:
    return local.template(ARTIFACTS)


@pytest.fixture(scope="module")
def with_oidc(module_tmp: Path) -> dict[str, Any]:
    context = {**SAMPLE_CONTEXT, "aphex:stacks": "artifacts", "aphex:oidcProviderArn": OIDC_ARN}
    return synth(module_tmp / "oidc", context).template(ARTIFACTS)


def _one(template: dict[str, Any], type_name: str, **match: Any) -> dict[str, Any]:
    found = [
        r["Properties"]
        for r in resources(template, type_name).values()
        if all(r["Properties"].get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"{type_name} {match}: {len(found)} found"
    return found[0]


def _artifact_bucket(template: dict[str, Any]) -> dict[str, Any]:
    buckets = [
        r["Properties"]
        for r in resources(template, "AWS::S3::Bucket").values()
        if "LoggingConfiguration" in r["Properties"]
    ]
    assert len(buckets) == 1
    return buckets[0]


def _statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policy = _one(template, "AWS::IAM::Policy")
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def _text(value: Any) -> str:
    """A resolved-enough string of a template value (Fn::Join parts concatenated)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_text(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    return repr(value)


def test_only_resources_moto_can_create(template: dict[str, Any]) -> None:
    types = {r["Type"] for r in template["Resources"].values()}
    assert types <= MOTO_TYPES, types - MOTO_TYPES
    assert not any(t.startswith("Custom::") for t in types)


def test_bucket_versioned_encrypted_private_logged(template: dict[str, Any]) -> None:
    bucket = _artifact_bucket(template)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith(
        "AccessLogBucket"
    )
    assert _text(bucket["BucketName"]) == f"aphex-<AWS::AccountId>-{PIPELINE}"


def test_ssl_enforced_on_both_buckets(template: dict[str, Any]) -> None:
    policies = resources(template, "AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        denies = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
        ]
        assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_artifact_objects_are_write_once(template: dict[str, Any]) -> None:
    """No principal can replace (an unconditional PUT) or delete a commit's artifact."""
    statements = [
        statement
        for policy in resources(template, "AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s.get("Sid"): s for s in statements}
    put, delete = by_sid["ArtifactsAreWriteOnce"], by_sid["ArtifactsAreNeverDeleted"]
    for statement in (put, delete):
        assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
        keys = sorted(_text(r).rsplit("/", 1)[-1] for r in statement["Resource"])
        assert keys == ["artifact.tar.gz", "latest.json", "manifest.json"]
        assert all(f"/{PIPELINE}/*/" in _text(r) for r in statement["Resource"])
    assert put["Action"] == "s3:PutObject"
    assert put["Condition"] == {"Null": {"s3:if-none-match": "true"}}
    assert sorted(delete["Action"]) == ["s3:DeleteObject", "s3:DeleteObjectVersion"]


def test_lifecycle_expires_noncurrent_artifacts_and_runs(template: dict[str, Any]) -> None:
    rules = {r["Id"]: r for r in _artifact_bucket(template)["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 90
    }
    assert rules["expire-artifacts"]["Prefix"] == f"{PIPELINE}/"
    assert rules["expire-artifacts"]["ExpirationInDays"] == 90
    assert rules["expire-run-records"]["Prefix"] == f"runs/{PIPELINE}/"
    assert rules["expire-run-records"]["ExpirationInDays"] == 365
    assert not any(r.get("Prefix", "").startswith("deployed/") for r in rules.values())


def test_no_auto_delete_and_buckets_retained(template: dict[str, Any]) -> None:
    for bucket in resources(template, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
        assert "aws-cdk:auto-delete-objects" not in str(bucket)


def test_role_trusts_account_root_without_cluster(template: dict[str, Any]) -> None:
    role = _one(template, "AWS::IAM::Role")
    assert role["RoleName"] == f"aphex-{PIPELINE}-workflow"
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert _text(statement["Principal"]["AWS"]).endswith(":iam::<AWS::AccountId>:root")


def test_role_trusts_cluster_oidc_from_context(with_oidc: dict[str, Any]) -> None:
    role = _one(with_oidc, "AWS::IAM::Role")
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": "system:serviceaccount:argo:aphex-pipeline",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    assert not any(r["Type"].startswith("Custom::") for r in with_oidc["Resources"].values())


def test_s3_access_limited_to_pipeline_prefixes(template: dict[str, Any]) -> None:
    statements = _statements(template)
    objects = statements["ArtifactObjects"]
    assert sorted(objects["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert sorted(_text(r) for r in objects["Resource"]) == sorted(
        f"<ArtifactBucket7410C9EF.Arn>/{p}*"
        for p in (f"{PIPELINE}/", f"runs/{PIPELINE}/", f"deployed/{PIPELINE}/")
    )
    listing = statements["ArtifactListing"]
    assert listing["Action"] == "s3:ListBucket"
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == sorted(
        [f"{PIPELINE}/*", f"runs/{PIPELINE}/*", f"deployed/{PIPELINE}/*"]
    )


def test_assume_only_the_deploy_roles(template: dict[str, Any]) -> None:
    assume = _statements(template)["AssumeDeployRoles"]
    assert assume["Action"] == "sts:AssumeRole"
    assert sorted(_text(r) for r in assume["Resource"]) == [
        "arn:<AWS::Partition>:iam::111111111111:role/aphex-deploy",
        "arn:<AWS::Partition>:iam::222222222222:role/aphex-deploy",
        "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/aphex-deploy",
    ]


def test_metrics_logs_and_topic_are_scoped(template: dict[str, Any]) -> None:
    statements = _statements(template)
    metrics = statements["Metrics"]
    assert metrics["Action"] == "cloudwatch:PutMetricData"
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "AphexPipeline"}}
    logs = statements["RunLogs"]
    group = f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aphex/{PIPELINE}"
    assert sorted(_text(r) for r in logs["Resource"]) == [group, f"{group}:log-stream:*"]
    assert statements["Notifications"] == {
        "Sid": "Notifications",
        "Action": "sns:Publish",
        "Effect": "Allow",
        "Resource": TOPIC,
    }
    assert set(statements) == {
        "ArtifactObjects",
        "ArtifactListing",
        "ArtifactBucketLocation",
        "AssumeDeployRoles",
        "OwnStacks",
        "Metrics",
        "RunLogs",
        "Notifications",
    }
    own = statements["OwnStacks"]
    assert own["Action"] == ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"]
    assert _text(own["Resource"]) == (
        "arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/"
        f"aphex-{PIPELINE}-*/*"
    )


def test_log_group_and_alarm(template: dict[str, Any]) -> None:
    group = _one(template, "AWS::Logs::LogGroup")
    assert group["LogGroupName"] == f"/aphex/{PIPELINE}"
    assert group["RetentionInDays"] == 365
    alarm = _one(template, "AWS::CloudWatch::Alarm")
    assert alarm["MetricName"] == "DeploymentFailed"
    assert alarm["Namespace"] == "AphexPipeline"
    assert alarm["Dimensions"] == [{"Name": "Pipeline", "Value": PIPELINE}]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [TOPIC]


def test_outputs(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) >= {
        "ArtifactBucketName",
        "ExecutionRoleArn",
        "LogGroupName",
        "DeploymentFailedAlarmName",
    }


def test_cfn_lint_and_no_missing_context(local: Assembly, with_oidc: dict[str, Any]) -> None:
    assert [e for path in local.template_files() for e in cfn_lint_errors(path)] == []
    assert "missing" not in local.manifest


@pytest.mark.parametrize(
    ("days", "expected"), [(1, 1), (2, 3), (90, 90), (91, 120), (365, 365), (3650, 3653)]
)
def test_log_retention_rounds_up(days: int, expected: int) -> None:
    from aphex_infra.artifacts_stack import _RETENTIONS

    assert dict((m, d) for d, m in _RETENTIONS)[log_retention(days)] == expected
