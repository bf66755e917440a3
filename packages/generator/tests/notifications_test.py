"""The config's notifications reach the exit handler, and only it: the SNS topic as a
value, the Slack webhook and the GitHub token by secretKeyRef (never a value)."""

from __future__ import annotations

from typing import Any

from generator_cases import SETTINGS, config_from, minimal_config

from aphex_generator import NOTIFY, EnvVar, SecretRef, render_workflow_template, validate

TOPIC = "arn:aws:sns:us-east-1:111111111111:deploys"


def _containers(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t["container"] for t in doc["spec"]["templates"] if "container" in t}


def test_notifications_reach_only_the_exit_handler_and_secrets_only_by_reference() -> None:
    notifications = {
        "sns_topic_arn": TOPIC,
        "slack_webhook_secret": "team-slack",
        "github_status": True,
    }
    config = config_from(minimal_config(notifications=notifications))
    settings = SETTINGS.with_changes(github_status_token=SecretRef("gh-status", "pat"))
    doc = render_workflow_template(config, settings)
    assert validate(doc) == []
    containers = _containers(doc)
    (exit_name,) = (n for n, c in containers.items() if c["command"] == [NOTIFY.script])
    env = {e["name"]: e for e in containers[exit_name]["env"]}
    assert env[EnvVar.SNS_TOPIC_ARN] == {"name": EnvVar.SNS_TOPIC_ARN, "value": TOPIC}
    assert env[EnvVar.SLACK_WEBHOOK_URL]["valueFrom"] == {
        "secretKeyRef": {"name": "team-slack", "key": "url", "optional": True}
    }
    assert env[EnvVar.GITHUB_TOKEN]["valueFrom"] == {
        "secretKeyRef": {"name": "gh-status", "key": "pat", "optional": True}
    }
    assert "value" not in env[EnvVar.SLACK_WEBHOOK_URL] | env[EnvVar.GITHUB_TOKEN]
    notification_vars = {EnvVar.SNS_TOPIC_ARN, EnvVar.SLACK_WEBHOOK_URL, EnvVar.GITHUB_TOKEN}
    for name, container in containers.items():
        if name != exit_name:  # a build command never sees the Slack hook or the token
            assert not notification_vars & {e["name"] for e in container["env"]}, name


def test_without_notifications_the_exit_handler_gets_none() -> None:
    doc = render_workflow_template(config_from(minimal_config()), SETTINGS)
    for container in _containers(doc).values():
        names = {e["name"] for e in container["env"]}
        assert not names & {EnvVar.SNS_TOPIC_ARN, EnvVar.SLACK_WEBHOOK_URL, EnvVar.GITHUB_TOKEN}


def test_a_github_enterprise_api_reaches_the_exit_handler_and_survives_a_rerender() -> None:
    config = config_from(minimal_config(notifications={"github_status": True}))
    api = "https://github.example.com/api/v3"
    doc = render_workflow_template(config, SETTINGS.with_changes(github_api_url=api))
    containers = _containers(doc)
    (exit_name,) = (n for n, c in containers.items() if c["command"] == [NOTIFY.script])
    values = {e["name"]: e.get("value") for e in containers[exit_name]["env"]}
    assert values[EnvVar.GITHUB_API_URL] == api
    # The pipeline stage renders the template again from its pod's environment.
    pipeline_env = [
        {e["name"]: e.get("value") for e in c["env"]}
        for c in containers.values()
        if EnvVar.INFRA_CONTEXT in {e["name"] for e in c["env"]}
        or EnvVar.SERVICE_ACCOUNT in {e["name"] for e in c["env"]}
    ]
    assert pipeline_env and pipeline_env[0][EnvVar.GITHUB_API_URL] == api
