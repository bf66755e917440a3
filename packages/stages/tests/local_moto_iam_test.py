"""IAM authorization in the local moto server (aphex_stages.local.moto_iam), over real HTTP.

Every test starts its own server with :func:`start_moto_server` (the shim installed by
``python -m aphex_stages.local.moto_server``), sets up users, roles and policies with
authorization off and the fixed test credentials, switches authorization on and then
speaks boto3 (or the real CDK CLI) with the local admin's key or assumed-role sessions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from aphex_stages.cdk import AwsCredentials, CdkError, CdkRunner, LocalAws
from aphex_stages.local import moto_iam
from aphex_stages.local.moto import (
    LOCAL_ADMIN_USER,
    MotoServer,
    child_pythonpath,
    ensure_local_admin,
    set_moto_auth,
    start_moto_server,
)
from aphex_testing import cdk as harness

cdk_cli = harness.cdk_cli

ACCOUNT = "123456789012"  # moto's default account: where the admin user lives
OTHER = "111111111111"
REGION = "us-east-1"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust_root(account: str = ACCOUNT, **condition: Any) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return _policy(statement)


class Aws:
    """boto3 clients against one moto server: set-up (test credentials), admin, sessions."""

    def __init__(self, server: MotoServer) -> None:
        self.server = server
        self.endpoint = server.endpoint
        self.admin: dict[str, str] = {}

    def client(self, service: str, creds: dict[str, str] | None = None) -> Any:
        creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.session.Session(region_name=REGION, **creds).client(
            service, endpoint_url=self.endpoint
        )

    def setup(self, service: str) -> Any:
        """A client with the fixed test credentials (only useful while auth is off)."""
        return self.client(service)

    def setup_in(self, account: str, service: str) -> Any:
        """A set-up client whose calls land in ``account`` (auth off)."""
        return self.client(service, self.assume(self.setup("sts"), account, "setup"))

    @staticmethod
    def assume(
        sts: Any, account: str, role: str, session: str = "test-session", **kwargs: Any
    ) -> dict[str, str]:
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session, **kwargs
        )["Credentials"]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def auth_on(self) -> None:
        key, secret = ensure_local_admin(self.endpoint)
        self.admin = {"aws_access_key_id": key, "aws_secret_access_key": secret}
        set_moto_auth(self.endpoint, True)

    def as_admin(self, service: str) -> Any:
        return self.client(service, self.admin)

    def role(
        self, name: str, trust: str, *statements: dict[str, Any], account: str = ACCOUNT
    ) -> None:
        """Create role ``name`` (auth off) with ``trust`` and an inline policy of ``statements``."""
        iam = self.setup("iam") if account == ACCOUNT else self.setup_in(account, "iam")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        if statements:
            iam.put_role_policy(
                RoleName=name, PolicyName="inline", PolicyDocument=_policy(*statements)
            )

    def session(self, role: str, account: str = ACCOUNT, **kwargs: Any) -> dict[str, str]:
        """Credentials of ``role`` assumed by the admin (auth on)."""
        return self.assume(self.as_admin("sts"), account, role, **kwargs)


@pytest.fixture()
def aws(tmp_path: Path) -> Iterator[Aws]:
    server = start_moto_server(log_dir=tmp_path / "moto")
    try:
        yield Aws(server)
    finally:
        server.stop()


def _denied(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    text = str(caught.value)
    assert "AccessDenied" in text or "not authorized" in text, text
    return text


# -- pure functions ----------------------------------------------------------------------


def test_principal_matching_rules() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s1"
    user = f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert moto_iam.principal_matches("*", session)
    assert moto_iam.principal_matches({"AWS": "*"}, user)
    assert moto_iam.principal_matches({"AWS": ACCOUNT}, session)
    assert moto_iam.principal_matches({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, user)
    assert not moto_iam.principal_matches({"AWS": f"arn:aws:iam::{OTHER}:root"}, session)
    assert not moto_iam.principal_matches({"AWS": OTHER}, user)
    assert moto_iam.principal_matches({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/x/deployer"]}, session)
    assert not moto_iam.principal_matches({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}, session)
    assert moto_iam.principal_matches({"AWS": user}, user)
    assert not moto_iam.principal_matches({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, user)
    assert not moto_iam.principal_matches({"Service": "cloudformation.amazonaws.com"}, session)
    assert not moto_iam.principal_matches({"Federated": "cognito-identity.amazonaws.com"}, user)


def test_condition_operators() -> None:
    ctx = {"aws:principalarn": [f"arn:aws:iam::{ACCOUNT}:role/r"], "s3:prefix": ["logs/a"]}
    met = moto_iam.conditions_met
    assert met({"StringEquals": {"s3:prefix": ["x", "logs/a"]}}, ctx)
    assert not met({"StringEquals": {"s3:prefix": "logs"}}, ctx)
    assert met({"StringLike": {"s3:prefix": "logs/*"}}, ctx)
    assert not met({"StringNotLike": {"s3:prefix": "logs/*"}}, ctx)
    assert met({"StringNotEquals": {"s3:prefix": ["a", "b"]}}, ctx)
    assert met({"StringNotEquals": {"s3:resourceaccount": ACCOUNT}}, ctx)  # missing: true
    assert not met({"StringEquals": {"sts:ExternalId": "x"}}, ctx)  # missing: false
    assert met({"StringEqualsIfExists": {"sts:ExternalId": "x"}}, ctx)
    assert met({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/r"}}, ctx)
    assert met({"ArnEquals": {"AWS:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/r"}}, ctx)
    assert not met({"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/r"}}, ctx)
    assert not met({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*:x"}}, ctx)
    assert met({"Null": {"sts:ExternalId": "true"}}, ctx)
    assert met({"Null": {"sts:ExternalId": True}}, ctx)
    assert not met({"Null": {"s3:prefix": "true"}}, ctx)
    assert met({"Bool": {"aws:x": "true"}}, {"aws:x": ["True"]})
    assert not met({"Bool": {"aws:SecureTransport": "false"}}, ctx)
    assert met({"ForAnyValue:StringLike": {"s3:prefix": ["nope", "logs/*"]}}, ctx)
    assert met({"ForAllValues:StringEquals": {"aws:tagkeys": ["a"]}}, ctx)
    assert not met({"NoSuchOperator": {"s3:prefix": "logs/a"}}, ctx)
    # every operator and every key must hold
    assert not met({"StringLike": {"s3:prefix": "logs/*"}, "StringEquals": {"s3:prefix": "x"}}, ctx)


def test_child_pythonpath_keeps_sys_path_and_existing_entries(tmp_path: Path) -> None:
    extra = str(tmp_path / "extra")
    entries = child_pythonpath(f"{extra}:").split(":")
    assert entries[-1] == extra
    assert str(Path(moto_iam.__file__).parents[2]) in entries  # where aphex_stages is


_NO_PYTHONPATH_CHILD = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])  # as a pex or an installed wheel: no PYTHONPATH
import boto3
from aphex_stages.local.moto import ensure_local_admin, set_moto_auth, start_moto_server

server = start_moto_server(log_dir=sys.argv[2])
try:
    iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                            "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(trust))
    key, secret = ensure_local_admin(server.endpoint)
    set_moto_auth(server.endpoint, True)
    sts = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret)
    sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="shim")
    print("assumed through a :root trust")
finally:
    server.stop()
"""


