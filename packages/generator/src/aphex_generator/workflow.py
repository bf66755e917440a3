"""Render the pipeline's Argo WorkflowTemplate: a view of the :class:`PipelineGraph`.

Each container template runs one stage of the contract (:mod:`aphex_generator.contract`):
its console script, the common options and the pod environment from the settings. The
build is a container set: its commands in a container with no AWS identity, the upload in
a second container of the same pod. The DAG
is the graph's nodes; pipelines beyond the CRD's limits share templates (compact layout).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from aphex_generator import names
from aphex_generator.contract import (
    BUILD,
    BUILD_CONTAINER,
    BUILD_OUTPUT_MOUNT,
    BUILD_OUTPUT_VOLUME,
    CHECKOUT,
    CHECKOUT_CONTAINER,
    GIT_TOKEN_MOUNT,
    GIT_TOKEN_PATH,
    GIT_TOKEN_VOLUME,
    IRSA_SKIP_ANNOTATION,
    NOTIFY,
    PIPELINE,
    SLACK_WEBHOOK_KEY,
    SOURCE_MOUNT,
    SOURCE_VOLUME,
    TEMPLATE_ENV,
    TOOLCHAIN_MOUNT,
    TOOLCHAIN_VOLUME,
    UPLOAD,
    UPLOAD_CONTAINER,
    Annotation,
    EnvVar,
    Identity,
    Label,
    Option,
    Output,
    Param,
    StageSpec,
    identity_service_account,
)
from aphex_generator.expressions import (
    ARTIFACT_DIGEST,
    COMMIT,
    ENV_PARAM,
    NOT_SUPERSEDED,
    REDEPLOY_BY,
    REDEPLOY_REASON,
    REPO_URL,
    SERVICE_ACCOUNT_INPUT,
    SERVICE_ACCOUNT_PARAM,
    TIMEOUT_PARAM,
    WORKFLOW_FAILURES,
    WORKFLOW_NAME,
    WORKFLOW_STATUS,
    WORKFLOW_UID,
    environment_metrics,
    literal,
    output_parameter,
    succeeded,
)
from aphex_generator.graph import STAGE_OF, Node, NodeKind, PipelineGraph
from aphex_generator.layouts import (
    APPROVAL,
    SHARED_DEPLOY,
    SHARED_PREVIEW,
    SHARED_TEST,
    per_environment_size,
    variant_dag,
)
from aphex_generator.settings import (
    DEFAULT_BUILDER_IMAGE,
    DEFAULT_DEPLOYER_IMAGE,
    GeneratorSettings,
    Resources,
)
from aphex_generator.version import __version__

if TYPE_CHECKING:
    from aphex_config import AphexConfig

API_VERSION = "argoproj.io/v1alpha1"

#: Limits of the full WorkflowTemplate CRD (``maxItems``) that shape the layout.
MAX_TEMPLATES = 200
MAX_DAG_TASKS = 200


LAYOUT_PER_ENVIRONMENT = "per-environment"
LAYOUT_COMPACT = "compact"

#: Seconds a deploy pod gets beyond its environment's deploy_timeout_minutes (download,
#: toolchain, synth, outputs).
DEPLOY_MARGIN = 30 * 60

# Template names that are not stages.
PIPELINE_DAG = "pipeline"
ENVIRONMENTS_DAG = "environments"
MANAGED_BY = "aphex-generator"

#: The build pod's checkout and upload containers: a clone, and one tarball streamed to S3
#: (the build commands get the builder resources).
LIGHT_RESOURCES = Resources("100m", "128Mi", "512Mi")


def _from_secret(name: str, secret: str, key: str, *, optional: bool = True) -> dict[str, Any]:
    """A secretKeyRef. An optional one lets the pod start without the Secret (monitoring
    then skips that channel with a warning; a notification never fails a run)."""
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def resolve_images(config: AphexConfig, settings: GeneratorSettings) -> tuple[str, str]:
    """(builder, deployer) images: settings, else the config's, else the published default."""
    images = config.pipeline.images
    builder = settings.builder_image or (images.builder if images else None)
    deployer = settings.deployer_image or (images.deployer if images else None)
    return builder or DEFAULT_BUILDER_IMAGE, deployer or DEFAULT_DEPLOYER_IMAGE


