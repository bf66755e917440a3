"""SNS: a short subject (under 100 characters) and a JSON body per run."""

from __future__ import annotations

import json
import re
from typing import Any

from aphex_monitoring.records import RunRecord
from aphex_monitoring.render import short_sha

__all__ = ["build_sns_message", "publish_run", "sns_subject"]

MAX_SUBJECT = 99
MAX_MESSAGE_BYTES = 200_000
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def sns_subject(record: RunRecord) -> str:
    """``Aphex <pipeline>: <status> <sha7>`` in printable ASCII, at most 99 characters."""
    text = f"Aphex {record.pipeline}: {record.status} {short_sha(record.commit_sha)}"
    text = _NOT_PRINTABLE.sub("?", text).strip()
    return text[:MAX_SUBJECT]


def build_sns_message(record: RunRecord, argo_link: str | None = None) -> str:
    """JSON body: a summary plus the full run record (stages dropped if too large)."""
    body: dict[str, Any] = {
        "type": "aphex.run",
        "pipeline": record.pipeline,
        "workflow_name": record.workflow_name,
        "workflow_uid": record.workflow_uid,
        "status": record.status,
        "commit_sha": record.commit_sha,
        "duration_seconds": record.duration_seconds,
        "environments": {env: record.environment_status(env) for env in record.environments},
        "error": record.error,
        "argo_url": argo_link or record.argo_url,
        "run": record.model_dump(mode="json"),
    }
    text = json.dumps(body, separators=(",", ":"))
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        body["run"] = record.model_dump(mode="json", exclude={"stages"})
        body["truncated"] = True
        text = json.dumps(body, separators=(",", ":"))
    return text


def publish_run(
    sns_client: Any, topic_arn: str, record: RunRecord, argo_link: str | None = None
) -> str:
    """Publish the run to ``topic_arn``; returns the SNS message id."""
    response = sns_client.publish(
        TopicArn=topic_arn,
        Subject=sns_subject(record),
        Message=build_sns_message(record, argo_link),
        MessageAttributes={
            "pipeline": {"DataType": "String", "StringValue": record.pipeline},
            "status": {"DataType": "String", "StringValue": record.status},
        },
    )
    return str(response.get("MessageId", ""))