def test_server_child_imports_the_shim_without_pythonpath(tmp_path: Path) -> None:
    """The parent found aphex_stages through sys.path only (a Pants pex, a wheel in a venv):
    the server child still runs the shim (stock moto refuses a :root trust)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-c", _NO_PYTHONPATH_CHILD, json.dumps(sys.path), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "assumed through a :root trust" in completed.stdout


# -- against a moto server ---------------------------------------------------------------


def test_unknown_key_refused_admin_allowed(aws: Aws) -> None:
    aws.auth_on()
    with pytest.raises(ClientError) as caught:
        aws.setup("sts").get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    identity = aws.as_admin("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{LOCAL_ADMIN_USER}"
    aws.as_admin("s3").create_bucket(Bucket="admin-bucket")
    assert [b["Name"] for b in aws.as_admin("s3").list_buckets()["Buckets"]] == ["admin-bucket"]
    # Switched off again, any credentials work.
    set_moto_auth(aws.endpoint, False)
    aws.setup("s3").list_buckets()


def test_ensure_local_admin_rotates_keys(aws: Aws) -> None:
    first = ensure_local_admin(aws.endpoint)
    second = ensure_local_admin(aws.endpoint)
    third = ensure_local_admin(aws.endpoint)
    keys = aws.setup("iam").list_access_keys(UserName=LOCAL_ADMIN_USER)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in keys} == {second[0], third[0]}
    assert first[0] not in {k["AccessKeyId"] for k in keys}


def test_put_object_only_under_allowed_prefix(aws: Aws) -> None:
    aws.setup("s3").create_bucket(Bucket="bucket")
    aws.role(
        "writer",
        _trust_root(),
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/prefix/*"},
    )
    aws.auth_on()
    s3 = aws.client("s3", aws.session("writer"))
    _denied(s3.put_object, Bucket="bucket", Key="elsewhere/x", Body=b"x")
    _denied(s3.get_object, Bucket="bucket", Key="prefix/x")
    s3.put_object(Bucket="bucket", Key="prefix/x", Body=b"x")
    assert aws.as_admin("s3").get_object(Bucket="bucket", Key="prefix/x")["Body"].read() == b"x"


def test_question_mark_matches_exactly_one_character(aws: Aws) -> None:
    """IAM's ``?`` (as the build role's ``<pipeline>/<40 x ?>/...`` keys use it)."""
    aws.setup("s3").create_bucket(Bucket="bucket")
    aws.role(
        "writer",
        _trust_root(),
        {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::bucket/p/" + "?" * 8 + "/a.b",
        },
    )
    aws.auth_on()
    s3 = aws.client("s3", aws.session("writer"))
    s3.put_object(Bucket="bucket", Key="p/01234567/a.b", Body=b"x")
    _denied(s3.put_object, Bucket="bucket", Key="p/0123456/a.b", Body=b"x")  # one short
    _denied(s3.put_object, Bucket="bucket", Key="p/head.json/a.b", Body=b"x")  # too long
    _denied(s3.put_object, Bucket="bucket", Key="p/01234567/aXb", Body=b"x")  # "." is literal


def test_assume_role_trust_root_with_conditions(aws: Aws) -> None:
    assume_any = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
    aws.role(
        "target",
        _trust_root(
            StringEquals={"sts:ExternalId": "the-id"},
            ArnEquals={"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/caller"},
        ),
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    )
    aws.role("caller", _trust_root(), assume_any)
    aws.role("other", _trust_root(), assume_any)
    # A trust policy with a Service principal next to the account (moto crashed on it).
    aws.role(
        "mixed",
        _policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudformation.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            json.loads(_trust_root())["Statement"][0],
        ),
    )
    aws.role(
        "by-role",  # trusts the role "caller" itself: its sessions, nobody else
        _policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/caller"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    aws.role("local-only", _trust_root())  # trusts account ACCOUNT only
    aws.role("trusts-other", _trust_root(OTHER))  # trusts account OTHER only
    aws.role("foreign", _trust_root(ACCOUNT), assume_any, account=OTHER)
    aws.auth_on()

    caller = aws.client("sts", aws.session("caller"))
    other = aws.client("sts", aws.session("other"))
    _denied(aws.assume, caller, ACCOUNT, "target")
    _denied(aws.assume, caller, ACCOUNT, "target", ExternalId="wrong-id")
    _denied(aws.assume, other, ACCOUNT, "target", ExternalId="the-id")
    _denied(aws.assume, aws.as_admin("sts"), ACCOUNT, "target", ExternalId="the-id")
    creds = aws.assume(caller, ACCOUNT, "target", session="right", ExternalId="the-id")
    target = aws.client("sts", creds).get_caller_identity()
    assert target["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/target/right"
    aws.client("s3", creds).list_buckets()

    aws.assume(caller, ACCOUNT, "by-role")
    _denied(aws.assume, other, ACCOUNT, "by-role")
    _denied(aws.assume, aws.as_admin("sts"), ACCOUNT, "by-role")
    aws.session("mixed")  # the admin, trusted through the account
    # Across accounts: a :root trust admits that account's principals only.
    foreign = aws.client("sts", aws.session("foreign", account=OTHER))
    assert foreign.get_caller_identity()["Account"] == OTHER
    _denied(aws.assume, foreign, ACCOUNT, "local-only")
    aws.assume(foreign, ACCOUNT, "trusts-other")
    _denied(aws.assume, aws.as_admin("sts"), ACCOUNT, "trusts-other")


def test_list_bucket_with_prefix_condition(aws: Aws) -> None:
    aws.setup("s3").create_bucket(Bucket="listed")
    aws.setup("s3").put_object(Bucket="listed", Key="reports/a", Body=b"a")
    aws.setup("s3").put_object(Bucket="listed", Key="secret/b", Body=b"b")
    aws.role(
        "lister",
        _trust_root(),
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::listed",
            "Condition": {"StringLike": {"s3:prefix": ["reports/*"]}},
        },
    )
    aws.auth_on()
    s3 = aws.client("s3", aws.session("lister"))
    listed = s3.list_objects_v2(Bucket="listed", Prefix="reports/")
    assert [o["Key"] for o in listed["Contents"]] == ["reports/a"]
    s3.list_objects(Bucket="listed", Prefix="reports/")
    _denied(s3.list_objects_v2, Bucket="listed", Prefix="secret/")
    _denied(s3.list_objects_v2, Bucket="listed")  # no prefix at all


def test_put_metric_data_with_namespace_condition(aws: Aws) -> None:
    aws.role(
        "metrics",
        _trust_root(),
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "Aphex/Pipeline"}},
        },
    )
    aws.auth_on()
    cloudwatch = aws.client("cloudwatch", aws.session("metrics"))
    datum = [{"MetricName": "Deploys", "Value": 1.0}]
    cloudwatch.put_metric_data(Namespace="Aphex/Pipeline", MetricData=datum)
    _denied(cloudwatch.put_metric_data, Namespace="Other", MetricData=datum)
    metrics = aws.as_admin("cloudwatch").list_metrics(Namespace="Aphex/Pipeline")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["Deploys"]


def test_explicit_deny_wins_and_unmet_conditions_do_not_deny(aws: Aws) -> None:
    aws.setup("s3").create_bucket(Bucket="guarded")
    aws.setup("s3").put_object(Bucket="guarded", Key="keep", Body=b"k")
    aws.role(
        "guarded",
        _trust_root(),
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::guarded/*"},
        # Conditions that do not hold: neither statement applies (moto made both deny).
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": OTHER}},
        },
        {
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": OTHER}},
        },
    )
    aws.auth_on()
    s3 = aws.client("s3", aws.session("guarded"))
    _denied(s3.delete_object, Bucket="guarded", Key="keep")
    assert s3.get_object(Bucket="guarded", Key="keep")["Body"].read() == b"k"
    s3.put_object(Bucket="guarded", Key="new", Body=b"n")


# -- the real CDK CLI --------------------------------------------------------------------


def _tiny_assembly(out: Path, stack: str, parameter: str) -> tuple[Path, str]:
    """A hand-written cloud assembly of one stack with one SSM parameter, synthesized the
    way the DefaultStackSynthesizer does (the template is a file asset published through
    the bootstrap's file-publishing role; the deploy role deploys it)."""
    out.mkdir(parents=True)
    template = {
        "Resources": {
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": parameter, "Type": "String", "Value": "deployed"},
            }
        },
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
    }
    template_text = json.dumps(template, indent=1)
    (out / f"{stack}.template.json").write_text(template_text)
    digest = hashlib.sha256(template_text.encode()).hexdigest()

    def role(kind: str) -> str:
        return f"arn:${{AWS::Partition}}:iam::{ACCOUNT}:role/cdk-hnb659fds-{kind}-role-{ACCOUNT}-{REGION}"

    bucket = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    version = {
        "requiresBootstrapStackVersion": 6,
        "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
    }
    assets = {
        "version": "55.0.0",
        "files": {
            digest: {
                "source": {"path": f"{stack}.template.json", "packaging": "file"},
                "destinations": {
                    f"{ACCOUNT}-{REGION}": {
                        "bucketName": bucket,
                        "objectKey": f"{digest}.json",
                        "region": REGION,
                        "assumeRoleArn": role("file-publishing"),
                    }
                },
            }
        },
        "dockerImages": {},
    }
    (out / f"{stack}.assets.json").write_text(json.dumps(assets))
    manifest = {
        "version": "55.0.0",
        "artifacts": {
            f"{stack}.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": f"{stack}.assets.json", **version},
            },
            stack: {
                "type": "aws:cloudformation:stack",
                "environment": f"aws://{ACCOUNT}/{REGION}",
                "properties": {
                    "templateFile": f"{stack}.template.json",
                    "assumeRoleArn": role("deploy"),
                    "cloudFormationExecutionRoleArn": role("cfn-exec"),
                    "stackTemplateAssetObjectUrl": f"s3://{bucket}/{digest}.json",
                    "additionalDependencies": [f"{stack}.assets"],
                    **version,
                },
                "dependencies": [f"{stack}.assets"],
                "displayName": stack,
            },
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out, f"{digest}.json"


