"""Render the pipeline's Argo WorkflowTemplate from an ``AphexConfig``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aphex_generator import names
from aphex_generator.settings import (
    DEFAULT_BUILDER_IMAGE,
    DEFAULT_DEPLOYER_IMAGE,
    GeneratorSettings,
    Resources,
)
from aphex_generator.version import __version__

if TYPE_CHECKING:
    from aphex_config import AphexConfig, Environment

API_VERSION = "argoproj.io/v1alpha1"

#: Limits of the full WorkflowTemplate CRD (``maxItems``) that shape the layout.
MAX_TEMPLATES = 200
MAX_DAG_TASKS = 200

# The only Argo expressions the generator ever writes.
COMMIT = "{{workflow.parameters.commit-sha}}"
REPO_URL = "{{workflow.parameters.repo-url}}"
WORKFLOW_NAME = "{{workflow.name}}"
WORKFLOW_UID = "{{workflow.uid}}"
WORKFLOW_STATUS = "{{workflow.status}}"
WORKFLOW_FAILURES = "{{workflow.failures}}"
ENV_PARAM = "{{inputs.parameters.environment}}"  # compact layout only
TIMEOUT_PARAM = "{{inputs.parameters.timeout-seconds}}"  # compact layout only

LABEL_PIPELINE = "aphex.io/pipeline"
LABEL_COMMIT = "aphex.io/commit"
LABEL_ENVIRONMENT = "aphex.io/environment"
ANNOTATION_TOPOLOGY = "aphex.io/topology"
ANNOTATION_LAYOUT = "aphex.io/layout"
ANNOTATION_VERSION = "aphex.io/generator-version"

LAYOUT_PER_ENVIRONMENT = "per-environment"
LAYOUT_COMPACT = "compact"

# Fixed template and task names.
PIPELINE_DAG = "pipeline"
VALIDATION = "validation"
BUILD = "build"
PIPELINE_DEPLOYMENT = "pipeline-deployment"
APPROVAL = "approval"
EXIT_HANDLER = "exit-handler"
ENVIRONMENTS_DAG = "environments"
SHARED_DEPLOY = "deploy"
SHARED_TEST = "test"

_TOPOLOGY_LIMIT = 200_000  # bytes; annotations are capped at 256 KiB in total


def _literal(value: str, what: str) -> str:
    """Guard: a config value is written verbatim and must never look like an expression."""
    if "{{" in value or "}}" in value:
        raise ValueError(f"{what} {value!r} contains '{{{{' or '}}}}' and cannot be rendered")
    return value


def _succeeded(tasks: Sequence[str]) -> str:
    return " && ".join(f"{task}.Succeeded" for task in tasks)


def resolve_images(config: AphexConfig, settings: GeneratorSettings) -> tuple[str, str]:
    """(builder, deployer) images: settings, else the config's, else the published default."""
    images = config.pipeline.images
    builder = settings.builder_image or (images.builder if images else None)
    deployer = settings.deployer_image or (images.deployer if images else None)
    return builder or DEFAULT_BUILDER_IMAGE, deployer or DEFAULT_DEPLOYER_IMAGE


