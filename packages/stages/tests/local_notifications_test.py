"""The config's notifications, wired end to end in a local run with IAM enforced.

The exit handler runs as the notify identity and reads the Slack webhook and the GitHub
token from their Secrets (by ``secretKeyRef``; a local run installs them from
``.aphex/local/secrets/``). A local HTTP server stands in for Slack and for the GitHub API
(``APHEX_GITHUB_API_URL``), and an SQS queue subscribed in moto receives what the run
publishes to the config's SNS topic. Neither secret appears in a log or the run's output.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from pytest_httpserver import HTTPServer

from aphex_generator import EnvVar
from aphex_testing import pytest_plugin
from aphex_testing.cdk import ensure_cdk_cli
from aphex_testing.moto_server import MotoServer
from aphex_testing.sample_repo import SampleRepo, phases, run_sample

PIPELINE = "aphex-sample"
ACCOUNT = "123456789012"
REGION = "us-east-1"
TOPIC = "aphex-deploys"
SLACK_SECRET = "team-slack"
SLACK_PATH = "/services/T000/B000/hook-secret-path"
GITHUB_TOKEN = "ghp_local_token_never_logged"


#: A moto server of the test's own (the shared harness's fixture).
server = pytest_plugin.fresh_moto_server


@pytest.fixture(autouse=True)
def app_environment(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer) -> None:
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    monkeypatch.setenv(EnvVar.GITHUB_API_URL, httpserver.url_for("/github"))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


def _client(server: MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _subscribed_queue(server: MotoServer) -> tuple[str, str]:
    """The config's topic with an SQS queue subscribed: (topic ARN, queue URL)."""
    sns, sqs = _client(server, "sns"), _client(server, "sqs")
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="deploys-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    return topic_arn, queue_url


def _sample(tmp_path: Path, topic_arn: str, slack_url: str) -> tuple[SampleRepo, str]:
    """The sample with every notification on, and its commit."""
    sample = SampleRepo(tmp_path / "app")

    def notify_everywhere(data: dict[str, Any]) -> None:
        data["environments"] = data["environments"][:1]  # dev: one deploy is enough here
        data["pipeline"]["notifications"] = {
            "sns_topic_arn": topic_arn,
            "slack_webhook_secret": SLACK_SECRET,
            "github_status": True,
        }

    sample.edit_config(notify_everywhere)
    sha = sample.commit("notify Slack, GitHub and SNS")
    secrets = sample.path / ".aphex" / "local" / "secrets"
    (secrets / SLACK_SECRET).mkdir(parents=True)
    (secrets / SLACK_SECRET / "url").write_text(slack_url + "\n")
    (secrets / "aphex-github-token").mkdir(parents=True)
    (secrets / "aphex-github-token" / "token").write_text(GITHUB_TOKEN + "\n")
    return sample, sha


def test_a_run_notifies_slack_github_and_sns_with_secrets_only_by_reference(
    server: MotoServer, httpserver: HTTPServer, tmp_path: Path
) -> None:
    topic_arn, queue_url = _subscribed_queue(server)
    slack_url = httpserver.url_for(SLACK_PATH)
    sample, sha = _sample(tmp_path, topic_arn, slack_url)
    statuses = f"/github/repos/local/app/statuses/{sha}"
    httpserver.expect_request(SLACK_PATH, method="POST").respond_with_data("ok")
    httpserver.expect_request(statuses, method="POST").respond_with_json({"id": 1}, status=201)

    code, text = run_sample(sample, aws_endpoint=server.endpoint)

    assert code == 0, text
    assert "IAM enforced: each task holds only its own role" in text
    assert phases(text)["deploy-dev"] == "succeeded", text
    (run_dir,) = list(sample.paths.runs.iterdir())
    exit_log = (run_dir / "on-exit.log").read_text()
    for sink in (
        "run record ok",
        "metrics ok",
        "logs ok",
        "sns ok",
        "slack ok",
        "github status ok",
    ):
        assert sink in exit_log, exit_log
    calls = {request.path: request for request, _response in httpserver.log}
    # Slack: one message about this run's outcome.
    slack = json.loads(calls[SLACK_PATH].get_data(as_text=True))
    assert PIPELINE in json.dumps(slack) and sha[:7] in json.dumps(slack)
    # GitHub: the commit's status, with the token from the Secret.
    github = calls[statuses]
    assert github.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    status = json.loads(github.get_data(as_text=True))
    assert status["state"] == "success" and status["context"] == f"aphex/{PIPELINE}"
    # SNS: the run record, as the subscribed queue received it.
    sqs = _client(server, "sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    published = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert any(
        p.get("pipeline") == PIPELINE and p.get("status") == "Succeeded" for p in published
    ), published
    # Neither secret is written anywhere a person reads.
    logs = [p.read_text(errors="replace") for p in sample.paths.runs.rglob("*") if p.is_file()]
    for secret in (GITHUB_TOKEN, SLACK_PATH):
        assert secret not in text
        assert not [log for log in logs if secret in log]
