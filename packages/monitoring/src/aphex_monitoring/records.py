"""Typed run and stage records (pydantic v2, frozen) and the deployed pointer."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

__all__ = [
    "DEPLOY_STAGES",
    "check_pipeline_name",
    "check_workflow_name",
    "DeployedPointer",
    "FailureInfo",
    "RunRecord",
    "RunStatus",
    "StageRecord",
    "StageStatus",
    "normalise_run_status",
    "one_line",
    "utcnow",
]

#: Superseded: the run succeeded, but its pipeline stage restarted it on a new topology
#: (the restarted run deploys the commit); it is never counted as a failure.
RunStatus = Literal["Running", "Succeeded", "Failed", "Error", "Superseded"]
StageStatus = Literal["Running", "Succeeded", "Failed", "Error", "Skipped", "Superseded"]

RUN_STATUSES: tuple[str, ...] = ("Running", "Succeeded", "Failed", "Error", "Superseded")
STAGE_STATUSES: tuple[str, ...] = (
    "Running",
    "Succeeded",
    "Failed",
    "Error",
    "Skipped",
    "Superseded",
)

#: Stages whose success means "this commit is now deployed in that environment".
DEPLOY_STAGES: frozenset[str] = frozenset({"environment"})

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Argo workflow names are DNS subdomains; allow a little more, never "/" or "..".
_WORKFLOW = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
_ERROR_LIMIT = 300


def check_pipeline_name(value: str) -> str:
    """``value`` if it is a DNS label (safe in S3 keys and log group names), else ValueError."""
    if not _LABEL.match(value):
        raise ValueError(f"pipeline must be a DNS label, got {value!r}")
    return value


def check_workflow_name(value: str) -> str:
    """``value`` if it is a plausible Argo workflow name (no ``/``, no ``..``), else ValueError."""
    if not _WORKFLOW.match(value) or ".." in value:
        raise ValueError(f"invalid workflow name {value!r}")
    return value


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def one_line(text: str | None, limit: int = _ERROR_LIMIT) -> str | None:
    """Collapse whitespace to one line and cut to ``limit`` characters (None stays None)."""
    if text is None:
        return None
    collapsed = " ".join(str(text).split())
    if not collapsed:
        return None
    if len(collapsed) > limit:
        collapsed = collapsed[: limit - 1].rstrip() + "…"
    return collapsed


def normalise_run_status(value: str | None) -> RunStatus:
    """Map Argo's ``workflow.status`` (any case) to a :data:`RunStatus`; unknown means Error."""
    text = (value or "").strip().lower()
    for status in RUN_STATUSES:
        if status.lower() == text:
            return status  # type: ignore[return-value]
    if text in ("pending", "started"):
        return "Running"
    return "Error"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _duration(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return round(max((end - start).total_seconds(), 0.0), 3)
    return None


def _status(value: Any, allowed: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for status in allowed:
            if status.lower() == value.strip().lower():
                return status
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class _TimedRecord(_Model):
    """Normalisation shared by records with ``started_at``, ``finished_at``,
    ``duration_seconds`` and a one-line ``error`` (the subclasses declare the fields)."""

    @field_validator("started_at", "finished_at", check_fields=False)
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @field_validator("error", mode="before", check_fields=False)
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        return one_line(value) if isinstance(value, str) else value

    @field_validator("duration_seconds", check_fields=False)
    @classmethod
    def _fill_duration(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return _duration(info.data.get("started_at"), info.data.get("finished_at"))
        return value


class StageRecord(_TimedRecord):
    """What one stage (optionally for one environment) hands to monitoring."""

    stage: str
    environment: str | None = None
    status: StageStatus
    started_at: datetime
    finished_at: datetime | None = None
    duration_seconds: float | None = Field(default=None, validate_default=True)
    error: str | None = None
    output_keys: tuple[str, ...] = ()

    @field_validator("stage")
    @classmethod
    def _stage_label(cls, value: str) -> str:
        if not _LABEL.match(value):
            raise ValueError(f"stage must be a DNS label, got {value!r}")
        return value

    @field_validator("environment")
    @classmethod
    def _env_label(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL.match(value):
            raise ValueError(f"environment must be a DNS label, got {value!r}")
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _normalise_status(cls, value: Any) -> Any:
        return _status(value, STAGE_STATUSES)

    @property
    def object_name(self) -> str:
        """File name of the per-stage object: ``<stage>.json`` or ``<stage>.<env>.json``."""
        if self.environment:
            return f"{self.stage}.{self.environment}.json"
        return f"{self.stage}.json"


class FailureInfo(_Model):
    """One entry of Argo's ``workflow.failures``."""

    name: str
    message: str | None = None
    template: str | None = None
    phase: str | None = None

    @field_validator("name", "message", mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        return one_line(value) if isinstance(value, str) else value


class RunRecord(_TimedRecord):
    """One workflow run of one pipeline, with its stage records."""

    schema_version: Literal[1] = 1
    pipeline: str
    workflow_name: str
    workflow_uid: str | None = None
    commit_sha: str | None = None
    repository: str | None = None
    trigger: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus
    duration_seconds: float | None = Field(default=None, validate_default=True)
    error: str | None = None
    failures: tuple[FailureInfo, ...] = ()
    argo_url: str | None = None
    stages: tuple[StageRecord, ...] = Field(default=())

    @field_validator("pipeline")
    @classmethod
    def _pipeline_label(cls, value: str) -> str:
        return check_pipeline_name(value)

    @field_validator("workflow_name")
    @classmethod
    def _workflow(cls, value: str) -> str:
        return check_workflow_name(value)

    @field_validator("status", mode="before")
    @classmethod
    def _normalise_status(cls, value: Any) -> Any:
        return _status(value, RUN_STATUSES)

    @property
    def environments(self) -> tuple[str, ...]:
        """Environments the run's stages touched, in order of first appearance."""
        seen: dict[str, None] = {}
        for stage in self.stages:
            if stage.environment:
                seen.setdefault(stage.environment, None)
        return tuple(seen)

    def environment_status(self, environment: str) -> str | None:
        """Status of the environment's deploy stage, or of its last stage if none deployed."""
        stages = [s for s in self.stages if s.environment == environment]
        deploys = [s for s in stages if s.stage in DEPLOY_STAGES]
        chosen = deploys or stages
        return chosen[-1].status if chosen else None

    def deployed_environments(self) -> tuple[str, ...]:
        """Environments whose deploy stage (see :data:`DEPLOY_STAGES`) succeeded in this run."""
        return tuple(
            env
            for env in self.environments
            if any(
                s.environment == env and s.stage in DEPLOY_STAGES and s.status == "Succeeded"
                for s in self.stages
            )
        )

    def deploy_finished_at(self, environment: str) -> datetime | None:
        """When the environment's successful deploy stage finished."""
        times = [
            s.finished_at or s.started_at
            for s in self.stages
            if s.environment == environment and s.stage in DEPLOY_STAGES and s.status == "Succeeded"
        ]
        return max(times) if times else None


class DeployedPointer(_Model):
    """``deployed/<pipeline>/<environment>.json``: the last successful deployment there."""

    schema_version: Literal[1] = 1
    pipeline: str
    environment: str
    commit_sha: str | None
    workflow_name: str
    workflow_uid: str | None = None
    run_key: str
    deployed_at: datetime

    @field_validator("deployed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        aware = _aware(value)
        assert aware is not None
        return aware