def test_cdk_deploy_through_bootstrap_roles(aws: Aws, cdk_cli: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    local = LocalAws(aws.endpoint, region=REGION, server_log=aws.server.log_path)
    CdkRunner(target=local, cli=cdk_cli, on_line=lines.append).bootstrap(ACCOUNT, REGION)
    aws.role(
        "deployer",
        _trust_root(),
        {
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-*",
        },
    )
    aws.role(
        "no-grant",
        _trust_root(),
        {"Effect": "Allow", "Action": ["s3:*", "ssm:*"], "Resource": "*"},
    )
    aws.auth_on()

    def runner(role: str) -> CdkRunner:
        creds = aws.session(role)
        credentials = AwsCredentials(
            creds["aws_access_key_id"], creds["aws_secret_access_key"], creds["aws_session_token"]
        )
        return CdkRunner(
            target=local.with_credentials(credentials), cli=cdk_cli, on_line=lines.append
        )

    # The bootstrap roles' trust: the account (a bare id) with Null sts:ExternalId.
    deploy_role = f"cdk-hnb659fds-deploy-role-{ACCOUNT}-{REGION}"
    deployer = aws.client("sts", aws.session("deployer"))
    _denied(aws.assume, deployer, ACCOUNT, deploy_role, ExternalId="any")
    aws.assume(deployer, ACCOUNT, deploy_role)

    ok, template_key = _tiny_assembly(tmp_path / "ok.out", "TinyOk", "/aphex/iam/ok")
    runner("deployer").deploy(ok, ["TinyOk"], tmp_path / "ok.json")
    # The template went up through the file-publishing role (aws:ResourceAccount condition).
    staging = aws.as_admin("s3").list_objects_v2(Bucket=f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}")
    assert template_key in [o["Key"] for o in staging.get("Contents", [])]
    ssm = aws.as_admin("ssm")
    assert ssm.get_parameter(Name="/aphex/iam/ok")["Parameter"]["Value"] == "deployed"
    stacks = aws.as_admin("cloudformation").describe_stacks(StackName="TinyOk")["Stacks"]
    assert stacks[0]["StackStatus"] == "CREATE_COMPLETE"

    refused, _ = _tiny_assembly(tmp_path / "refused.out", "TinyRefused", "/aphex/iam/refused")
    with pytest.raises(CdkError):
        runner("no-grant").deploy(refused, ["TinyRefused"], tmp_path / "refused.json")
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/aphex/iam/refused")
    assert "TinyRefused" not in {
        s["StackName"] for s in aws.as_admin("cloudformation").describe_stacks()["Stacks"]
    }


def test_calls_that_name_a_resource_are_checked_against_it(aws: Aws) -> None:
    """moto checks these against ``*``: the shim uses the log group, topic or stack named."""
    aws.setup("s3").create_bucket(Bucket="bucket")
    topic = aws.setup("sns").create_topic(Name="mine")["TopicArn"]
    other = aws.setup("sns").create_topic(Name="other")["TopicArn"]
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aphex/mine"
    aws.role(
        "scoped",
        _trust_root(),
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
        {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": group},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket"},
    )
    aws.auth_on()
    session = aws.session("scoped")
    sns = aws.client("sns", session)
    sns.publish(TopicArn=topic, Message="hi")
    _denied(sns.publish, TopicArn=other, Message="hi")
    logs = aws.client("logs", session)
    logs.create_log_group(logGroupName="/aphex/mine")
    _denied(logs.create_log_group, logGroupName="/aphex/theirs")
    aws.client("s3", session).head_bucket(Bucket="bucket")  # needs s3:ListBucket, as on AWS


def test_a_get_without_a_body_is_signed_as_the_sdk_signs_it(aws: Aws) -> None:
    """Lambda's GetFunction (a REST GET): moto hashed its parameters as the payload and
    refused every such call with SignatureDoesNotMatch; now only the policy decides."""
    trust = _trust_root()
    aws.setup("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=trust)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def main(event, context):\n    return 1\n")
    aws.setup("lambda").create_function(
        FunctionName="f",
        Runtime="python3.11",
        Role=f"arn:aws:iam::{ACCOUNT}:role/fn",
        Handler="handler.main",
        Code={"ZipFile": code.getvalue()},
    )
    aws.role("reader", trust, {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"})
    aws.role("nobody", trust, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
    aws.auth_on()
    function = aws.client("lambda", aws.session("reader")).get_function(FunctionName="f")
    assert function["Configuration"]["FunctionName"] == "f"
    _denied(aws.client("lambda", aws.session("nobody")).get_function, FunctionName="f")
