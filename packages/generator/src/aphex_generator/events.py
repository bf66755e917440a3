"""Render the Argo Events manifests that start the pipeline on a push."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aphex_generator import names
from aphex_generator.contract import Label, Param
from aphex_generator.settings import GeneratorSettings, SettingsError

if TYPE_CHECKING:
    from aphex_config import AphexConfig

API_VERSION = "argoproj.io/v1alpha1"
EVENT_NAME = "push"
DEPENDENCY = "push"

_GITHUB_URL = re.compile(
    r"(?:https://|ssh://(?:[^@/]+@)?|[^@/:]+@)(?P<host>[^/:]+)(?::\d+)?[:/]"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+?)(?:\.git)?/?"
)


def go_regex_literal(text: str) -> str:
    """Quote ``text`` for Go's regexp (RE2): every ASCII punctuation character escaped."""
    return "".join(f"\\{c}" if c.isascii() and not c.isalnum() and c != "/" else c for c in text)


def github_repository(url: str) -> tuple[str, str]:
    """(owner, name) of a GitHub repository URL (https, ssh or scp-like); ValueError if none."""
    match = _GITHUB_URL.fullmatch(url)
    if not match:
        raise ValueError(f"cannot tell the GitHub owner and repository of {url!r}")
    return match.group("owner"), match.group("repo")


def _meta(name: str, namespace: str, pipeline: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {Label.PIPELINE: pipeline}}


def render_event_source(config: AphexConfig, settings: GeneratorSettings) -> dict[str, Any]:
    """The GitHub EventSource; refuses to render without a webhook secret reference."""
    if settings.webhook_secret is None:
        raise SettingsError(
            "the GitHub EventSource needs a webhook secret (settings.webhook_secret / "
            "--webhook-secret NAME[:KEY]): without it, webhook signatures are not checked"
        )
    pipeline = config.pipeline.name
    namespace = settings.namespace or config.pipeline.namespace
    owner, repo = github_repository(config.pipeline.repository)
    github: dict[str, Any] = {
        "repositories": [{"owner": owner, "names": [repo]}],
        "webhook": {
            "endpoint": settings.webhook_endpoint,
            "port": str(settings.webhook_port),
            "method": "POST",
        },
        "events": ["push"],
        "webhookSecret": {"name": settings.webhook_secret.name, "key": settings.webhook_secret.key},
        "insecure": False,
        "active": True,
        "contentType": "json",
    }
    if settings.webhook_url:
        github["webhook"]["url"] = settings.webhook_url  # needed only to register the hook
    if settings.github_api_token is not None:
        token = settings.github_api_token
        github["apiToken"] = {"name": token.name, "key": token.key}
    return {
        "apiVersion": API_VERSION,
        "kind": "EventSource",
        "metadata": _meta(names.event_source_name(pipeline), namespace, pipeline),
        "spec": {
            "eventBusName": settings.event_bus_name,
            "service": {
                "ports": [{"port": settings.webhook_port, "targetPort": settings.webhook_port}]
            },
            "github": {EVENT_NAME: github},
        },
    }


def _param(data_key: str, dest: str, operation: str | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {
        "src": {"dependencyName": DEPENDENCY, "dataKey": data_key},
        "dest": dest,
    }
    if operation:
        param["operation"] = operation
    return param


def render_sensor(config: AphexConfig, settings: GeneratorSettings) -> dict[str, Any]:
    """The Sensor: pushes to the branch (not deletions) submit one Workflow per commit.

    Webhook body fields reach the Workflow only through trigger ``parameters`` (a JSON
    path in, a field of the resource out). The Workflow is named ``<prefix><commit>``,
    so a duplicated delivery of the same push fails with AlreadyExists.
    """
    pipeline = config.pipeline.name
    namespace = settings.namespace or config.pipeline.namespace
    branch = config.pipeline.branch
    workflow = {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {
            "name": names.workflow_name_prefix(pipeline),
            "namespace": namespace,
            "labels": {Label.PIPELINE: pipeline},
        },
        "spec": {
            "workflowTemplateRef": {"name": pipeline},
            "arguments": {
                "parameters": [
                    {"name": Param.COMMIT_SHA, "value": ""},
                    {"name": Param.REPO_URL, "value": ""},
                ]
            },
        },
    }
    filters = {
        "dataLogicalOperator": "and",
        "data": [
            {"path": "headers.X-Github-Event.0", "type": "string", "value": ["^push$"]},
            {
                "path": "body.ref",
                "type": "string",
                "value": [f"^refs/heads/{go_regex_literal(branch)}$"],
            },
            {"path": "body.deleted", "type": "bool", "value": ["false"]},
            {"path": "body.after", "type": "string", "value": ["^[0-9a-f]{40}$"]},
        ],
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "Sensor",
        "metadata": _meta(names.sensor_name(pipeline), namespace, pipeline),
        "spec": {
            "eventBusName": settings.event_bus_name,
            "template": {"serviceAccountName": settings.sensor_service_account},
            "dependencies": [
                {
                    "name": DEPENDENCY,
                    "eventSourceName": names.event_source_name(pipeline),
                    "eventName": EVENT_NAME,
                    "filters": filters,
                }
            ],
            "triggers": [
                {
                    "template": {
                        "name": "submit-workflow",
                        "argoWorkflow": {
                            "operation": "submit",
                            "source": {"resource": workflow},
                            "parameters": [
                                _param("body.after", "spec.arguments.parameters.0.value"),
                                _param(
                                    "body.repository.clone_url",
                                    "spec.arguments.parameters.1.value",
                                ),
                                _param("body.after", "metadata.name", "append"),
                            ],
                        },
                    },
                    "retryStrategy": {"steps": 3, "duration": "10s", "factor": 2.0},
                }
            ],
        },
    }


def render_event_bus(config: AphexConfig, settings: GeneratorSettings) -> dict[str, Any]:
    """A JetStream EventBus."""
    namespace = settings.namespace or config.pipeline.namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "EventBus",
        "metadata": _meta(settings.event_bus_name, namespace, config.pipeline.name),
        "spec": {"jetstream": {"version": settings.jetstream_version, "replicas": 3}},
    }


def render_events(config: AphexConfig, settings: GeneratorSettings) -> list[dict[str, Any]]:
    """[EventBus, EventSource, Sensor] for the pipeline. Raises ``SettingsError`` without a
    webhook secret in ``settings``, ``ValueError`` if the repository is not on GitHub."""
    return [
        render_event_bus(config, settings),
        render_event_source(config, settings),
        render_sensor(config, settings),
    ]
