"""Notification sinks: SNS, Slack incoming webhooks, GitHub commit statuses."""

from aphex_monitoring.notify.github import GitHubStatusClient, github_state, parse_repository
from aphex_monitoring.notify.slack import build_slack_message, send_slack
from aphex_monitoring.notify.sns import build_sns_message, publish_run, sns_subject

__all__ = [
    "GitHubStatusClient",
    "build_slack_message",
    "build_sns_message",
    "github_state",
    "parse_repository",
    "publish_run",
    "send_slack",
    "sns_subject",
]
