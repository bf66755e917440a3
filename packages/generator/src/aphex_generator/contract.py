"""The stage contract: the one definition of what the WorkflowTemplate and its pods agree on.

The generator writes these names into the template; the stage runners, the images, the
local runner and the pipeline's own infrastructure read them from here. Nothing else in
the repository spells a stage's console script, a pod's environment variable, a label or
a workflow parameter (a test fails when a copy drifts).

Standard library only, so that every image and the pipeline's own CDK app can import it
without the rest of the generator.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "BUILD",
    "CHANGESET_LIMIT",
    "CONFIG_FILE",
    "ENVIRONMENT",
    "EXTERNAL_ID_KEY",
    "EXTERNAL_ID_SECRET",
    "INFRA_CONFIG_FILE_CONTEXT",
    "NOTIFY",
    "OUTPUTS_DIR",
    "PIPELINE",
    "PREVIEW",
    "STAGES",
    "TEMPLATE_ENV",
    "TOOLCHAIN_MOUNT",
    "TOOLCHAIN_VOLUME",
    "TEST",
    "VALIDATION",
    "Annotation",
    "EnvVar",
    "ImageKind",
    "Label",
    "Option",
    "Output",
    "Param",
    "StageSpec",
    "BUILD_CONTAINER",
    "BUILD_OUTPUT_MOUNT",
    "BUILD_OUTPUT_VOLUME",
    "CHECKOUT",
    "CHECKOUT_CONTAINER",
    "GIT_TOKEN_PATH",
    "GIT_TOKEN_MOUNT",
    "GIT_TOKEN_VOLUME",
    "LOCAL_GIT_TOKEN_KEY",
    "LOCAL_GIT_TOKEN_SECRET",
    "SOURCE_MOUNT",
    "SOURCE_VOLUME",
    "UPLOAD",
    "IRSA_ROLE_ANNOTATION",
    "IRSA_SKIP_ANNOTATION",
    "UPLOAD_CONTAINER",
    "Identity",
    "console_scripts",
    "dns_name",
    "identities",
    "identity_role_name",
    "identity_rules",
    "identity_service_account",
    "session_name",
    "stage_by_name",
    "stages_of_image",
]


class _Names:
    """A namespace of string constants (plain ``str``, safe in YAML, JSON and argv)."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every constant, in definition order."""
        return tuple(value for key, value in vars(cls).items() if key.isupper())


class ImageKind(StrEnum):
    """The two images a pipeline's pods run."""

    BUILDER = "builder"
    DEPLOYER = "deployer"


class Identity(StrEnum):
    """The kinds of work that each run as their own service account and IAM role.

    ``BUILD``: validation and the build's upload container (the build commands run in a
    container of the same pod that gets no AWS identity); ``PIPELINE``: the pipeline's own
    redeploy; ``DEPLOY``: one per environment, its deployment and its tests; ``NOTIFY``:
    the exit handler.
    """

    BUILD = "build"
    PIPELINE = "pipeline"
    DEPLOY = "deploy"
    NOTIFY = "notify"


@dataclass(frozen=True)
class StageSpec:
    """One stage: how the template names it and runs it, and which image it runs in.

    ``name`` is the stage's name in logs and run records; ``task`` the fixed task and
    template name in the WorkflowTemplate (for per-environment stages, the prefix of
    ``<task>-<environment>``); ``script`` the console script the container runs;
    ``entry_point`` the ``module:function`` behind it. ``moves_head``: the stage advances
    a head (the pipeline's, an environment's) and so takes the redeploy options.
    ``identity``: whose service account and IAM role its pod runs as (None: the container
    gets no AWS identity, as the build commands' container).
    """

    name: str
    task: str
    script: str
    entry_point: str
    image: ImageKind
    identity: Identity | None
    takes_environment: bool = False
    moves_head: bool = False

    @property
    def module(self) -> str:
        """The module of :attr:`entry_point`."""
        return self.entry_point.partition(":")[0]


