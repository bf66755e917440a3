"""aphex-monitoring: run records, metrics, logs and notifications for AphexPipeline.

Monitoring never fails or stalls a deployment: every call is bounded in time and a
failure becomes a warning on stderr.
"""

from aphex_monitoring.cli import PROG, main
from aphex_monitoring.records import (
    DEPLOY_STAGES,
    RUN_STATUSES,
    DeployedPointer,
    FailureInfo,
    RunRecord,
    StageRecord,
)
from aphex_monitoring.secrets import (
    GITHUB_TOKEN_ENV,
    SLACK_WEBHOOK_ENV,
    RedactingFilter,
    install_redaction,
    redact,
    register_secret,
)
from aphex_monitoring.service import (
    Clients,
    NotifyResult,
    RunFacts,
    notify_run,
    record_run_start,
    record_stage,
)
from aphex_monitoring.settings import (
    BUCKET_ENV,
    NAMESPACE_ENV,
    SNS_TOPIC_ENV,
    WORKFLOW_NAME_ENV,
    MonitorSettings,
)
from aphex_monitoring.store import RunStore
from aphex_monitoring.version import __version__

__all__ = [
    "BUCKET_ENV",
    "DEPLOY_STAGES",
    "GITHUB_TOKEN_ENV",
    "NAMESPACE_ENV",
    "PROG",
    "RUN_STATUSES",
    "SLACK_WEBHOOK_ENV",
    "SNS_TOPIC_ENV",
    "WORKFLOW_NAME_ENV",
    "Clients",
    "DeployedPointer",
    "FailureInfo",
    "MonitorSettings",
    "NotifyResult",
    "RedactingFilter",
    "RunFacts",
    "RunRecord",
    "RunStore",
    "StageRecord",
    "__version__",
    "install_redaction",
    "main",
    "notify_run",
    "record_run_start",
    "record_stage",
    "redact",
    "register_secret",
]
