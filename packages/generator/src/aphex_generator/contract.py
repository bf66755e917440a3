"""The stage contract: the one definition of what the WorkflowTemplate and its pods agree on.

The generator writes these names into the template; the stage runners, the images, the
local runner and the pipeline's own infrastructure read them from here. Nothing else in
the repository spells a stage's console script, a pod's environment variable, a label or
a workflow parameter (a test fails when a copy drifts).

Standard library only, so that every image and the pipeline's own CDK app can import it
without the rest of the generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "BUILD",
    "CONFIG_FILE",
    "ENVIRONMENT",
    "INFRA_CONFIG_FILE_CONTEXT",
    "NOTIFY",
    "OUTPUTS_DIR",
    "PIPELINE",
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
    "console_scripts",
    "external_id",
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


@dataclass(frozen=True)
class StageSpec:
    """One stage: how the template names it and runs it, and which image it runs in.

    ``name`` is the stage's name in logs and run records; ``task`` the fixed task and
    template name in the WorkflowTemplate (for per-environment stages, the prefix of
    ``<task>-<environment>``); ``script`` the console script the container runs;
    ``entry_point`` the ``module:function`` behind it. ``moves_head``: the stage advances
    a head (the pipeline's, an environment's) and so takes the redeploy options.
    """

    name: str
    task: str
    script: str
    entry_point: str
    image: ImageKind
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
)
BUILD = StageSpec(
    "build", "build", "aphex-stage-build", "aphex_stages.stages.build:main", ImageKind.BUILDER
)
PIPELINE = StageSpec(
    "pipeline",
    "pipeline-deployment",
    "aphex-stage-pipeline",
    "aphex_stages.stages.pipeline:main",
    ImageKind.DEPLOYER,
    moves_head=True,
)
ENVIRONMENT = StageSpec(
    "environment",
    "deploy",
    "aphex-stage-environment",
    "aphex_stages.stages.environment:main",
    ImageKind.DEPLOYER,
    takes_environment=True,
    moves_head=True,
)
TEST = StageSpec(
    "test",
    "test",
    "aphex-stage-test",
    "aphex_stages.stages.post_deploy:main",
    ImageKind.DEPLOYER,
    takes_environment=True,
)
NOTIFY = StageSpec(
    "notify", "exit-handler", "aphex-monitor", "aphex_monitoring.cli:main", ImageKind.DEPLOYER
)

#: Every stage, in pipeline order (the exit handler last).
STAGES: tuple[StageSpec, ...] = (VALIDATION, BUILD, PIPELINE, ENVIRONMENT, TEST, NOTIFY)


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
    # The exit handler's notifications (aphex-monitor reads them; the secrets come from
    # Secrets by secretKeyRef, never from the config).
    SNS_TOPIC_ARN = "APHEX_SNS_TOPIC_ARN"
    SLACK_WEBHOOK_URL = "APHEX_SLACK_WEBHOOK_URL"
    GITHUB_TOKEN = "APHEX_GITHUB_TOKEN"


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
ARGO_GROUP = "argoproj.io"  # the API group of Argo's resources
#: CDK context key naming the aphex-config.yaml the pipeline's own app reads.
INFRA_CONFIG_FILE_CONTEXT = "aphex:configFile"

_SESSION_LIMIT = 64  # STS RoleSessionName
_SESSION_SHA = 12
_SESSION_INVALID = re.compile(r"[^\w+=,.@-]")


def external_id(pipeline: str) -> str:
    """The default ExternalId of a pipeline's deploy roles: ``aphex-<pipeline>`` (within
    STS's 2 to 1,224 characters for any pipeline name; an install may set its own)."""
    return f"aphex-{pipeline}"


def session_name(pipeline: str, commit: str) -> str:
    """The STS session name of a pipeline's calls for ``commit``: ``aphex-<pipeline>-<sha12>``.

    The pipeline name is cut so that the name fits STS's 64 characters; CloudTrail then
    shows which commit every call was made for.
    """
    sha = commit[:_SESSION_SHA]
    room = _SESSION_LIMIT - len("aphex--") - len(sha)
    name = _SESSION_INVALID.sub("-", pipeline)[:room].rstrip("-")
    return f"aphex-{name}-{sha}"


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
        {
            "apiGroups": [ARGO_GROUP],
            "resources": ["workflowtaskresults"],
            "verbs": ["create", "patch"],
        },
    ]


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
