"""The CDK context keys of the pipeline's own infra app, and the mapping from a config.

Standalone on purpose: standard library only, no import of ``aphex_config`` (another
resolve) or ``aws_cdk``. The pipeline-deployment stage calls (or vendors) this module to
turn the ``aphex-config.yaml`` it has loaded into ``cdk -c KEY=VALUE`` arguments::

    from aphex_infra.context import infra_context, context_args

    args = context_args(infra_context(config))   # ["-c", "aphex:pipeline=orders", ...]

``config`` is an ``aphex_config.AphexConfig`` (read by attribute, duck-typed) or the
plain mapping that ``yaml.safe_load`` gives for the same file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ACCOUNTS",
    "ADMIN_ROLE_ARN",
    "BUCKET_NAME",
    "CDK_QUALIFIER",
    "CONFIG_FILE",
    "DEFAULT_DEPLOY_ROLE_NAME",
    "DEPLOY_ROLE_ARNS",
    "DEPLOY_ROLE_NAME",
    "ENVIRONMENTS",
    "EXTERNAL_ID",
    "NAMESPACE",
    "OIDC_PROVIDER_ARN",
    "PIPELINE",
    "PIPELINE_ACCOUNT",
    "PUBLIC_ENDPOINT_CIDRS",
    "RETENTION_DAYS",
    "RUNS_RETENTION_DAYS",
    "SERVICE_ACCOUNT",
    "SNS_TOPIC_ARN",
    "STACKS",
    "WEBHOOK_CERTIFICATE_ARN",
    "ARGO_AUTH_MODE",
    "context_args",
    "infra_context",
]

# Keys mapped from aphex-config.yaml by infra_context().
PIPELINE = "aphex:pipeline"
#: The environments, comma-separated, in config order: ``<name>=<account>`` when the
#: environment assumes ``arn:aws:iam::<account>:role/<deployRoleName>``, ``<name>=<role ARN>``
#: when it names its own ``role_arn`` (the account is the ARN's). Each gets its own deploy
#: identity (IAM role and service account) in the pipeline account.
ENVIRONMENTS = "aphex:environments"
# Replaced by ENVIRONMENTS; the app refuses them (a ContextError says so).
ACCOUNTS = "aphex:accounts"
DEPLOY_ROLE_ARNS = "aphex:deployRoleArns"
SNS_TOPIC_ARN = "aphex:snsTopicArn"
RETENTION_DAYS = "aphex:retentionDays"
NAMESPACE = "aphex:namespace"
# Keys with defaults in the app, set by whoever installs the pipeline.
RUNS_RETENTION_DAYS = "aphex:runsRetentionDays"
DEPLOY_ROLE_NAME = "aphex:deployRoleName"
STACKS = "aphex:stacks"  # "all" (default) or "artifacts" (local runs against moto)
OIDC_PROVIDER_ARN = "aphex:oidcProviderArn"  # standalone artifacts stack trusting a cluster
SERVICE_ACCOUNT = "aphex:serviceAccount"
PIPELINE_ACCOUNT = "aphex:pipelineAccount"  # target-account stacks: where the pipeline runs
EXTERNAL_ID = "aphex:externalId"
CDK_QUALIFIER = "aphex:cdkQualifier"
BUCKET_NAME = "aphex:bucketName"
WEBHOOK_CERTIFICATE_ARN = "aphex:webhookCertificateArn"
ARGO_AUTH_MODE = "aphex:argoAuthMode"
ADMIN_ROLE_ARN = "aphex:adminRoleArn"  # gets cluster-admin through an EKS access entry
PUBLIC_ENDPOINT_CIDRS = "aphex:publicEndpointCidrs"  # comma-separated; default: private only
# The pipeline stage passes the path of the aphex-config.yaml it loaded; the app maps it
# with infra_context() (explicit -c keys win).
CONFIG_FILE = "aphex:configFile"

DEFAULT_DEPLOY_ROLE_NAME = "aphex-deploy"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def infra_context(
    config: Any, *, deploy_role_name: str = DEFAULT_DEPLOY_ROLE_NAME
) -> dict[str, str]:
    """The ``aphex:*`` context of ``config`` (an ``AphexConfig`` or its YAML mapping).

    Only what the config decides: the pipeline name and namespace, the environments (name,
    account, and a ``role_arn`` that is not ``arn:aws:iam::<account>:role/<deploy_role_name>``;
    see :data:`ENVIRONMENTS`), the notification topic and the artifact retention. Absent
    optional values are omitted, so the app's defaults apply.
    """
    pipeline = _get(config, "pipeline") or {}
    environments = _get(config, "environments") or ()
    entries = []
    for env in environments:
        account = str(_get(env, "account"))
        arn = _get(env, "role_arn")
        default = f"arn:aws:iam::{account}:role/{deploy_role_name}"
        target = str(arn) if arn and str(arn) != default else account
        entries.append(f"{_get(env, 'name')}={target}")
    context = {
        PIPELINE: str(_get(pipeline, "name")),
        NAMESPACE: str(_get(pipeline, "namespace") or "argo"),
        ENVIRONMENTS: ",".join(entries),
        RETENTION_DAYS: str(int(_get(pipeline, "artifact_retention_days") or 90)),
    }
    topic = _get(_get(pipeline, "notifications") or {}, "sns_topic_arn")
    if topic:
        context[SNS_TOPIC_ARN] = str(topic)
    return context


def context_args(context: Mapping[str, str]) -> list[str]:
    """``cdk`` argv entries for ``context``: ``["-c", "KEY=VALUE", ...]`` in key order."""
    args: list[str] = []
    for key in sorted(context):
        args += ["-c", f"{key}={context[key]}"]
    return args
