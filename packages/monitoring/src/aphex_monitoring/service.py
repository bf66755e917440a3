"""The operations stages and the exit handler call: record a stage, start a run, notify.

Each public function is safe to call from a deployment: it never raises for an
AWS or network problem (it logs a warning) and returns within
``MonitorSettings.deadline_seconds`` (work still running then is abandoned).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aphex_monitoring.argo import argo_link, parse_failures
from aphex_monitoring.aws import make_client, region_from_arn
from aphex_monitoring.fold import fold_run
from aphex_monitoring.guard import Guard, Outcome, run_in_parallel, run_with_deadline
from aphex_monitoring.http import RetryPolicy
from aphex_monitoring.logs import write_run_log
from aphex_monitoring.metrics import put_run_metrics
from aphex_monitoring.notify.github import GitHubStatusClient, github_token, parse_repository
from aphex_monitoring.notify.slack import send_slack, slack_webhook_url
from aphex_monitoring.notify.sns import publish_run
from aphex_monitoring.records import (
    FailureInfo,
    RunRecord,
    StageRecord,
    normalise_run_status,
    utcnow,
)
from aphex_monitoring.secrets import redact
from aphex_monitoring.settings import SNS_TOPIC_ENV, MonitorSettings
from aphex_monitoring.store import RunStore

__all__ = ["Clients", "NotifyResult", "RunFacts", "notify_run", "record_run_start", "record_stage"]

logger = logging.getLogger("aphex_monitoring")

_GRACE_SECONDS = 2.0
_READ_SHARE = 0.4


class Clients:
    """boto3 clients created on first use (or injected, e.g. by tests)."""

    def __init__(self, settings: MonitorSettings, **injected: Any) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = dict(injected)

    def get(self, service: str) -> Any:
        """The client for ``service`` (``s3``, ``cloudwatch``, ``logs``, ``sns``)."""
        if service not in self._clients:
            region = region_from_arn(self.settings.sns_topic_arn) if service == "sns" else None
            self._clients[service] = make_client(service, self.settings.aws, region=region)
        return self._clients[service]


@dataclass(frozen=True)
class RunFacts:
    """What the caller knows about a run (``notify`` arguments, or a stage's identifiers)."""

    pipeline: str
    workflow_name: str
    status: str = "Running"
    commit_sha: str | None = None
    workflow_uid: str | None = None
    repository: str | None = None
    trigger: str | None = None
    failures: str | Sequence[FailureInfo] | None = None
    argo_url: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class NotifyResult:
    """What ``notify_run`` / ``record_run_start`` did: the record and each sink's outcome."""

    record: RunRecord | None = None
    run_key: str | None = None
    pointer_keys: list[str] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    finished: bool = True


def _policy(settings: MonitorSettings, guard: Guard) -> RetryPolicy:
    return replace(
        settings.http, total_seconds=max(0.1, min(settings.http.total_seconds, guard.remaining()))
    )


def _github(
    guard: Guard, settings: MonitorSettings, record: RunRecord, repository: str | None
) -> None:
    label = "github status"
    token = github_token(settings.environ)
    if not token:
        guard.skip(label, "no APHEX_GITHUB_TOKEN / APHEX_GITHUB_TOKEN_FILE")
        return
    if not repository or parse_repository(repository) is None:
        guard.skip(label, "no parsable repository URL")
        return
    if not record.commit_sha:
        guard.skip(label, "no commit SHA")
        return
    client = GitHubStatusClient(
        token, api_url=settings.github_api_url, policy=_policy(settings, guard)
    )
    guard.run(label, lambda: client.post_run_status(record, repository))


def _bounded(
    label: str, settings: MonitorSettings, result: NotifyResult, work: Any
) -> NotifyResult:
    finished, _ = run_with_deadline(work, settings.deadline_seconds + _GRACE_SECONDS, label)
    result.finished = finished
    return result


def record_stage(
    bucket: str | None,
    pipeline: str,
    workflow: str,
    stage_record: StageRecord,
    *,
    s3_client: Any = None,
    settings: MonitorSettings | None = None,
) -> str | None:
    """Store one stage's result at ``runs/<p>/workflows/<w>/stages/<stage>[.<env>].json``.

    Returns the key, or None after logging a warning. Each stage writes only its own
    object, so concurrent stages never race; ``notify`` folds them into the run record.
    """
    settings = settings or MonitorSettings.from_env()
    bucket = bucket or settings.bucket
    if not bucket:
        logger.warning("stage record skipped: no artifact bucket (APHEX_ARTIFACT_BUCKET)")
        return None
    guard = Guard(settings.deadline_seconds)
    clients = Clients(settings, **({"s3": s3_client} if s3_client is not None else {}))
    if stage_record.error:  # a failing command line may carry a secret: never store it
        stage_record = stage_record.model_copy(update={"error": redact(stage_record.error)})

    def work() -> str | None:
        store = RunStore(bucket, clients.get("s3"))
        return guard.run(
            "stage record", lambda: store.put_stage(pipeline, workflow, stage_record), aws=True
        )

    finished, key = run_with_deadline(
        work, settings.deadline_seconds + _GRACE_SECONDS, "stage record"
    )
    return key if finished else None


def record_run_start(
    facts: RunFacts,
    *,
    settings: MonitorSettings | None = None,
    clients: Clients | None = None,
) -> NotifyResult:
    """Mark a run as started: start marker + Running record in S3, GitHub ``pending``."""
    settings = settings or MonitorSettings.from_env()
    clients = clients or Clients(settings)
    guard = Guard(settings.deadline_seconds)
    result = NotifyResult(outcomes=guard.outcomes)

    def store_start(record: RunRecord) -> None:
        if not settings.bucket:
            guard.skip("run start", "no artifact bucket (APHEX_ARTIFACT_BUCKET)")
            return
        bucket = settings.bucket
        s3 = guard.run("s3 client", lambda: clients.get("s3"))
        if s3 is not None:
            store = RunStore(bucket, s3)
            result.run_key = guard.run("run start", lambda: store.put_start(record), aws=True)

    def work() -> None:
        link = argo_link(
            facts.argo_url or settings.argo_url, facts.workflow_name, settings.namespace
        )
        record = RunRecord(
            pipeline=facts.pipeline,
            workflow_name=facts.workflow_name,
            workflow_uid=facts.workflow_uid,
            commit_sha=facts.commit_sha,
            repository=facts.repository,
            trigger=facts.trigger,
            started_at=facts.started_at or utcnow(),
            status="Running",
            argo_url=link,
        )
        result.record = record
        run_in_parallel(
            {
                "aws sinks": lambda: store_start(record),
                "http sinks": lambda: _github(guard, settings, record, facts.repository),
            },
            guard.remaining(),
        )

    return _bounded("run start", settings, result, work)


def notify_run(
    facts: RunFacts,
    *,
    settings: MonitorSettings | None = None,
    clients: Clients | None = None,
) -> NotifyResult:
    """Finish a run: fold stage objects into the run record, store it, then the pointers;
    publish metrics and the log summary; notify SNS, Slack and GitHub.

    Every sink is independent: a failure is a warning and the others still run.
    """
    settings = settings or MonitorSettings.from_env()
    clients = clients or Clients(settings)
    guard = Guard(settings.deadline_seconds)
    result = NotifyResult(outcomes=guard.outcomes)

    def read(store: RunStore) -> tuple[RunRecord | None, list[StageRecord]]:
        start = guard.run(
            "read run start",
            lambda: store.read_start(facts.pipeline, facts.workflow_name),
            aws=True,
        )
        stages = guard.run(
            "read stage records",
            lambda: store.read_stages(facts.pipeline, facts.workflow_name),
            aws=True,
        )
        return start, stages or []

    def write_aws(store: RunStore | None, record: RunRecord, link: str | None) -> None:
        if store is not None:
            result.run_key = guard.run("run record", lambda: store.put_run(record), aws=True)
            if result.run_key:
                key = result.run_key
                result.pointer_keys = (
                    guard.run(
                        "deployed pointers", lambda: store.update_pointers(record, key), aws=True
                    )
                    or []
                )
            else:
                guard.skip("deployed pointers", "the run record was not stored")
        guard.run("metrics", lambda: put_run_metrics(clients.get("cloudwatch"), record), aws=True)
        guard.run("logs", lambda: write_run_log(clients.get("logs"), record), aws=True)
        topic = settings.sns_topic_arn
        if topic:
            guard.run("sns", lambda: publish_run(clients.get("sns"), topic, record, link), aws=True)
        else:
            guard.skip("sns", f"no {SNS_TOPIC_ENV}")

    def send_http(record: RunRecord, link: str | None) -> None:
        webhook = slack_webhook_url(settings.environ)
        if webhook:
            policy = _policy(settings, guard)
            guard.run("slack", lambda: send_slack(webhook, record, argo_link=link, policy=policy))
        else:
            guard.skip("slack", "no APHEX_SLACK_WEBHOOK_URL / APHEX_SLACK_WEBHOOK_FILE")
        _github(guard, settings, record, record.repository)

    def work() -> None:
        status = normalise_run_status(facts.status)
        failures = (
            parse_failures(facts.failures)
            if facts.failures is None or isinstance(facts.failures, str)
            else tuple(facts.failures)
        )
        store: RunStore | None = None
        start: RunRecord | None = None
        stages: list[StageRecord] = []
        if settings.bucket:
            s3 = guard.run("s3 client", lambda: clients.get("s3"))
            if s3 is not None:
                store = RunStore(settings.bucket, s3)
                # Reading may use at most a share of the budget, so that a slow S3
                # cannot starve the notifications; then notify with what we know.
                budget = guard.remaining() * _READ_SHARE
                done, found = run_with_deadline(lambda: read(store), budget, "read run")
                if done and found is not None:
                    start, stages = found
        else:
            guard.skip("run record", "no artifact bucket (APHEX_ARTIFACT_BUCKET)")
        link = argo_link(
            facts.argo_url or settings.argo_url or (start.argo_url if start else None),
            facts.workflow_name,
            settings.namespace,
        )
        record = fold_run(
            pipeline=facts.pipeline,
            workflow_name=facts.workflow_name,
            status=status,
            start=start,
            stages=stages,
            workflow_uid=facts.workflow_uid,
            commit_sha=facts.commit_sha,
            repository=facts.repository,
            trigger=facts.trigger,
            started_at=facts.started_at,
            finished_at=facts.finished_at,
            failures=failures,
            argo_url=link,
        )
        result.record = record
        # AWS sinks and HTTP sinks run side by side: one slow side cannot delay the other.
        run_in_parallel(
            {
                "aws sinks": lambda: write_aws(store, record, link),
                "http sinks": lambda: send_http(record, link),
            },
            guard.remaining(),
        )

    return _bounded("notify", settings, result, work)
