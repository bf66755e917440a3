"""AphexArtifactsStack as the local run deploys it (``aphex:stacks=artifacts``, moto)."""

from __future__ import annotations

import re
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


#: The identities of the sample config: role name -> service account.
IDENTITIES = {
    f"aphex-{PIPELINE}-build": "aphex-pipeline-build",
    f"aphex-{PIPELINE}-pipeline": "aphex-pipeline",
    f"aphex-{PIPELINE}-deploy-dev": "aphex-pipeline-deploy-dev",
    f"aphex-{PIPELINE}-deploy-staging": "aphex-pipeline-deploy-staging",
    f"aphex-{PIPELINE}-deploy-prod": "aphex-pipeline-deploy-prod",
    f"aphex-{PIPELINE}-notify": "aphex-pipeline-notify",
}
SHA = "0123456789abcdef0123456789abcdef01234567"
UPLOAD = "20261203T101500123456Z"
BUCKET = "<ArtifactBucket7410C9EF.Arn>/"


def _roles(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Role name -> (logical id, properties)."""
    return {
        r["Properties"]["RoleName"]: (name, r["Properties"])
        for name, r in resources(template, "AWS::IAM::Role").items()
    }


def _policy(template: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    """The statements (by Sid) of the one policy attached to role ``role`` (its name)."""
    logical, _ = _roles(template)[role]
    (policy,) = (
        p["Properties"]
        for p in resources(template, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": logical}]
    )
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows(statements: dict[str, dict[str, Any]], action: str, resource: str) -> bool:
    """Whether an Allow statement grants ``action`` on ``resource`` (IAM's * and ? globs)."""
    for statement in statements.values():
        if statement["Effect"] != "Allow" or action not in _list(statement["Action"]):
            continue
        for pattern in (_text(r) for r in _list(statement["Resource"])):
            glob = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
            if re.fullmatch(glob, resource):
                return True
    return False


def _object(key: str) -> str:
    return BUCKET + key


#: Keys no build may write: run records, heads, the infra record, deployed pointers, and
#: the environments' outputs beside an artifact.
#: Validation marks the run as started, and validation and upload record their stages.
BUILD_RECORDS = [
    f"runs/{PIPELINE}/2026/12/03/{PIPELINE}-abc.json",
    f"runs/{PIPELINE}/workflows/{PIPELINE}-abc/run.json",
    f"runs/{PIPELINE}/workflows/{PIPELINE}-abc/stages/validation.json",
    f"runs/{PIPELINE}/workflows/{PIPELINE}-abc/stages/upload.json",
]
NOT_BUILD = [
    f"runs/{PIPELINE}/workflows/{PIPELINE}-abc/stages/environment.prod.json",
    f"{PIPELINE}/head.json",
    f"{PIPELINE}/environments/dev.json",
    f"{PIPELINE}/infra/deployed.json",
    f"deployed/{PIPELINE}/dev.json",
    f"{PIPELINE}/{SHA}/{UPLOAD}/outputs/prod.json",
    f"{PIPELINE}/{SHA}/{UPLOAD}/tests/prod/summary.json",
]


def test_one_role_per_identity(template: dict[str, Any]) -> None:
    assert set(_roles(template)) == set(IDENTITIES)
    for _, role in _roles(template).values():
        assert role["MaxSessionDuration"] == 3600


def test_roles_trust_account_root_without_cluster(template: dict[str, Any]) -> None:
    for _, role in _roles(template).values():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        assert _text(statement["Principal"]["AWS"]).endswith(":iam::<AWS::AccountId>:root")


def test_each_role_trusts_only_its_own_service_account(with_oidc: dict[str, Any]) -> None:
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
    roles = _roles(with_oidc)
    assert set(roles) == set(IDENTITIES)
    for name, (_, role) in roles.items():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {"Federated": OIDC_ARN}
        assert statement["Condition"] == {
            "StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:argo:{IDENTITIES[name]}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }
        }
    assert not any(r["Type"].startswith("Custom::") for r in with_oidc["Resources"].values())


def test_build_role_writes_only_the_artifact(template: dict[str, Any]) -> None:
    statements = _policy(template, f"aphex-{PIPELINE}-build")
    actions = {a for s in statements.values() for a in _list(s["Action"])}
    assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject"}
    for name in ("artifact.tar.gz", "manifest.json"):
        assert _allows(statements, "s3:PutObject", _object(f"{PIPELINE}/{SHA}/{UPLOAD}/{name}"))
    assert _allows(statements, "s3:PutObject", _object(f"{PIPELINE}/{SHA}/latest.json"))
    assert _allows(statements, "s3:GetObject", _object(f"{PIPELINE}/{SHA}/latest.json"))
    assert _allows(statements, "s3:PutObject", _object(f"{PIPELINE}/argo/w/pod/main.log"))
    for key in BUILD_RECORDS:
        assert _allows(statements, "s3:PutObject", _object(key)), key
    for key in NOT_BUILD:
        assert not _allows(statements, "s3:PutObject", _object(key)), key
    for key in BUILD_RECORDS + NOT_BUILD[:5]:
        assert not _allows(statements, "s3:GetObject", _object(key)), key
    bucket = statements["Bucket"]
    assert bucket["Condition"] == {"StringLikeIfExists": {"s3:prefix": [f"{PIPELINE}/*"]}}


def test_pipeline_role(template: dict[str, Any]) -> None:
    statements = _policy(template, f"aphex-{PIPELINE}-pipeline")
    for key in (f"{PIPELINE}/head.json", f"{PIPELINE}/infra/deployed.json"):
        assert _allows(statements, "s3:GetObject", _object(key))
        assert _allows(statements, "s3:PutObject", _object(key))
    stage = f"runs/{PIPELINE}/workflows/{PIPELINE}-abc/stages/pipeline.json"
    assert _allows(statements, "s3:PutObject", _object(stage))
    for key in (f"{PIPELINE}/environments/dev.json", f"runs/{PIPELINE}/2026/12/03/x.json"):
        assert not _allows(statements, "s3:PutObject", _object(key)), key
    assert not _allows(statements, "s3:PutObject", _object(f"{PIPELINE}/{SHA}/latest.json"))
    own = statements["OwnStacks"]
    assert own["Action"] == ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"]
    assert _text(own["Resource"]) == (
        "arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/"
        f"aphex-{PIPELINE}-*/*"
    )
    bootstrap = statements["CdkBootstrapRoles"]
    assert sorted(bootstrap["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert _text(bootstrap["Resource"]) == (
        "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/cdk-hnb659fds-*-role-<AWS::AccountId>-*"
    )
    for arn in ("111111111111:role/aphex-deploy", "<AWS::AccountId>:role/aphex-deploy"):
        assert not _allows(statements, "sts:AssumeRole", f"arn:<AWS::Partition>:iam::{arn}")


def test_only_an_environments_role_assumes_its_deploy_role(template: dict[str, Any]) -> None:
    deploy_roles = {
        "dev": "arn:<AWS::Partition>:iam::111111111111:role/aphex-deploy",
        "staging": "arn:<AWS::Partition>:iam::111111111111:role/aphex-deploy",
        "prod": "arn:<AWS::Partition>:iam::222222222222:role/aphex-deploy",
    }
    for role in IDENTITIES:
        statements = _policy(template, role)
        assumed = sorted(
            _text(r)
            for s in statements.values()
            if "sts:AssumeRole" in _list(s["Action"])
            for r in _list(s["Resource"])
        )
        environment = role.removeprefix(f"aphex-{PIPELINE}-deploy-")
        if environment in deploy_roles:
            assert assumed == [deploy_roles[environment]], role
        elif role.endswith("-pipeline"):
            assert all(":role/cdk-hnb659fds-" in arn for arn in assumed), assumed
        else:
            assert assumed == [], role


def test_deploy_role_writes_only_its_environment(template: dict[str, Any]) -> None:
    statements = _policy(template, f"aphex-{PIPELINE}-deploy-dev")
    base = f"{PIPELINE}/{SHA}/{UPLOAD}"
    workflow = f"runs/{PIPELINE}/workflows/{PIPELINE}-abc/stages"
    for key in (
        f"{PIPELINE}/environments/dev.json",
        f"{base}/outputs/dev.json",
        f"{base}/tests/dev/summary.json",
        f"{base}/tests/dev/reports/tree/junit.xml",
        f"{base}/changesets/dev.json",
        f"{base}/changesets/dev.txt",
        f"{workflow}/environment.dev.json",
        f"{workflow}/test.dev.json",
        f"{workflow}/preview.dev.json",
    ):
        assert _allows(statements, "s3:PutObject", _object(key)), key
    for key in (
        f"{PIPELINE}/environments/prod.json",
        f"{base}/outputs/prod.json",
        f"{base}/tests/prod/summary.json",
        f"{base}/changesets/prod.json",
        f"{workflow}/environment.prod.json",
        f"{workflow}/preview.prod.json",
        f"{PIPELINE}/head.json",
        f"{PIPELINE}/{SHA}/latest.json",
        f"{base}/artifact.tar.gz",
        f"runs/{PIPELINE}/2026/12/03/x.json",
        f"deployed/{PIPELINE}/dev.json",
    ):
        assert not _allows(statements, "s3:PutObject", _object(key)), key
    for key in (
        f"{PIPELINE}/{SHA}/latest.json",
        f"{base}/artifact.tar.gz",
        f"{base}/outputs/dev.json",
    ):
        assert _allows(statements, "s3:GetObject", _object(key)), key
    assert not {"cloudwatch:PutMetricData", "logs:PutLogEvents", "sns:Publish"} & {
        a for s in statements.values() for a in _list(s["Action"])
    }


def test_notify_role(template: dict[str, Any]) -> None:
    statements = _policy(template, f"aphex-{PIPELINE}-notify")
    for key in (
        f"runs/{PIPELINE}/2026/12/03/x.json",
        f"runs/{PIPELINE}/workflows/w/run.json",
        f"deployed/{PIPELINE}/dev.json",
    ):
        assert _allows(statements, "s3:PutObject", _object(key))
    for key in (f"{PIPELINE}/head.json", f"{PIPELINE}/{SHA}/latest.json", "runs/other/x.json"):
        assert not _allows(statements, "s3:PutObject", _object(key)), key
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
    assert not any("sts:" in a for s in statements.values() for a in _list(s["Action"]))


def test_topic_only_with_a_topic(module_tmp: Path) -> None:
    context = {k: v for k, v in SAMPLE_CONTEXT.items() if k != "aphex:snsTopicArn"}
    template = synth(module_tmp / "no-topic", {**context, "aphex:stacks": "artifacts"}).template(
        ARTIFACTS
    )
    for role in IDENTITIES:
        actions = {a for s in _policy(template, role).values() for a in _list(s["Action"])}
        assert "sns:Publish" not in actions


def _policies(assembly: Assembly) -> dict[tuple[str, str], Any]:
    """Every IAM policy and role document of the assembly, by (template, logical id)."""
    found: dict[tuple[str, str], Any] = {}
    for path in assembly.template_files():
        template = assembly.template(path.name.removesuffix(".template.json"))
        for type_name in ("AWS::IAM::Policy", "AWS::IAM::Role"):
            for name, resource in resources(template, type_name).items():
                found[(path.name, name)] = resource["Properties"]
    return found


def test_an_environment_in_a_new_account_adds_exactly_one_grant(module_tmp: Path) -> None:
    """The new environment's role and its policy appear; no other policy or trust changes
    (the new account's deploy-role stack is new too, trusting only that role)."""
    context = {
        **SAMPLE_CONTEXT,
        "aphex:stacks": "artifacts",
        "aphex:pipelineAccount": "999999999999",
        "aphex:externalId": "install-secret-0a1b",
    }
    before_assembly = synth(module_tmp / "before", context)
    # A local run (aphex:stacks=artifacts) with aphex:pipelineAccount gets the target-account
    # stacks too, one per account with an environment.
    assert sorted(p.name for p in before_assembly.template_files()) == [
        "AphexArtifactsStack.template.json",
        "AphexTargetAccountStack-111111111111.template.json",
        "AphexTargetAccountStack-222222222222.template.json",
    ]
    before = _policies(before_assembly)
    wider = {**context, "aphex:environments": context["aphex:environments"] + ",qa=333333333333"}
    after_assembly = synth(module_tmp / "after", wider)
    after = _policies(after_assembly)
    assert {k: v for k, v in after.items() if k in before} == before
    added = sorted(k for k in after if k not in before)
    assert [k[0] for k in added] == [
        "AphexArtifactsStack.template.json",
        "AphexArtifactsStack.template.json",
        "AphexTargetAccountStack-333333333333.template.json",
        "AphexTargetAccountStack-333333333333.template.json",
    ]
    artifacts = after_assembly.template(ARTIFACTS)
    assert set(_roles(artifacts)) == {*IDENTITIES, f"aphex-{PIPELINE}-deploy-qa"}
    statements = _policy(artifacts, f"aphex-{PIPELINE}-deploy-qa")
    assert _text(statements["AssumeDeployRole"]["Resource"]) == (
        "arn:<AWS::Partition>:iam::333333333333:role/aphex-deploy"
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
    assert set(template["Outputs"]) == {
        "ArtifactBucketName",
        "BuildRoleArn",
        "PipelineRoleArn",
        "NotifyRoleArn",
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
