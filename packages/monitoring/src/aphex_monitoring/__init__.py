"""aphex-monitoring: run records, metrics, logs and notifications for AphexPipeline.

Monitoring never fails or stalls a deployment: every call is bounded in time and a
failure becomes a warning on stderr.
"""

__version__ = "0.1.0"

from aphex_monitoring.records import (
    DeployedPointer,
    FailureInfo,
    RunRecord,
    StageRecord,
)
from aphex_monitoring.service import (
    Clients,
    NotifyResult,
    RunFacts,
    notify_run,
    record_run_start,
    record_stage,
)
from aphex_monitoring.settings import MonitorSettings
from aphex_monitoring.store import RunStore

__all__ = [
    "Clients",
    "DeployedPointer",
    "FailureInfo",
    "MonitorSettings",
    "NotifyResult",
    "RunFacts",
    "RunRecord",
    "RunStore",
    "StageRecord",
    "__version__",
    "notify_run",
    "record_run_start",
    "record_stage",
]
