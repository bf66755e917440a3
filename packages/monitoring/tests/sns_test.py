"""SNS publish, asserted through an SQS subscription on a moto server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from monitoring_cases import T0, client, stage

from aphex_monitoring.fold import fold_run
from aphex_monitoring.notify.sns import build_sns_message, publish_run, sns_subject
from aphex_monitoring.records import RunRecord


def _record(pipeline: str = "shop") -> RunRecord:
    return fold_run(
        pipeline=pipeline,
        workflow_name=f"{pipeline}-x",
        status="Succeeded",
        stages=[stage("environment", "dev")],
        commit_sha="e" * 40,
        finished_at=T0 + timedelta(minutes=2),
    )


def subscribe_queue(unique_name: Callable[[str], str]) -> tuple[str, str]:
    """A topic with an SQS queue subscribed (raw delivery off): (topic_arn, queue_url)."""
    sns, sqs = client("sns"), client("sqs")
    topic_arn = sns.create_topic(Name=unique_name("topic"))["TopicArn"]
    queue_url = sqs.create_queue(QueueName=unique_name("queue"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def receive(queue_url: str) -> list[dict[str, Any]]:
    sqs = client("sqs")
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_subject_is_short_ascii() -> None:
    record = _record()
    assert sns_subject(record) == "Aphex shop: Succeeded eeeeeee"
    long = _record("p" + "a" * 62)
    assert len(sns_subject(long)) < 100
    body = json.loads(build_sns_message(record, "https://argo/x"))
    assert body["status"] == "Succeeded" and body["argo_url"] == "https://argo/x"
    assert body["environments"] == {"dev": "Succeeded"}
    assert body["run"]["stages"][0]["stage"] == "environment"


def test_publish_reaches_sqs(aws_env: Any, unique_name: Callable[[str], str]) -> None:
    topic_arn, queue_url = subscribe_queue(unique_name)
    message_id = publish_run(client("sns"), topic_arn, _record())
    assert message_id
    (envelope,) = receive(queue_url)
    assert envelope["Subject"] == "Aphex shop: Succeeded eeeeeee"
    body = json.loads(envelope["Message"])
    assert body["type"] == "aphex.run"
    assert body["pipeline"] == "shop" and body["commit_sha"] == "e" * 40
    assert body["duration_seconds"] == 120.0
    assert envelope["MessageAttributes"]["status"]["Value"] == "Succeeded"