class _Renderer:
    """Turns a graph plus the config's non-topology values (timeouts, images) into a
    WorkflowTemplate."""

    def __init__(self, config: AphexConfig, settings: GeneratorSettings) -> None:
        self.config = config
        self.settings = settings
        self.pipeline = literal(config.pipeline.name, "pipeline name")
        self.namespace = settings.namespace or config.pipeline.namespace
        for env in config.environments:
            literal(env.name, "environment name")
            for stack in env.stacks:
                literal(stack.name, "stack name")
        self.graph = PipelineGraph.from_config(config)
        builder, deployer = resolve_images(config, settings)
        self.images = {"builder": builder, "deployer": deployer}

    # -- building blocks -------------------------------------------------------------
    def common_args(self) -> list[str]:
        return [
            Option.PIPELINE,
            self.pipeline,
            Option.COMMIT,
            COMMIT,
            Option.REPOSITORY,
            REPO_URL,
        ]

    def redeploy_args(self, stage: StageSpec) -> list[str]:
        """The stages that move a head forward (pipeline, deploy) learn of a redeploy."""
        if not stage.moves_head:
            return []
        return [Option.REDEPLOY_BY, REDEPLOY_BY, Option.REDEPLOY_REASON, REDEPLOY_REASON]

    def env_vars(self) -> list[dict[str, str]]:
        values: dict[str, str | None] = {
            EnvVar.ARTIFACT_BUCKET: self.settings.artifact_bucket,
            EnvVar.NAMESPACE: self.namespace,
            EnvVar.WORKFLOW_NAME: WORKFLOW_NAME,
            EnvVar.REGION: self.settings.aws_region,
        }
        return [{"name": name, "value": value} for name in TEMPLATE_ENV if (value := values[name])]

    def volumes(self) -> list[dict[str, Any]]:
        """The pods' volumes: the build pod's checkout and output folders, the repository
        token's Secret when there is one, and the toolchain cache when the config has a
        toolchain (a pod gets only the volumes its containers mount)."""
        volumes: list[dict[str, Any]] = [
            {"name": SOURCE_VOLUME, "emptyDir": {}},
            {"name": BUILD_OUTPUT_VOLUME, "emptyDir": {}},
        ]
        token = self.settings.git_token_secret
        if token is not None:
            item = {"key": token.key, "path": PurePosixPath(GIT_TOKEN_PATH).name}
            secret = {"secretName": token.name, "items": [item]}
            volumes.append({"name": GIT_TOKEN_VOLUME, "secret": secret})
        if self.config.toolchain is None:
            return volumes
        claim = self.settings.toolchain_cache_claim
        source: dict[str, Any] = (
            {"persistentVolumeClaim": {"claimName": claim}} if claim else {"emptyDir": {}}
        )
        return [*volumes, {"name": TOOLCHAIN_VOLUME, **source}]

    def rerender_env(self) -> list[dict[str, str]]:
        """The settings the pipeline stage needs to render this very template again (those
        not already in every pod): the service account, any image set by the settings, and
        the install-time context of the pipeline's own app."""
        values: dict[str, str | None] = {
            EnvVar.SERVICE_ACCOUNT: self.settings.service_account,
            EnvVar.BUILDER_IMAGE: self.settings.builder_image,
            EnvVar.DEPLOYER_IMAGE: self.settings.deployer_image,
            EnvVar.TOOLCHAIN_CLAIM: self.settings.toolchain_cache_claim,
            EnvVar.INFRA_CONTEXT: self.settings.infra_context,
            EnvVar.GITHUB_API_URL: self.settings.github_api_url,
            EnvVar.GIT_TOKEN_SECRET: (
                str(self.settings.git_token_secret) if self.settings.git_token_secret else None
            ),
        }
        return [{"name": name, "value": value} for name, value in values.items() if value]

    def retry(self) -> dict[str, Any]:
        retry = self.settings.retry
        return {
            "limit": str(retry.limit),
            "retryPolicy": "OnTransientError",
            "backoff": {
                "duration": retry.backoff,
                "factor": str(retry.factor),
                "maxDuration": retry.max_duration,
            },
        }

    def resources(self, stage: StageSpec) -> Resources:
        if stage.image == "builder":
            return self.settings.builder_resources
        return self.settings.deployer_resources

    def service_account(self, identity: Identity, environment: str | None = None) -> str:
        """The service account a kind of work runs as (its IAM role comes with it)."""
        return identity_service_account(self.settings.service_account, identity, environment)

    def container_template(
        self,
        name: str,
        stage: StageSpec,
        args: list[str],
        deadline: int | str,
        service_account: str,
    ) -> dict[str, Any]:
        return {
            "name": name,
            "serviceAccountName": service_account,
            "activeDeadlineSeconds": deadline,
            "container": {
                "image": self.images[stage.image],
                "command": [stage.script],
                "args": args,
                "env": self.env_vars(),
                "resources": self.resources(stage).as_manifest(),
            },
            "retryStrategy": self.retry(),
        }

    def clone_credentials(self, container: dict[str, Any]) -> dict[str, Any]:
        """`container`, given the repository token when there is one: the Secret mounted
        read-only and its file's path in ``APHEX_GIT_TOKEN_FILE`` (never the token)."""
        if self.settings.git_token_secret is None:
            return container
        mount = {"name": GIT_TOKEN_VOLUME, "mountPath": GIT_TOKEN_MOUNT, "readOnly": True}
        token_file = {"name": EnvVar.GIT_TOKEN_FILE, "value": GIT_TOKEN_PATH}
        return {
            **container,
            "env": [*container["env"], token_file],
            "volumeMounts": [*(container.get("volumeMounts") or []), mount],
        }

    def build_template(self, name: str, deadline: int) -> dict[str, Any]:
        """The build pod: a container set of three containers, one after the other.

        ``CHECKOUT_CONTAINER`` clones the commit into ``SOURCE_MOUNT`` (it alone gets the
        repository token, when there is one). ``BUILD_CONTAINER`` runs the build commands in
        that checkout and packages the artifact into ``BUILD_OUTPUT_MOUNT``. Neither gets an
        AWS identity (the pod annotation keeps the IAM role's web identity out of them, and
        they have no artifact bucket). ``UPLOAD_CONTAINER`` (``main``: Argo reads a container
        set's outputs from it) runs last, as the build identity: it keeps the commit's
        existing artifact or uploads the packaged one, and writes the artifact's digest.
        """
        source = {"name": EnvVar.SOURCE, "value": SOURCE_MOUNT}
        output = {"name": EnvVar.BUILD_OUTPUT, "value": BUILD_OUTPUT_MOUNT}
        source_mount = {"name": SOURCE_VOLUME, "mountPath": SOURCE_MOUNT}
        output_mount = {"name": BUILD_OUTPUT_VOLUME, "mountPath": BUILD_OUTPUT_MOUNT}
        # Region, namespace and workflow name only: checkout and build commands need no more.
        unprivileged = [e for e in self.env_vars() if e["name"] != EnvVar.ARTIFACT_BUCKET]
        checkout = self.clone_credentials(
            {
                "name": CHECKOUT_CONTAINER,
                "image": self.images[CHECKOUT.image],
                "command": [CHECKOUT.script],
                "args": self.common_args(),
                "env": [*unprivileged, source],
                "resources": LIGHT_RESOURCES.as_manifest(),
                "volumeMounts": [source_mount],
            }
        )
        build = {
            "name": BUILD_CONTAINER,
            "image": self.images[BUILD.image],
            "command": [BUILD.script],
            "args": self.common_args(),
            "env": [*unprivileged, source, output],
            "resources": self.resources(BUILD).as_manifest(),
            "volumeMounts": [source_mount, output_mount],
            "dependencies": [CHECKOUT_CONTAINER],
        }
        upload = {
            "name": UPLOAD_CONTAINER,
            "image": self.images[UPLOAD.image],
            "command": [UPLOAD.script],
            "args": self.common_args(),
            "env": [*self.env_vars(), output],
            "resources": LIGHT_RESOURCES.as_manifest(),
            "volumeMounts": [output_mount],
            "dependencies": [BUILD_CONTAINER],
        }
        # The digest every later stage holds the artifact to.
        digest = {**output_parameter(Output.ARTIFACT_SHA256), "globalName": Output.ARTIFACT_SHA256}
        # The pod's identity is its upload container's (the other two are skipped).
        assert UPLOAD.identity is not None
        skipped = f"{CHECKOUT_CONTAINER},{BUILD_CONTAINER}"
        return {
            "name": name,
            "serviceAccountName": self.service_account(UPLOAD.identity),
            "activeDeadlineSeconds": deadline,
            "metadata": {"annotations": {IRSA_SKIP_ANNOTATION: skipped}},
            "containerSet": {"containers": [checkout, build, upload]},
            "outputs": {"parameters": [digest]},
            "retryStrategy": self.retry(),
        }

    def fixed_templates(self) -> list[dict[str, Any]]:
        timeouts = self.settings.timeouts
        deadlines = {
            NodeKind.VALIDATION: timeouts.validation,
            NodeKind.BUILD: self.config.build.timeout_minutes * 60,
            NodeKind.PIPELINE: timeouts.pipeline,
        }
        templates = []
        for node in self.graph.fixed_nodes:
            if node.kind is NodeKind.BUILD:
                templates.append(self.build_template(node.name, deadlines[node.kind]))
                continue
            stage = node.stage
            assert stage is not None
            args = self.common_args()
            args += self.redeploy_args(stage)
            assert stage.identity is not None
            account = self.service_account(stage.identity)
            template = self.container_template(
                node.name, stage, args, deadlines[node.kind], account
            )
            # Both clone the commit: the repository token, when there is one.
            template["container"] = self.clone_credentials(template["container"])
            if node.kind is NodeKind.PIPELINE:
                args += [Option.WORKFLOW_NAME, WORKFLOW_NAME]
                template["container"]["env"] += self.rerender_env()
                template["outputs"] = {"parameters": [output_parameter(Output.SUPERSEDED)]}
                # Self-updates never overlap: each reads, checks and applies the template.
                mutex = names.pipeline_mutex_name(self.pipeline)
                template["synchronization"] = {"mutexes": [{"name": mutex}]}
            templates.append(template)
        templates.append(self.exit_handler_template())
        return templates

    def exit_handler_template(self) -> dict[str, Any]:
        args = [
            "notify",
            Option.PIPELINE,
            self.pipeline,
            Option.COMMIT,
            COMMIT,
            Option.REPOSITORY,
            REPO_URL,
            Option.WORKFLOW_NAME,
            WORKFLOW_NAME,
            "--workflow-uid",
            WORKFLOW_UID,
            "--status",
            WORKFLOW_STATUS,
            "--failures",
            WORKFLOW_FAILURES,
        ]
        node = self.graph.exit_handler
        account = self.service_account(Identity.NOTIFY)
        template = self.container_template(
            node.name, NOTIFY, args, self.settings.timeouts.exit_handler, account
        )
        template["container"]["env"] += self.notification_env()
        return template

    def notification_env(self) -> list[dict[str, Any]]:
        """Where the exit handler reports: the config's SNS topic as a value, the Slack
        webhook and the GitHub token from their Secrets (never a value in the template)."""
        notifications = self.config.pipeline.notifications
        if notifications is None:
            return []
        env: list[dict[str, Any]] = []
        if notifications.sns_topic_arn:
            arn = literal(notifications.sns_topic_arn, "sns_topic_arn")
            env.append({"name": EnvVar.SNS_TOPIC_ARN, "value": arn})
        if notifications.slack_webhook_secret:
            secret = literal(notifications.slack_webhook_secret, "slack_webhook_secret")
            env.append(_from_secret(EnvVar.SLACK_WEBHOOK_URL, secret, SLACK_WEBHOOK_KEY))
        if notifications.github_status:
            token = self.settings.github_status_token
            env.append(_from_secret(EnvVar.GITHUB_TOKEN, token.name, token.key))
            if self.settings.github_api_url:
                env.append({"name": EnvVar.GITHUB_API_URL, "value": self.settings.github_api_url})
        return env

    def environment_template(self, kind: NodeKind, env_name: str, name: str) -> dict[str, Any]:
        """The preview, deploy or test template of one environment (``env_name`` literal), or
        the shared one of the compact layout (``env_name`` the input parameter)."""
        stage = STAGE_OF[kind]
        shared = env_name == ENV_PARAM
        if kind is NodeKind.PREVIEW:  # a synth and one diff per stack
            deadline: int | str = self.settings.timeouts.environment
        elif kind is NodeKind.DEPLOY:
            # The pod outlives the stage's own deploy timeout, which then names what hangs.
            envs = self.config.environments if shared else [self.config.environment(env_name)]
            longest = max(env.deploy_timeout_minutes for env in envs) * 60 + DEPLOY_MARGIN
            deadline = max(self.settings.timeouts.environment, longest)
        elif shared:
            deadline = TIMEOUT_PARAM
        else:
            tests = self.config.environment(env_name).tests
            assert tests is not None
            deadline = tests.timeout_minutes * 60
        args = [*self.common_args(), Option.ENVIRONMENT, env_name]
        args += [Option.ARTIFACT_SHA256, ARTIFACT_DIGEST]
        args += self.redeploy_args(stage)
        account = (
            SERVICE_ACCOUNT_PARAM if shared else self.service_account(Identity.DEPLOY, env_name)
        )
        template = self.container_template(name, stage, args, deadline, account)
        # The deploy roles' ExternalId, a per-install secret (required: no deploy without).
        secret = self.settings.external_id_secret
        external = _from_secret(EnvVar.EXTERNAL_ID, secret.name, secret.key, optional=False)
        template["container"]["env"].append(external)
        # Deploys and tests of one environment never overlap, across runs too: a test
        # never runs against a deploy in progress.
        template["synchronization"] = {
            "mutexes": [{"name": names.mutex_name(self.pipeline, env_name)}]
        }
        template["metadata"] = {"labels": {Label.ENVIRONMENT: env_name}}
        if self.config.toolchain is not None:  # the app's dependencies, cached in a volume
            container = template["container"]
            container["env"].append({"name": EnvVar.TOOLCHAIN_CACHE, "value": TOOLCHAIN_MOUNT})
            container["volumeMounts"] = [{"name": TOOLCHAIN_VOLUME, "mountPath": TOOLCHAIN_MOUNT}]
        if kind is NodeKind.DEPLOY:
            template["metrics"] = environment_metrics(self.pipeline, env_name)
        if kind is NodeKind.PREVIEW:  # the Argo UI shows it; `aphex approve` reads it
            template["outputs"] = {"parameters": [output_parameter(Output.CHANGESET)]}
        if shared:
            params = [{"name": "environment"}, {"name": SERVICE_ACCOUNT_INPUT}]
            if kind is NodeKind.TEST:
                params.append({"name": "timeout-seconds"})
            template["inputs"] = {"parameters": params}
        return template

    # -- layouts -----------------------------------------------------------------------
    def task(self, node: Node, template: str) -> dict[str, Any]:
        task: dict[str, Any] = {"name": node.name, "template": template}
        if node.after:
            task["depends"] = succeeded(node.after)
        if node.after == (PIPELINE.task,):
            task["when"] = NOT_SUPERSEDED
        return task

    def per_environment(self) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        env_templates: list[dict[str, Any]] = []
        for node in self.graph.nodes:
            if node.kind is NodeKind.APPROVAL:
                tasks.append(self.task(node, APPROVAL))
                continue
            tasks.append(self.task(node, node.name))
            if node.environment is not None:
                env_templates.append(
                    self.environment_template(node.kind, node.environment, node.name)
                )
        templates = [{"name": PIPELINE_DAG, "dag": {"tasks": tasks}}, *self.fixed_templates()]
        if self.graph.gated:
            templates.append({"name": APPROVAL, "suspend": {}})
        return templates + env_templates

    def compact(self) -> list[dict[str, Any]]:
        graph = self.graph
        fixed = list(graph.fixed_nodes)
        tasks = [self.task(node, node.name) for node in fixed]
        tasks.append(
            {
                "name": ENVIRONMENTS_DAG,
                "template": ENVIRONMENTS_DAG,
                "depends": succeeded([fixed[-1].name]),
                "when": NOT_SUPERSEDED,
            }
        )
        env_tasks: list[dict[str, Any]] = []
        variants: dict[str, dict[str, Any]] = {}
        for env in graph.environments:
            variant = (
                "environment"
                + ("-gated" if env.approval else "")
                + ("-tested" if env.tests else "")
            )
            if variant not in variants:
                variants[variant] = variant_dag(variant, env.approval, env.tests)
            params = [
                {"name": "environment", "value": env.name},
                {
                    "name": SERVICE_ACCOUNT_INPUT,
                    "value": self.service_account(Identity.DEPLOY, env.name),
                },
            ]
            tests = self.config.environment(env.name).tests
            if tests is not None:
                params.append({"name": "timeout-seconds", "value": str(tests.timeout_minutes * 60)})
            task: dict[str, Any] = {
                "name": names.env_task_name(env.name),
                "template": variant,
                "arguments": {"parameters": params},
            }
            if env.depends_on:
                task["depends"] = succeeded([names.env_task_name(dep) for dep in env.depends_on])
            env_tasks.append(task)
        templates = [
            {"name": PIPELINE_DAG, "dag": {"tasks": tasks}},
            *self.fixed_templates(),
            {"name": ENVIRONMENTS_DAG, "dag": {"tasks": env_tasks}},
            *(variants[key] for key in sorted(variants)),
            self.environment_template(NodeKind.DEPLOY, ENV_PARAM, SHARED_DEPLOY),
        ]
        if graph.gated:
            templates.append(self.environment_template(NodeKind.PREVIEW, ENV_PARAM, SHARED_PREVIEW))
            templates.append({"name": APPROVAL, "suspend": {}})
        if graph.tested:
            templates.append(self.environment_template(NodeKind.TEST, ENV_PARAM, SHARED_TEST))
        return templates

    # -- the document --------------------------------------------------------------------
    def render(self) -> dict[str, Any]:
        n_templates, n_tasks = per_environment_size(self.graph)
        fits = n_templates <= MAX_TEMPLATES and n_tasks <= MAX_DAG_TASKS
        layout = LAYOUT_PER_ENVIRONMENT if fits else LAYOUT_COMPACT
        templates = self.per_environment() if fits else self.compact()
        timeouts = self.settings.timeouts
        return {
            "apiVersion": API_VERSION,
            "kind": "WorkflowTemplate",
            "metadata": {
                "name": self.pipeline,
                "namespace": self.namespace,
                "labels": {Label.PIPELINE: self.pipeline, Label.MANAGED_BY: MANAGED_BY},
                "annotations": {
                    Annotation.LAYOUT: layout,
                    Annotation.TOPOLOGY: self.graph.topology_json(),
                    Annotation.GENERATOR_VERSION: __version__,
                },
            },
            "spec": {
                "entrypoint": PIPELINE_DAG,
                "onExit": self.graph.exit_handler.name,
                "serviceAccountName": self.settings.service_account,
                "arguments": {
                    "parameters": [
                        {"name": Param.COMMIT_SHA, "description": "Commit to build and deploy"},
                        {
                            "name": Param.REPO_URL,
                            "description": "Clone URL of the application repository",
                            "value": literal(self.config.pipeline.repository, "repository"),
                        },
                        {
                            "name": Param.REDEPLOY_BY,
                            "description": "aphex redeploy only: who asked to go back",
                            "value": "",
                        },
                        {
                            "name": Param.REDEPLOY_REASON,
                            "description": "aphex redeploy only: why (empty: an ordinary run)",
                            "value": "",
                        },
                    ]
                },
                "workflowMetadata": {
                    "labels": {Label.PIPELINE: self.pipeline, Label.COMMIT: COMMIT},
                },
                "podMetadata": {"labels": {Label.PIPELINE: self.pipeline}},
                "activeDeadlineSeconds": timeouts.workflow,
                "podGC": {"strategy": "OnPodSuccess"},
                "ttlStrategy": {
                    "secondsAfterSuccess": timeouts.ttl_after_success,
                    "secondsAfterFailure": timeouts.ttl_after_failure,
                },
                "templates": templates,
                **({"volumes": volumes} if (volumes := self.volumes()) else {}),
            },
        }


def render_workflow_template(config: AphexConfig, settings: GeneratorSettings) -> dict[str, Any]:
    """Render the pipeline's WorkflowTemplate as a plain dict (dump it with ``dump_yaml``).

    Environments get their own templates (literal ``--environment NAME``) while the result
    fits the CRD's limits (200 templates, 200 tasks per DAG); larger pipelines switch to a
    compact layout of shared templates that take the environment name as an input parameter.
    """
    return _Renderer(config, settings).render()
