"""AphexTargetAccountStack: the deploy role of a target account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import PIPELINE, PIPELINE_ACCOUNT, cfn_lint_errors, resources

from aphex_infra.nag import add_checks
from aphex_infra.settings import InfraSettings, TargetEnvironment
from aphex_infra.stacks import new_app
from aphex_infra.target_account_stack import AphexTargetAccountStack

ACCOUNT = "111111111111"
#: dev and staging deploy into ACCOUNT through its aphex-deploy; edge into ACCOUNT through a
#: role of its own; prod into another account.
SETTINGS = InfraSettings(
    pipeline=PIPELINE,
    environments=(
        TargetEnvironment("dev", ACCOUNT),
        TargetEnvironment("staging", ACCOUNT),
        TargetEnvironment("edge", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/edge-deployer"),
        TargetEnvironment("prod", "222222222222"),
    ),
    pipeline_account=PIPELINE_ACCOUNT,
    external_id="install-secret-4f1c",
)


@pytest.fixture(scope="module")
def template_path(module_tmp: Path) -> Path:
    from aws_cdk import Environment

    app = new_app(outdir=str(module_tmp))
    AphexTargetAccountStack(app, "Target", settings=SETTINGS, env=Environment(account=ACCOUNT))
    add_checks(app)
    app.synth()
    return module_tmp / "Target.template.json"


@pytest.fixture(scope="module")
def template(template_path: Path) -> dict[str, Any]:
    import json

    return dict(json.loads(template_path.read_text()))


def _join(value: Any) -> str:
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_join(p) for p in value["Fn::Join"][1])
    return "<" + value.get("Ref", next(iter(value))) + ">"


def test_role_trusts_only_this_accounts_environments_with_external_id(
    template: dict[str, Any],
) -> None:
    (role,) = resources(template, "AWS::IAM::Role").values()
    props = role["Properties"]
    assert props["RoleName"] == "aphex-deploy"
    (statement,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert _join(statement["Principal"]["AWS"]).endswith(f":iam::{PIPELINE_ACCOUNT}:root")
    assert set(statement["Condition"]) == {"StringEquals", "ArnEquals"}
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": "install-secret-4f1c"}
    principals = [_join(a) for a in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]]
    assert principals == [
        f"arn:<AWS::Partition>:iam::{PIPELINE_ACCOUNT}:role/aphex-{PIPELINE}-deploy-{env}"
        for env in ("dev", "staging")
    ]


def test_role_may_only_assume_cdk_bootstrap_roles(template: dict[str, Any]) -> None:
    (policy,) = resources(template, "AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert _join(statement["Resource"]) == (
        f"arn:<AWS::Partition>:iam::{ACCOUNT}:role/cdk-hnb659fds-*-role-{ACCOUNT}-*"
    )


def test_outputs_and_lint(template: dict[str, Any], template_path: Path) -> None:
    # The ExternalId is a secret: never an output anyone who can read the stack sees.
    assert set(template["Outputs"]) == {"DeployRoleArn"}
    assert SETTINGS.external_id not in json.dumps(template["Outputs"])
    assert cfn_lint_errors(template_path) == []


def test_needs_the_pipeline_account() -> None:
    app = new_app()
    with pytest.raises(ValueError, match="aphex:pipelineAccount"):
        AphexTargetAccountStack(app, "T", settings=InfraSettings(pipeline=PIPELINE))


def test_needs_an_environment_in_its_account() -> None:
    from aws_cdk import Environment

    app = new_app()
    with pytest.raises(ValueError, match="nothing would be trusted"):
        AphexTargetAccountStack(
            app, "T", settings=SETTINGS, env=Environment(account="333333333333")
        )


def test_needs_the_installs_external_id() -> None:
    """Never a default derived from the pipeline's name (which anyone can read)."""
    settings = InfraSettings(
        pipeline=PIPELINE, environments=SETTINGS.environments, pipeline_account=PIPELINE_ACCOUNT
    )
    from aws_cdk import Environment

    with pytest.raises(ValueError, match="aphex:externalId: required"):
        AphexTargetAccountStack(new_app(), "T", settings=settings, env=Environment(account=ACCOUNT))
