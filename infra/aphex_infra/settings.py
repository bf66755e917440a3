"""The app's settings, read from CDK context only (keys in :mod:`aphex_infra.context`).

Standard library only (and the stage contract, itself standard library only), so the
settings and the names derived from them can be tested without synthesizing anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aphex_generator import (
    Identity,
    identity_role_name,
    identity_service_account,
)
from aphex_infra import context as keys

__all__ = ["ContextError", "InfraSettings", "METRIC_NAMESPACE", "TargetEnvironment"]

#: CloudWatch namespace of aphex_monitoring's metrics (aphex_monitoring.metrics.NAMESPACE).
METRIC_NAMESPACE = "AphexPipeline"

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$")
_OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/([A-Za-z0-9./_-]+)$")
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_QUALIFIER = re.compile(r"^[a-z0-9]{1,10}$")
_CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ENVIRONMENT = re.compile(r"^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$")  # aphex_config's rule


def with_config_file(get: Callable[[str], Any]) -> Callable[[str], Any]:
    """``get``, falling back to the mapping of the config file named by ``aphex:configFile``."""
    path = get(keys.CONFIG_FILE)
    if not path:
        return get
    import yaml  # type: ignore[import-untyped, unused-ignore]

    try:
        with open(str(path), encoding="utf-8") as handle:
            mapped = keys.infra_context(yaml.safe_load(handle) or {})
    except (OSError, yaml.YAMLError) as error:
        raise ContextError(f"{keys.CONFIG_FILE}: cannot read {path}: {error}") from None

    def lookup(key: str) -> Any:
        value = get(key)
        return mapped.get(key) if value is None else value

    return lookup


class ContextError(ValueError):
    """A context value is missing or malformed; the message names the key."""


def _text(get: Callable[[str], Any], key: str, default: str | None = None) -> str | None:
    value = get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value).strip()


def _match(key: str, value: str | None, pattern: re.Pattern[str], what: str) -> str | None:
    if value is not None and not pattern.fullmatch(value):
        raise ContextError(f"{key}: expected {what}, got {value!r}")
    return value


def _days(get: Callable[[str], Any], key: str, default: int) -> int:
    raw = _text(get, key)
    if raw is None:
        return default
    try:
        days = int(raw)
    except ValueError:
        raise ContextError(f"{key}: expected a whole number of days, got {raw!r}") from None
    if not 1 <= days <= 3650:
        raise ContextError(f"{key}: expected 1..3650 days, got {days}")
    return days


def _list(get: Callable[[str], Any], key: str) -> tuple[str, ...]:
    raw = get(key)
    items = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
    return tuple(sorted({str(item).strip() for item in items if str(item).strip()}))


@dataclass(frozen=True)
class TargetEnvironment:
    """One environment of the config: where it deploys and the role it assumes there.

    ``role_arn`` is the environment's own ``role_arn``; None means the account's
    ``<deployRoleName>`` (:meth:`InfraSettings.deploy_role_arn`)."""

    name: str
    account: str
    role_arn: str | None = None


def _environments(get: Callable[[str], Any]) -> tuple[TargetEnvironment, ...]:
    """``aphex:environments``: ``name=account`` or ``name=roleArn``, comma-separated."""
    key = keys.ENVIRONMENTS
    raw = get(key)
    items = raw if isinstance(raw, list | tuple) else str(raw or "").split(",")
    found: dict[str, TargetEnvironment] = {}
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        name, separator, target = (part.strip() for part in item.partition("="))
        if not separator or not _ENVIRONMENT.fullmatch(name):
            raise ContextError(
                f"{key}: expected NAME=ACCOUNT or NAME=ROLE_ARN with NAME a DNS label of 1..30,"
                f" got {item!r}"
            )
        if name in found:
            raise ContextError(f"{key}: environment {name!r} is named twice")
        if _ACCOUNT.fullmatch(target):
            found[name] = TargetEnvironment(name, target)
        elif match := _ROLE_ARN.fullmatch(target):
            found[name] = TargetEnvironment(name, match.group(1), target)
        else:
            raise ContextError(
                f"{key}: environment {name!r}: expected a 12-digit account id or an IAM role"
                f" ARN, got {target!r}"
            )
    return tuple(found.values())


@dataclass(frozen=True)
class InfraSettings:
    """Everything the stacks need. Build with :meth:`from_context`."""

    pipeline: str
    environments: tuple[TargetEnvironment, ...] = ()
    deploy_role_name: str = keys.DEFAULT_DEPLOY_ROLE_NAME
    sns_topic_arn: str | None = None
    retention_days: int = 90
    runs_retention_days: int = 365
    namespace: str = "argo"
    stacks: str = "all"
    oidc_provider_arn: str | None = None
    service_account: str = "aphex-pipeline"
    pipeline_account: str | None = None
    external_id: str | None = None
    cdk_qualifier: str = "hnb659fds"
    bucket_name: str | None = None
    webhook_certificate_arn: str | None = None
    argo_auth_mode: str = "client"
    admin_role_arn: str | None = None
    public_endpoint_cidrs: tuple[str, ...] = ()

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> InfraSettings:
        """Read and validate every ``aphex:*`` key through ``get`` (``node.try_get_context``).

        With ``aphex:configFile`` set, the keys come from that aphex-config.yaml through
        :func:`aphex_infra.context.infra_context`; explicit context keys win.
        """
        get = with_config_file(get)
        pipeline = _text(get, keys.PIPELINE)
        if pipeline is None:
            raise ContextError(f"{keys.PIPELINE}: required (the pipeline name)")
        if len(pipeline) > 40 or not _DNS_LABEL.fullmatch(pipeline):
            raise ContextError(f"{keys.PIPELINE}: expected a DNS label of 1..40, got {pipeline!r}")
        for replaced in (keys.ACCOUNTS, keys.DEPLOY_ROLE_ARNS):
            if _text(get, replaced) is not None:
                raise ContextError(
                    f"{replaced}: replaced by {keys.ENVIRONMENTS} (NAME=ACCOUNT or NAME=ROLE_ARN,"
                    " comma-separated: one deploy identity per environment)"
                )
        environments = _environments(get)
        namespace = _text(get, keys.NAMESPACE, "argo") or "argo"
        _match(keys.NAMESPACE, namespace, _DNS_LABEL, "a DNS label")
        stacks = _text(get, keys.STACKS, "all")
        if stacks not in ("all", "artifacts"):
            raise ContextError(f"{keys.STACKS}: expected 'all' or 'artifacts', got {stacks!r}")
        auth_mode = _text(get, keys.ARGO_AUTH_MODE, "client")
        if auth_mode not in ("client", "server", "sso"):
            raise ContextError(f"{keys.ARGO_AUTH_MODE}: expected client, server or sso")
        cidrs = _list(get, keys.PUBLIC_ENDPOINT_CIDRS)
        for cidr in cidrs:
            _match(keys.PUBLIC_ENDPOINT_CIDRS, cidr, _CIDR, "IPv4 CIDRs")
        role_name = _text(get, keys.DEPLOY_ROLE_NAME, keys.DEFAULT_DEPLOY_ROLE_NAME)
        service_account = _text(get, keys.SERVICE_ACCOUNT, "aphex-pipeline")
        return cls(
            pipeline=pipeline,
            environments=environments,
            deploy_role_name=_match(keys.DEPLOY_ROLE_NAME, role_name, _ROLE_NAME, "a role name")
            or keys.DEFAULT_DEPLOY_ROLE_NAME,
            sns_topic_arn=_match(
                keys.SNS_TOPIC_ARN, _text(get, keys.SNS_TOPIC_ARN), _TOPIC_ARN, "an SNS topic ARN"
            ),
            retention_days=_days(get, keys.RETENTION_DAYS, 90),
            runs_retention_days=_days(get, keys.RUNS_RETENTION_DAYS, 365),
            namespace=namespace,
            stacks=stacks or "all",
            oidc_provider_arn=_match(
                keys.OIDC_PROVIDER_ARN,
                _text(get, keys.OIDC_PROVIDER_ARN),
                _OIDC_ARN,
                "an IAM OIDC provider ARN",
            ),
            service_account=_match(keys.SERVICE_ACCOUNT, service_account, _DNS_LABEL, "a DNS label")
            or "aphex-pipeline",
            pipeline_account=_match(
                keys.PIPELINE_ACCOUNT,
                _text(get, keys.PIPELINE_ACCOUNT),
                _ACCOUNT,
                "a 12-digit account id",
            ),
            external_id=_match(
                keys.EXTERNAL_ID, _text(get, keys.EXTERNAL_ID), _EXTERNAL_ID, "an STS external id"
            ),
            cdk_qualifier=_match(
                keys.CDK_QUALIFIER,
                _text(get, keys.CDK_QUALIFIER, "hnb659fds"),
                _QUALIFIER,
                "a CDK bootstrap qualifier",
            )
            or "hnb659fds",
            bucket_name=_match(
                keys.BUCKET_NAME, _text(get, keys.BUCKET_NAME), _BUCKET, "an S3 bucket name"
            ),
            webhook_certificate_arn=_match(
                keys.WEBHOOK_CERTIFICATE_ARN,
                _text(get, keys.WEBHOOK_CERTIFICATE_ARN),
                _CERT_ARN,
                "an ACM certificate ARN",
            ),
            argo_auth_mode=auth_mode or "client",
            admin_role_arn=_match(
                keys.ADMIN_ROLE_ARN, _text(get, keys.ADMIN_ROLE_ARN), _ROLE_ARN, "an IAM role ARN"
            ),
            public_endpoint_cidrs=cidrs,
        )

    # -- names every stack and the installer agree on --------------------------------
    @property
    def accounts(self) -> tuple[str, ...]:
        """The environments' accounts, sorted (one target-account stack each)."""
        return tuple(sorted({env.account for env in self.environments}))

    def environments_in(self, account: str) -> tuple[TargetEnvironment, ...]:
        """The environments that deploy into ``account`` through its ``<deployRoleName>``
        (the role its target-account stack makes; not those naming another ``role_arn``)."""
        own = f":iam::{account}:role/{self.deploy_role_name}"
        return tuple(
            env
            for env in self.environments
            if env.account == account and (env.role_arn is None or env.role_arn.endswith(own))
        )

    @property
    def deploy_role_accounts(self) -> tuple[str, ...]:
        """The accounts with an environment that uses ``<deployRoleName>``: one
        target-account stack each."""
        return tuple(account for account in self.accounts if self.environments_in(account))

    def role_name(self, identity: Identity, environment: str | None = None) -> str:
        """The IAM role of a kind of work (``aphex_generator.identity_role_name``): fixed,
        so the cluster and target-account stacks can name it without a reference."""
        return identity_role_name(self.pipeline, identity, environment)

    def role_arn(
        self, identity: Identity, partition: str, account: str, environment: str | None = None
    ) -> str:
        """ARN of :meth:`role_name` in ``account`` (the pipeline account)."""
        return f"arn:{partition}:iam::{account}:role/{self.role_name(identity, environment)}"

    def service_account_of(self, identity: Identity, environment: str | None = None) -> str:
        """The service account of a kind of work (``aphex_generator.identity_service_account``
        of ``aphex:serviceAccount``)."""
        return identity_service_account(self.service_account, identity, environment)

    def deploy_role_arn(self, env: TargetEnvironment, partition: str = "aws") -> str:
        """The role ``env``'s deployments assume: its ``role_arn``, else
        ``arn:<partition>:iam::<account>:role/<deployRoleName>``."""
        return env.role_arn or f"arn:{partition}:iam::{env.account}:role/{self.deploy_role_name}"

    def artifact_bucket_name(self, account: str) -> str:
        """``aphex:bucketName``, or ``aphex-<account>-<pipeline>`` (at most 59 characters).
        Fixed, so the cluster stack configures Argo's artifact repository without a
        reference to the artifacts stack."""
        return self.bucket_name or f"aphex-{account}-{self.pipeline}"

    @property
    def required_external_id(self) -> str:
        """The ExternalId the deploy roles require: ``aphex:externalId``, the install's
        secret (never derived from the pipeline's name). ContextError without it."""
        if not self.external_id:
            raise ContextError(
                f"{keys.EXTERNAL_ID}: required for the target accounts' deploy roles: the"
                " install's secret ExternalId (`aphex install` makes one and passes it)"
            )
        return self.external_id

    @property
    def log_group_name(self) -> str:
        """The pipeline's log group (aphex_monitoring.logs.log_group_name)."""
        return f"/aphex/{self.pipeline}"

    @property
    def stack_prefix(self) -> str:
        """Prefix of the CloudFormation stack names."""
        return f"aphex-{self.pipeline}"

    @property
    def oidc_issuer(self) -> str | None:
        """Issuer host/path of ``oidc_provider_arn`` (the IAM condition key prefix)."""
        if self.oidc_provider_arn is None:
            return None
        match = _OIDC_ARN.fullmatch(self.oidc_provider_arn)
        return match.group(1) if match else None