VALIDATION = StageSpec(
    "validation",
    "validation",
    "aphex-stage-validation",
    "aphex_stages.stages.validation:main",
    ImageKind.BUILDER,
    Identity.BUILD,
)
#: The build pod's first container: checks out the commit (with the repository token, when
#: there is one) into the pod's source folder. No AWS identity.
CHECKOUT = StageSpec(
    "checkout",
    "build",
    "aphex-stage-checkout",
    "aphex_stages.stages.checkout:main",
    ImageKind.BUILDER,
    None,
)
#: The build commands and packaging of that checkout, in a container with no AWS identity
#: and no repository token.
BUILD = StageSpec(
    "build", "build", "aphex-stage-build", "aphex_stages.stages.build:main", ImageKind.BUILDER, None
)
#: The build pod's second container: uploads what BUILD packaged, as the build identity.
UPLOAD = StageSpec(
    "upload",
    "build",
    "aphex-stage-upload",
    "aphex_stages.stages.upload:main",
    ImageKind.BUILDER,
    Identity.BUILD,
)
PIPELINE = StageSpec(
    "pipeline",
    "pipeline-deployment",
    "aphex-stage-pipeline",
    "aphex_stages.stages.pipeline:main",
    ImageKind.DEPLOYER,
    Identity.PIPELINE,
    moves_head=True,
)
ENVIRONMENT = StageSpec(
    "environment",
    "deploy",
    "aphex-stage-environment",
    "aphex_stages.stages.environment:main",
    ImageKind.DEPLOYER,
    Identity.DEPLOY,
    takes_environment=True,
    moves_head=True,
)
#: Before an environment's approval gate: what its deploy would change (``cdk diff`` of each
#: stack against the environment, as its deploy identity), stored beside the artifact and
#: given to Argo as the output parameter ``Output.CHANGESET``.
PREVIEW = StageSpec(
    "preview",
    "preview",
    "aphex-stage-preview",
    "aphex_stages.stages.preview:main",
    ImageKind.DEPLOYER,
    Identity.DEPLOY,
    takes_environment=True,
)
TEST = StageSpec(
    "test",
    "test",
    "aphex-stage-test",
    "aphex_stages.stages.post_deploy:main",
    ImageKind.DEPLOYER,
    Identity.DEPLOY,
    takes_environment=True,
)
NOTIFY = StageSpec(
    "notify",
    "exit-handler",
    "aphex-monitor",
    "aphex_monitoring.cli:main",
    ImageKind.DEPLOYER,
    Identity.NOTIFY,
)

#: Every stage, in pipeline order (the exit handler last).
STAGES: tuple[StageSpec, ...] = (
    VALIDATION,
    CHECKOUT,
    BUILD,
    UPLOAD,
    PIPELINE,
    PREVIEW,
    ENVIRONMENT,
    TEST,
    NOTIFY,
)


