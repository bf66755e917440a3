"""Slack incoming webhook: a readable message per run.

The webhook URL comes from ``APHEX_SLACK_WEBHOOK_URL`` or the file named by
``APHEX_SLACK_WEBHOOK_FILE`` (a mounted Secret), never from config, never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from aphex_monitoring.http import RetryPolicy, send_json
from aphex_monitoring.records import RunRecord
from aphex_monitoring.render import format_duration, short_sha
from aphex_monitoring.secrets import SLACK_WEBHOOK_ENV, read_secret

__all__ = ["build_slack_message", "send_slack", "slack_webhook_url"]

WEBHOOK_ENV = SLACK_WEBHOOK_ENV
WEBHOOK_FILE_ENV = "APHEX_SLACK_WEBHOOK_FILE"

_ICONS = {
    "Succeeded": ":white_check_mark:",
    "Failed": ":x:",
    "Error": ":warning:",
    "Superseded": ":repeat:",
}


def slack_webhook_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL from the environment or the mounted file (registered for redaction)."""
    return read_secret(WEBHOOK_ENV, WEBHOOK_FILE_ENV, environ=environ)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_slack_message(record: RunRecord, argo_link: str | None = None) -> dict[str, Any]:
    """Slack payload: a fallback ``text`` plus blocks with pipeline, commit, envs, status, duration, link."""
    icon = _ICONS.get(record.status, ":hourglass:")
    environments = (
        ", ".join(f"{env} ({record.environment_status(env) or '-'})" for env in record.environments)
        or "-"
    )
    commit = short_sha(record.commit_sha)
    duration = format_duration(record.duration_seconds)
    text = (
        f"{icon} {_escape(record.pipeline)}: {record.status} - commit {commit}, "
        f"environments {_escape(environments)}, took {duration}"
    )
    fields = [
        f"*Pipeline*\n{_escape(record.pipeline)}",
        f"*Status*\n{icon} {record.status}",
        f"*Commit*\n`{commit}`",
        f"*Environment*\n{_escape(environments)}",
        f"*Duration*\n{duration}",
        f"*Workflow*\n{_escape(record.workflow_name)}",
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{icon} *{_escape(record.pipeline)}* {record.status}",
            },
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if record.error:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Error*\n{_escape(record.error)}"},
            }
        )
    link = argo_link or record.argo_url
    if link:
        text += f" <{link}|Open in Argo>"
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|Open in Argo>"}]}
        )
    return {"text": text, "blocks": blocks}


def send_slack(
    webhook_url: str,
    record: RunRecord,
    *,
    argo_link: str | None = None,
    policy: RetryPolicy | None = None,
    session: requests.Session | None = None,
) -> None:
    """Post the run to the webhook (bounded retries); raises ``DeliveryError`` on failure."""
    send_json(
        "POST",
        webhook_url,
        build_slack_message(record, argo_link),
        label="slack webhook",
        policy=policy,
        session=session,
    )
