"""Where things live in the artifact bucket.

::

    runs/<pipeline>/<YYYY>/<MM>/<DD>/<workflow>.json   run record (date = run start, UTC)
    runs/<pipeline>/workflows/<workflow>/run.json      run-start marker (written by ``start``)
    runs/<pipeline>/workflows/<workflow>/stages/<stage>[.<env>].json   one object per stage
    deployed/<pipeline>/<environment>.json             last successful deployment there
"""

from __future__ import annotations

import re
from datetime import datetime

__all__ = [
    "DEPLOYED_PREFIX",
    "RUNS_PREFIX",
    "is_run_key",
    "pointer_key",
    "run_key",
    "stage_key",
    "stages_prefix",
    "start_key",
]

RUNS_PREFIX = "runs/"
DEPLOYED_PREFIX = "deployed/"

_RUN_KEY = re.compile(r"^runs/([^/]+)/(\d{4})/(\d{2})/(\d{2})/([^/]+)\.json$")


def run_key(pipeline: str, workflow: str, started_at: datetime) -> str:
    """Key of the run record, dated by the run's start (UTC)."""
    return f"runs/{pipeline}/{started_at:%Y/%m/%d}/{workflow}.json"


def is_run_key(key: str, workflow: str | None = None) -> bool:
    """True for ``runs/<p>/<YYYY>/<MM>/<DD>/<w>.json`` (optionally for workflow ``workflow``)."""
    match = _RUN_KEY.match(key)
    return bool(match) and (workflow is None or match.group(5) == workflow)  # type: ignore[union-attr]


def start_key(pipeline: str, workflow: str) -> str:
    """Key of the run-start marker."""
    return f"runs/{pipeline}/workflows/{workflow}/run.json"


def stages_prefix(pipeline: str, workflow: str) -> str:
    """Prefix of the per-stage objects of one run."""
    return f"runs/{pipeline}/workflows/{workflow}/stages/"


def stage_key(pipeline: str, workflow: str, object_name: str) -> str:
    """Key of one per-stage object (``object_name`` from ``StageRecord.object_name``)."""
    return stages_prefix(pipeline, workflow) + object_name


def pointer_key(pipeline: str, environment: str) -> str:
    """Key of the per-environment deployed pointer."""
    return f"deployed/{pipeline}/{environment}.json"