def stage_by_name(name: str) -> StageSpec:
    """The stage called ``name`` (KeyError if there is none)."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)


def stages_of_image(image: ImageKind | str) -> tuple[StageSpec, ...]:
    """The stages that run in ``image``, in pipeline order."""
    kind = ImageKind(image)
    return tuple(stage for stage in STAGES if stage.image is kind)


def console_scripts(image: ImageKind | str | None = None) -> dict[str, str]:
    """Console script name to ``module:function``, for one image or for all stages."""
    stages = STAGES if image is None else stages_of_image(image)
    return {stage.script: stage.entry_point for stage in stages}


class Option(_Names):
    """The options every stage takes on its command line (the generator writes them)."""

    PIPELINE = "--pipeline"
    COMMIT = "--commit"
    REPOSITORY = "--repository"
    ENVIRONMENT = "--environment"
    WORKFLOW_NAME = "--workflow-name"
    LOG_FORMAT = "--log-format"
    ARTIFACT_SHA256 = "--artifact-sha256"  # environment and test stages: the build's digest
    REDEPLOY_BY = "--redeploy-by"  # pipeline and environment stages: who asked to go back
    REDEPLOY_REASON = "--redeploy-reason"  # ... and why (empty: an ordinary run)


class Param(_Names):
    """Workflow parameters: the only values a Sensor (or a restart) supplies to a run."""

    COMMIT_SHA = "commit-sha"
    REPO_URL = "repo-url"
    #: Set only by `aphex redeploy` (never by the Sensor): the run may go back to an older
    #: commit, and the heads record who asked and why.
    REDEPLOY_BY = "redeploy-by"
    REDEPLOY_REASON = "redeploy-reason"


class EnvVar(_Names):
    """Environment variables of the pipeline's pods.

    The first group is written by the generator into every container from its settings
    (never from config values); the second is set by an installation (the image or the
    local runner); the rest are read by single stages.
    """

    # Written by the generator.
    ARTIFACT_BUCKET = "APHEX_ARTIFACT_BUCKET"
    NAMESPACE = "APHEX_NAMESPACE"
    WORKFLOW_NAME = "APHEX_WORKFLOW_NAME"
    REGION = "AWS_REGION"
    # Set by an installation; also read back when the pipeline stage re-renders.
    SERVICE_ACCOUNT = "APHEX_SERVICE_ACCOUNT"
    BUILDER_IMAGE = "APHEX_BUILDER_IMAGE"
    DEPLOYER_IMAGE = "APHEX_DEPLOYER_IMAGE"
    INFRA_APP = "APHEX_INFRA_APP"
    INFRA_BIN = "APHEX_INFRA_BIN"
    INFRA_CONTEXT = "APHEX_INFRA_CONTEXT"
    CDK_CLI = "APHEX_CDK_CLI"
    KUBE_HOST = "APHEX_KUBE_HOST"
    KUBE_TOKEN = "APHEX_KUBE_TOKEN"
    WORK_DIR = "APHEX_WORK_DIR"
    LOCAL_AWS_LOG = "APHEX_LOCAL_AWS_LOG"
    OUTPUTS_DIR = "APHEX_OUTPUTS_DIR"
    TOOLCHAIN_CACHE = "APHEX_TOOLCHAIN_CACHE"
    TOOLCHAIN_CLAIM = "APHEX_TOOLCHAIN_CLAIM"
    # Read by single stages.
    DEPLOY_TIMEOUT_SECONDS = "APHEX_DEPLOY_TIMEOUT_SECONDS"
    TEST_TIMEOUT_SECONDS = "APHEX_TEST_TIMEOUT_SECONDS"
    TEST_REPORTS_DIR = "APHEX_TEST_REPORTS_DIR"
    GIT_TOKEN_FILE = "APHEX_GIT_TOKEN_FILE"
    GIT_USERNAME = "APHEX_GIT_USERNAME"
    GIT_SSH_KEY_FILE = "APHEX_GIT_SSH_KEY_FILE"
    # The build pod's shared folder (BUILD_OUTPUT_MOUNT): BUILD packages there, UPLOAD reads.
    BUILD_OUTPUT = "APHEX_BUILD_OUTPUT"
    # The build pod's checkout (SOURCE_MOUNT): CHECKOUT writes it, BUILD runs commands in it.
    SOURCE = "APHEX_SOURCE"
    # An install's repository-token Secret (``name:key``), read back when re-rendering.
    GIT_TOKEN_SECRET = "APHEX_GIT_TOKEN_SECRET"
    # The deploy and test pods: the per-install ExternalId of the deploy roles, by
    # secretKeyRef (key EXTERNAL_ID_KEY of GeneratorSettings.external_id_secret).
    EXTERNAL_ID = "APHEX_EXTERNAL_ID"
    # The exit handler's notifications (aphex-monitor reads them; the secrets come from
    # Secrets by secretKeyRef, never from the config).
    SNS_TOPIC_ARN = "APHEX_SNS_TOPIC_ARN"
    SLACK_WEBHOOK_URL = "APHEX_SLACK_WEBHOOK_URL"
    GITHUB_TOKEN = "APHEX_GITHUB_TOKEN"
    #: The GitHub API the commit statuses go to (GitHub Enterprise; an install's setting).
    GITHUB_API_URL = "APHEX_GITHUB_API_URL"


#: The variables every container of the template gets from the generator's settings.
TEMPLATE_ENV: tuple[str, ...] = (
    EnvVar.ARTIFACT_BUCKET,
    EnvVar.NAMESPACE,
    EnvVar.WORKFLOW_NAME,
    EnvVar.REGION,
)


class Output(_Names):
    """Output parameters of stages (Argo reads each from ``OUTPUTS_DIR/<name>``)."""

    SUPERSEDED = "superseded"  # pipeline stage: "true" when it restarted the run
    ARTIFACT_SHA256 = "artifact-sha256"  # build stage: the digest of the commit's artifact
    #: preview stage: the change set of the environment (text, cut to CHANGESET_LIMIT bytes)
    CHANGESET = "changeset"


#: The most bytes of a change set the preview stage gives Argo as its output parameter
#: (the Workflow object holds it; the whole change set is stored beside the artifact).
CHANGESET_LIMIT = 200_000


#: Where a stage writes its output parameters in its pod (``EnvVar.OUTPUTS_DIR`` overrides).
OUTPUTS_DIR = "/tmp/aphex/outputs"
#: The toolchain cache volume of the deploy and test pods, and where it is mounted.
TOOLCHAIN_VOLUME = "toolchains"
TOOLCHAIN_MOUNT = "/var/cache/aphex/toolchains"


class Label(_Names):
    """Labels the pipeline puts on its templates, workflows and pods."""

    PIPELINE = "aphex.io/pipeline"
    COMMIT = "aphex.io/commit"
    ENVIRONMENT = "aphex.io/environment"
    RESTART_OF = "aphex.io/restart-of"
    MANAGED_BY = "app.kubernetes.io/managed-by"


class Annotation(_Names):
    """Annotations of the rendered WorkflowTemplate."""

    TOPOLOGY = "aphex.io/topology"
    LAYOUT = "aphex.io/layout"
    GENERATOR_VERSION = "aphex.io/generator-version"


#: The configuration file at the root of an application repository.
CONFIG_FILE = "aphex-config.yaml"
#: The key of the Slack webhook URL in the Secret `notifications.slack_webhook_secret` names.
SLACK_WEBHOOK_KEY = "url"
#: The Secret (and its key) holding the install's ExternalId of the deploy roles.
EXTERNAL_ID_SECRET = "aphex-external-id"
EXTERNAL_ID_KEY = "external-id"
ARGO_GROUP = "argoproj.io"  # the API group of Argo's resources
#: CDK context key naming the aphex-config.yaml the pipeline's own app reads.
INFRA_CONFIG_FILE_CONTEXT = "aphex:configFile"

_SESSION_LIMIT = 64  # STS RoleSessionName
_SESSION_SHA = 12
_SESSION_INVALID = re.compile(r"[^\w+=,.@-]")


#: The containers of the build pod: the build commands run in ``BUILD_CONTAINER`` with no
#: AWS identity; the upload runs in ``UPLOAD_CONTAINER`` (Argo reads a container set's
#: outputs from the container named ``main``).
CHECKOUT_CONTAINER = "checkout"
BUILD_CONTAINER = "build"
UPLOAD_CONTAINER = "main"
#: The build pod's checkout, shared by CHECKOUT (writes) and BUILD (reads, runs commands).
SOURCE_VOLUME = "source"
SOURCE_MOUNT = "/var/aphex/source"
#: A private repository's token: a Secret volume mounted, read-only, only into the pods and
#: containers that clone (validation, the build's checkout, the pipeline deployment).
GIT_TOKEN_VOLUME = "git-token"
GIT_TOKEN_MOUNT = "/var/run/secrets/aphex/git"
GIT_TOKEN_PATH = f"{GIT_TOKEN_MOUNT}/token"
#: The Secret (key ``token``) a local run reads a private repository's token from.
LOCAL_GIT_TOKEN_SECRET = "aphex-git-token"
LOCAL_GIT_TOKEN_KEY = "token"
#: The volume the build pod's two containers share: BUILD writes the packaged artifact
#: there, UPLOAD reads it.
BUILD_OUTPUT_VOLUME = "build-output"
BUILD_OUTPUT_MOUNT = "/var/aphex/build-output"
#: IRSA: the service account annotation naming its IAM role, and the pod annotation listing
#: the containers that must not get that role's web identity token.
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
IRSA_SKIP_ANNOTATION = "eks.amazonaws.com/skip-containers"

_IAM_NAME_LIMIT = 64

MAX_NAME = 63
_HASH_LEN = 6
_INVALID = re.compile(r"[^a-z0-9-]+")


def dns_name(text: str, limit: int = MAX_NAME) -> str:
    """Return ``text`` as a DNS-1123 label of at most ``limit`` characters.

    A valid name that fits is returned unchanged. Anything else is cleaned, cut and
    suffixed with a short stable hash of the original text, so different inputs keep
    different names.
    """
    clean = _INVALID.sub("-", text.lower()).strip("-") or "x"
    if clean == text and len(clean) <= limit:
        return clean
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_LEN]
    head = clean[: limit - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{digest}"


def _environment_suffix(identity: Identity, environment: str | None) -> str:
    if (identity is Identity.DEPLOY) != (environment is not None):
        raise ValueError("an environment is given for the deploy identity, and only for it")
    return f"{identity.value}-{environment}" if environment is not None else identity.value


def identities(environments: Sequence[str]) -> list[tuple[Identity, str | None]]:
    """Every identity of a pipeline, with the environment of each deploy identity: build,
    pipeline, one deploy per environment (in the order given), notify."""
    return [
        (Identity.BUILD, None),
        (Identity.PIPELINE, None),
        *((Identity.DEPLOY, name) for name in environments),
        (Identity.NOTIFY, None),
    ]


def identity_service_account(base: str, identity: Identity, environment: str | None = None) -> str:
    """The service account of a kind of work: ``base`` (``GeneratorSettings.service_account``)
    for the pipeline deployment, ``<base>-build``, ``<base>-notify`` and
    ``<base>-deploy-<environment>`` for the others (DNS-safe, at most 63 characters)."""
    if identity is Identity.PIPELINE:
        return base
    return dns_name(f"{base}-{_environment_suffix(identity, environment)}")


def identity_role_name(pipeline: str, identity: Identity, environment: str | None = None) -> str:
    """The IAM role of a kind of work: ``aphex-<pipeline>-<identity>`` or
    ``aphex-<pipeline>-deploy-<environment>`` (cut with a stable hash to IAM's 64 characters)."""
    return dns_name(
        f"aphex-{pipeline}-{_environment_suffix(identity, environment)}", _IAM_NAME_LIMIT
    )


def session_name(pipeline: str, commit: str) -> str:
    """The STS session name of a pipeline's calls for ``commit``: ``aphex-<pipeline>-<sha12>``.

    The pipeline name is cut so that the name fits STS's 64 characters; CloudTrail then
    shows which commit every call was made for.
    """
    sha = commit[:_SESSION_SHA]
    room = _SESSION_LIMIT - len("aphex--") - len(sha)
    name = _SESSION_INVALID.sub("-", pipeline)[:room].rstrip("-")
    return f"aphex-{name}-{sha}"


#: Argo's executor reports a pod's outputs as a WorkflowTaskResult.
_TASK_RESULTS_RULE: dict[str, Any] = {
    "apiGroups": [ARGO_GROUP],
    "resources": ["workflowtaskresults"],
    "verbs": ["create", "patch"],
}


def workflow_rules(pipeline: str) -> list[dict[str, Any]]:
    """The RBAC rules of the pipeline's pods: read and replace their own WorkflowTemplate
    (never create or touch another: an install creates it), submit and read Workflows (a
    restart), read pod logs, and report outputs as Argo's executor does."""
    return [
        {
            "apiGroups": [ARGO_GROUP],
            "resources": ["workflowtemplates"],
            "resourceNames": [pipeline],
            "verbs": ["get", "update"],
        },
        {"apiGroups": [ARGO_GROUP], "resources": ["workflows"], "verbs": ["create", "get"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        _TASK_RESULTS_RULE,
    ]


def identity_rules(pipeline: str, identity: Identity) -> list[dict[str, Any]]:
    """The RBAC rules of a kind of work's service account: the pipeline deployment's are
    :func:`workflow_rules`; every other pod may only report its outputs as Argo's executor
    does."""
    if identity is Identity.PIPELINE:
        return workflow_rules(pipeline)
    return [_TASK_RESULTS_RULE]


def sensor_rules(pipeline: str) -> list[dict[str, Any]]:
    """The RBAC rules of the pipeline's Sensor: submit a Workflow per push from the
    pipeline's template (which needs ``get`` on that template) and watch Workflows."""
    return [
        {
            "apiGroups": [ARGO_GROUP],
            "resources": ["workflowtemplates"],
            "resourceNames": [pipeline],
            "verbs": ["get"],
        },
        {
            "apiGroups": [ARGO_GROUP],
            "resources": ["workflows"],
            "verbs": ["create", "get", "list", "watch"],
        },
    ]
