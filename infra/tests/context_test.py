"""context.infra_context and settings.InfraSettings: the app's only inputs (no synth)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from tests.helpers import REPO_ROOT

from aphex_generator import (
    Identity,
    identity_role_name,
    identity_service_account,
)
from aphex_infra import context as keys
from aphex_infra.context import context_args, infra_context
from aphex_infra.settings import ContextError, InfraSettings, TargetEnvironment

SAMPLE = "examples/sample-app/aphex-config.yaml"


def _sample() -> dict[str, Any]:
    """The sample config: in the sandbox, next to infra/, or through APHEX_REPO_ROOT."""
    candidates = [REPO_ROOT / SAMPLE, Path(os.environ.get("APHEX_REPO_ROOT", ".")) / SAMPLE]
    path = next((p for p in candidates if p.exists()), candidates[0])
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _model(**pipeline: Any) -> SimpleNamespace:
    """A stand-in for aphex_config.AphexConfig (attributes only, as the stage passes it)."""
    settings = {"name": "orders", "namespace": "ci", "artifact_retention_days": 30}
    notifications = SimpleNamespace(sns_topic_arn="arn:aws:sns:eu-west-1:123456789012:deploys")
    return SimpleNamespace(
        pipeline=SimpleNamespace(**{**settings, "notifications": notifications, **pipeline}),
        environments=(
            SimpleNamespace(name="qa", account="222222222222", role_arn=None),
            SimpleNamespace(name="dev", account="111111111111", role_arn=None),
            SimpleNamespace(
                name="edge",
                account="333333333333",
                role_arn="arn:aws:iam::333333333333:role/custom",
            ),
            SimpleNamespace(
                name="prod",
                account="111111111111",
                role_arn="arn:aws:iam::111111111111:role/aphex-deploy",
            ),
        ),
    )


def test_sample_config_mapping() -> None:
    assert infra_context(_sample()) == {
        keys.PIPELINE: "aphex-sample",
        keys.NAMESPACE: "argo",
        keys.ENVIRONMENTS: "dev=111111111111,staging=111111111111,prod=222222222222",
        keys.RETENTION_DAYS: "90",
    }


def test_model_mapping_names_only_custom_role_arns() -> None:
    """An environment is ``name=account`` unless it names a role other than the default."""
    assert infra_context(_model()) == {
        keys.PIPELINE: "orders",
        keys.NAMESPACE: "ci",
        keys.ENVIRONMENTS: "qa=222222222222,dev=111111111111,"
        "edge=arn:aws:iam::333333333333:role/custom,prod=111111111111",
        keys.RETENTION_DAYS: "30",
        keys.SNS_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:deploys",
    }


def test_settings_read_the_mapping_back() -> None:
    settings = InfraSettings.from_context(infra_context(_model()).get)
    assert settings.pipeline == "orders"
    assert settings.environments == (
        TargetEnvironment("qa", "222222222222"),
        TargetEnvironment("dev", "111111111111"),
        TargetEnvironment("edge", "333333333333", "arn:aws:iam::333333333333:role/custom"),
        TargetEnvironment("prod", "111111111111"),
    )
    assert settings.accounts == ("111111111111", "222222222222", "333333333333")
    # 333333333333's only environment uses its own role: no aphex-deploy stack there.
    assert settings.deploy_role_accounts == ("111111111111", "222222222222")
    assert [settings.deploy_role_arn(env) for env in settings.environments] == [
        "arn:aws:iam::222222222222:role/aphex-deploy",
        "arn:aws:iam::111111111111:role/aphex-deploy",
        "arn:aws:iam::333333333333:role/custom",
        "arn:aws:iam::111111111111:role/aphex-deploy",
    ]
    assert settings.retention_days == 30
    assert settings.runs_retention_days == 365
    assert settings.external_id is None  # no default: the install gives its secret


def test_identity_names_are_the_contracts() -> None:
    settings = InfraSettings.from_context(
        {keys.PIPELINE: "orders", keys.SERVICE_ACCOUNT: "ci-bot"}.get
    )
    for identity, env in [
        (Identity.BUILD, None),
        (Identity.PIPELINE, None),
        (Identity.DEPLOY, "dev"),
        (Identity.NOTIFY, None),
    ]:
        assert settings.role_name(identity, env) == identity_role_name("orders", identity, env)
        assert settings.service_account_of(identity, env) == identity_service_account(
            "ci-bot", identity, env
        )
    assert settings.role_name(Identity.DEPLOY, "dev") == "aphex-orders-deploy-dev"
    assert settings.service_account_of(Identity.PIPELINE) == "ci-bot"
    assert settings.role_arn(Identity.BUILD, "aws", "123456789012") == (
        "arn:aws:iam::123456789012:role/aphex-orders-build"
    )


def test_context_args_are_argv_entries() -> None:
    assert context_args({"b": "2", "a": "x y"}) == ["-c", "a=x y", "-c", "b=2"]


def test_context_module_is_standalone() -> None:
    """The stages package vendors/calls context.py: standard library imports only."""
    source = (Path(keys.__file__)).read_text(encoding="utf-8")
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= {"__future__", "collections", "typing"}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({}, "aphex:pipeline: required"),
        ({keys.PIPELINE: "Bad_Name"}, "DNS label"),
        ({keys.PIPELINE: "p", keys.ACCOUNTS: "111111111111"}, "aphex:accounts: replaced by"),
        ({keys.PIPELINE: "p", keys.ENVIRONMENTS: "dev"}, "aphex:environments: expected NAME="),
        ({keys.PIPELINE: "p", keys.ENVIRONMENTS: "Dev=111111111111"}, "aphex:environments"),
        ({keys.PIPELINE: "p", keys.ENVIRONMENTS: "dev=1234"}, "aphex:environments: .*12-digit"),
        (
            {keys.PIPELINE: "p", keys.ENVIRONMENTS: "dev=111111111111,dev=222222222222"},
            "aphex:environments: environment 'dev' is named twice",
        ),
        ({keys.PIPELINE: "p", keys.RETENTION_DAYS: "0"}, "1..3650"),
        ({keys.PIPELINE: "p", keys.RETENTION_DAYS: "ninety"}, "whole number"),
        ({keys.PIPELINE: "p", keys.STACKS: "some"}, "'all' or 'artifacts'"),
        ({keys.PIPELINE: "p", keys.SNS_TOPIC_ARN: "topic"}, "SNS topic ARN"),
        ({keys.PIPELINE: "p", keys.OIDC_PROVIDER_ARN: "arn:x"}, "OIDC provider ARN"),
        ({keys.PIPELINE: "p", keys.DEPLOY_ROLE_ARNS: "role"}, "aphex:deployRoleArns: replaced"),
        ({keys.PIPELINE: "p", keys.ARGO_AUTH_MODE: "none"}, "client, server or sso"),
        ({keys.PIPELINE: "p", keys.PUBLIC_ENDPOINT_CIDRS: "10.0.0.0"}, "IPv4 CIDRs"),
        ({keys.PIPELINE: "p", keys.ADMIN_ROLE_ARN: "admin"}, "an IAM role ARN"),
    ],
)
def test_bad_context_names_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ContextError, match=message):
        InfraSettings.from_context(context.get)


def test_oidc_issuer_from_arn() -> None:
    arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/AB12"
    settings = InfraSettings.from_context({keys.PIPELINE: "p", keys.OIDC_PROVIDER_ARN: arn}.get)
    assert settings.oidc_issuer == "oidc.eks.eu-west-1.amazonaws.com/id/AB12"


def test_settings_read_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "aphex-config.yaml"
    config.write_text(yaml.safe_dump(_sample()))
    explicit = {keys.CONFIG_FILE: str(config), keys.STACKS: "artifacts", keys.RETENTION_DAYS: "7"}
    settings = InfraSettings.from_context(explicit.get)
    assert settings.pipeline == "aphex-sample"
    assert settings.accounts == ("111111111111", "222222222222")
    assert [env.name for env in settings.environments] == ["dev", "staging", "prod"]
    assert settings.stacks == "artifacts"
    assert settings.retention_days == 7  # an explicit -c key wins over the file


def test_an_unreadable_config_file_is_a_context_error(tmp_path: Path) -> None:
    missing = {keys.CONFIG_FILE: str(tmp_path / "absent.yaml")}
    with pytest.raises(ContextError, match="aphex:configFile: cannot read"):
        InfraSettings.from_context(missing.get)


def test_rbac_rules_are_the_generators() -> None:
    """The app's RBAC rules are the stage contract's: the ones local runs install and the
    fake API server enforces."""
    from aphex_generator import identity_rules, sensor_rules
    from aphex_infra import k8s

    for identity in Identity:
        assert k8s.identity_rules("orders", identity) == identity_rules("orders", identity)
    assert k8s.sensor_rules("orders") == sensor_rules("orders")