class _Renderer:
    def __init__(self, config: AphexConfig, settings: GeneratorSettings) -> None:
        self.config = config
        self.settings = settings
        self.pipeline = _literal(config.pipeline.name, "pipeline name")
        self.namespace = settings.namespace or config.pipeline.namespace
        self.builder, self.deployer = resolve_images(config, settings)
        self.envs = list(config.environments)
        for env in self.envs:
            _literal(env.name, "environment name")
        self.deps = {env.name: list(config.effective_depends_on(env.name)) for env in self.envs}

    # -- building blocks -------------------------------------------------------------
    def common_args(self) -> list[str]:
        return ["--pipeline", self.pipeline, "--commit", COMMIT, "--repository", REPO_URL]

    def env_vars(self) -> list[dict[str, str]]:
        out = [
            {"name": "APHEX_ARTIFACT_BUCKET", "value": self.settings.artifact_bucket},
            {"name": "APHEX_NAMESPACE", "value": self.namespace},
            {"name": "APHEX_WORKFLOW_NAME", "value": WORKFLOW_NAME},
        ]
        if self.settings.aws_region:
            out.append({"name": "AWS_REGION", "value": self.settings.aws_region})
        return out

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

    def container_template(
        self,
        name: str,
        image: str,
        command: str,
        args: list[str],
        resources: Resources,
        deadline: int | str,
        retry: bool = True,
    ) -> dict[str, Any]:
        template: dict[str, Any] = {
            "name": name,
            "activeDeadlineSeconds": deadline,
            "container": {
                "image": image,
                "command": [command],
                "args": args,
                "env": self.env_vars(),
                "resources": resources.as_manifest(),
            },
        }
        if retry:
            template["retryStrategy"] = self.retry()
        return template

    def metrics(self, environment: str) -> dict[str, Any]:
        labels = [
            {"key": "pipeline", "value": self.pipeline},
            {"key": "environment", "value": environment},
        ]
        return {
            "prometheus": [
                {
                    "name": "aphex_environment_duration_seconds",
                    "help": "Duration of the last deployment of an environment, in seconds",
                    "labels": labels,
                    "gauge": {"realtime": False, "value": "{{duration}}"},
                },
                {
                    "name": "aphex_environment_result_total",
                    "help": "Deployments of an environment, by result",
                    "labels": [*labels, {"key": "status", "value": "{{status}}"}],
                    "counter": {"value": "1"},
                },
            ]
        }

    def fixed_templates(self) -> list[dict[str, Any]]:
        timeouts = self.settings.timeouts
        return [
            self.container_template(
                VALIDATION,
                self.builder,
                "aphex-stage-validation",
                self.common_args(),
                self.settings.builder_resources,
                timeouts.validation,
            ),
            self.container_template(
                BUILD,
                self.builder,
                "aphex-stage-build",
                self.common_args(),
                self.settings.builder_resources,
                self.config.build.timeout_minutes * 60,
            ),
            self.container_template(
                PIPELINE_DEPLOYMENT,
                self.deployer,
                "aphex-stage-pipeline",
                [*self.common_args(), "--workflow-name", WORKFLOW_NAME],
                self.settings.deployer_resources,
                timeouts.pipeline,
            ),
            self.container_template(
                EXIT_HANDLER,
                self.deployer,
                "aphex-monitor",
                [
                    "notify",
                    "--pipeline",
                    self.pipeline,
                    "--commit",
                    COMMIT,
                    "--repository",
                    REPO_URL,
                    "--workflow-name",
                    WORKFLOW_NAME,
                    "--workflow-uid",
                    WORKFLOW_UID,
                    "--status",
                    WORKFLOW_STATUS,
                    "--failures",
                    WORKFLOW_FAILURES,
                ],
                self.settings.deployer_resources,
                timeouts.exit_handler,
            ),
        ]

    def stage_tasks(self) -> list[dict[str, Any]]:
        return [
            {"name": VALIDATION, "template": VALIDATION},
            {"name": BUILD, "template": BUILD, "depends": _succeeded([VALIDATION])},
            {
                "name": PIPELINE_DEPLOYMENT,
                "template": PIPELINE_DEPLOYMENT,
                "depends": _succeeded([BUILD]),
            },
        ]

    def deploy_template(self, env: Environment | None) -> dict[str, Any]:
        """One environment's deploy template (literal name), or the shared one (env None)."""
        env_name = env.name if env is not None else ENV_PARAM
        name = names.deploy_name(env.name) if env is not None else SHARED_DEPLOY
        template = self.container_template(
            name,
            self.deployer,
            "aphex-stage-environment",
            [*self.common_args(), "--environment", env_name],
            self.settings.deployer_resources,
            self.settings.timeouts.environment,
        )
        template["synchronization"] = {
            "mutexes": [{"name": names.mutex_name(self.pipeline, env_name)}]
        }
        template["metadata"] = {"labels": {LABEL_ENVIRONMENT: env_name}}
        template["metrics"] = self.metrics(env_name)
        if env is None:
            template["inputs"] = {"parameters": [{"name": "environment"}]}
        return template

    def test_template(self, env: Environment | None) -> dict[str, Any]:
        """One environment's test template (literal name), or the shared one (env None)."""
        if env is not None:
            assert env.tests is not None
            env_name, name = env.name, names.test_name(env.name)
            deadline: int | str = env.tests.timeout_minutes * 60
        else:
            env_name, name, deadline = ENV_PARAM, SHARED_TEST, TIMEOUT_PARAM
        template = self.container_template(
            name,
            self.deployer,
            "aphex-stage-test",
            [*self.common_args(), "--environment", env_name],
            self.settings.deployer_resources,
            deadline,
        )
        template["metadata"] = {"labels": {LABEL_ENVIRONMENT: env_name}}
        if env is None:
            template["inputs"] = {
                "parameters": [{"name": "environment"}, {"name": "timeout-seconds"}]
            }
        return template

    # -- layouts -----------------------------------------------------------------------
    def last_task(self, env_name: str) -> str:
        env = self.config.environment(env_name)
        return names.test_name(env_name) if env.tests else names.deploy_name(env_name)

    def per_environment_size(self) -> tuple[int, int]:
        gated = sum(1 for env in self.envs if env.approval == "manual")
        tested = sum(1 for env in self.envs if env.tests)
        templates = 5 + (1 if gated else 0) + len(self.envs) + tested
        tasks = 3 + len(self.envs) + tested + gated
        return templates, tasks

    def per_environment(self) -> list[dict[str, Any]]:
        tasks = self.stage_tasks()
        env_templates: list[dict[str, Any]] = []
        for env in self.envs:
            deps = self.deps[env.name]
            after = [self.last_task(dep) for dep in deps] if deps else [PIPELINE_DEPLOYMENT]
            if env.approval == "manual":
                gate = names.approve_name(env.name)
                tasks.append({"name": gate, "template": APPROVAL, "depends": _succeeded(after)})
                after = [gate]
            deploy = names.deploy_name(env.name)
            tasks.append({"name": deploy, "template": deploy, "depends": _succeeded(after)})
            env_templates.append(self.deploy_template(env))
            if env.tests:
                test = names.test_name(env.name)
                tasks.append({"name": test, "template": test, "depends": _succeeded([deploy])})
                env_templates.append(self.test_template(env))
        templates = [{"name": PIPELINE_DAG, "dag": {"tasks": tasks}}, *self.fixed_templates()]
        if any(env.approval == "manual" for env in self.envs):
            templates.append({"name": APPROVAL, "suspend": {}})
        return templates + env_templates

    def compact(self) -> list[dict[str, Any]]:
        tasks = self.stage_tasks()
        tasks.append(
            {
                "name": ENVIRONMENTS_DAG,
                "template": ENVIRONMENTS_DAG,
                "depends": _succeeded([PIPELINE_DEPLOYMENT]),
            }
        )
        env_tasks: list[dict[str, Any]] = []
        variants: dict[str, dict[str, Any]] = {}
        for env in self.envs:
            gated, tested = env.approval == "manual", env.tests is not None
            variant = "environment" + ("-gated" if gated else "") + ("-tested" if tested else "")
            if variant not in variants:
                variants[variant] = self.variant(variant, gated, tested)
            params = [{"name": "environment", "value": env.name}]
            if env.tests is not None:
                params.append(
                    {"name": "timeout-seconds", "value": str(env.tests.timeout_minutes * 60)}
                )
            task: dict[str, Any] = {
                "name": names.env_task_name(env.name),
                "template": variant,
                "arguments": {"parameters": params},
            }
            deps = self.deps[env.name]
            if deps:
                task["depends"] = _succeeded([names.env_task_name(dep) for dep in deps])
            env_tasks.append(task)
        templates = [
            {"name": PIPELINE_DAG, "dag": {"tasks": tasks}},
            *self.fixed_templates(),
            {"name": ENVIRONMENTS_DAG, "dag": {"tasks": env_tasks}},
            *(variants[key] for key in sorted(variants)),
            self.deploy_template(None),
        ]
        if any(env.approval == "manual" for env in self.envs):
            templates.append({"name": APPROVAL, "suspend": {}})
        if any(env.tests for env in self.envs):
            templates.append(self.test_template(None))
        return templates

    def variant(self, name: str, gated: bool, tested: bool) -> dict[str, Any]:
        env_arg = {"name": "environment", "value": ENV_PARAM}
        tasks: list[dict[str, Any]] = []
        if gated:
            tasks.append({"name": "approve", "template": APPROVAL})
        deploy: dict[str, Any] = {
            "name": "deploy",
            "template": SHARED_DEPLOY,
            "arguments": {"parameters": [env_arg]},
        }
        if gated:
            deploy["depends"] = _succeeded(["approve"])
        tasks.append(deploy)
        inputs = [{"name": "environment"}]
        if tested:
            timeout_arg = {"name": "timeout-seconds", "value": TIMEOUT_PARAM}
            tasks.append(
                {
                    "name": "test",
                    "template": SHARED_TEST,
                    "depends": _succeeded(["deploy"]),
                    "arguments": {"parameters": [env_arg, timeout_arg]},
                }
            )
            inputs.append({"name": "timeout-seconds"})
        return {"name": name, "inputs": {"parameters": inputs}, "dag": {"tasks": tasks}}

    # -- the document --------------------------------------------------------------------
    def topology(self) -> str:
        envs = [
            {
                "name": env.name,
                "depends_on": self.deps[env.name],
                "approval": env.approval,
                "tests": env.tests is not None,
                "stacks": [_literal(stack.name, "stack name") for stack in env.stacks],
            }
            for env in self.envs
        ]
        text = json.dumps({"environments": envs}, sort_keys=True, separators=(",", ":"))
        if len(text) > _TOPOLOGY_LIMIT:
            for entry in envs:
                stacks = json.dumps(entry["stacks"]).encode()
                entry["stacks"] = "sha256:" + hashlib.sha256(stacks).hexdigest()
            text = json.dumps({"environments": envs}, sort_keys=True, separators=(",", ":"))
        return text

    def render(self) -> dict[str, Any]:
        n_templates, n_tasks = self.per_environment_size()
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
                "labels": {
                    LABEL_PIPELINE: self.pipeline,
                    "app.kubernetes.io/managed-by": "aphex-generator",
                },
                "annotations": {
                    ANNOTATION_LAYOUT: layout,
                    ANNOTATION_TOPOLOGY: self.topology(),
                    ANNOTATION_VERSION: __version__,
                },
            },
            "spec": {
                "entrypoint": PIPELINE_DAG,
                "onExit": EXIT_HANDLER,
                "serviceAccountName": self.settings.service_account,
                "arguments": {
                    "parameters": [
                        {"name": "commit-sha", "description": "Commit to build and deploy"},
                        {
                            "name": "repo-url",
                            "description": "Clone URL of the application repository",
                            "value": _literal(self.config.pipeline.repository, "repository"),
                        },
                    ]
                },
                "workflowMetadata": {
                    "labels": {LABEL_PIPELINE: self.pipeline, LABEL_COMMIT: COMMIT},
                },
                "podMetadata": {"labels": {LABEL_PIPELINE: self.pipeline}},
                "activeDeadlineSeconds": timeouts.workflow,
                "podGC": {"strategy": "OnPodSuccess"},
                "ttlStrategy": {
                    "secondsAfterSuccess": timeouts.ttl_after_success,
                    "secondsAfterFailure": timeouts.ttl_after_failure,
                },
                "templates": templates,
            },
        }


def render_workflow_template(config: AphexConfig, settings: GeneratorSettings) -> dict[str, Any]:
    """Render the pipeline's WorkflowTemplate as a plain dict (dump it with ``dump_yaml``).

    Environments get their own templates (literal ``--environment NAME``) while the result
    fits the CRD's limits (200 templates, 200 tasks per DAG); larger pipelines switch to a
    compact layout of shared templates that take the environment name as an input parameter.
    """
    return _Renderer(config, settings).render()
