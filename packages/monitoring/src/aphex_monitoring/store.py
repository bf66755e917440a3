"""Write and read run records, stage objects and deployed pointers in S3.

Every write is a single ``PutObject`` of a complete JSON document, so a reader
never sees a half-written object. Races are avoided by layout rather than locks:
each stage writes only its own object (``.../stages/<stage>[.<env>].json``), and
only the workflow's exit handler folds them into the run record and then, after
the record is stored, moves the per-environment pointers.
"""

from __future__ import annotations

import heapq
import json
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from aphex_monitoring import layout
from aphex_monitoring.records import (
    DeployedPointer,
    RunRecord,
    StageRecord,
    check_pipeline_name,
    check_workflow_name,
)

__all__ = ["RunStore"]

logger = logging.getLogger(__name__)

_YEAR = re.compile(r"^\d{4}$")
_TWO_DIGITS = re.compile(r"^\d{2}$")
_MISSING = {"NoSuchKey", "404", "NotFound"}


class RunStore:
    """Run records in one S3 bucket, through an injected boto3 S3 client."""

    def __init__(self, bucket: str, s3_client: Any) -> None:
        self.bucket = bucket
        self.s3 = s3_client

    # ----------------------------------------------------------------- basics
    def _put(self, key: str, model: BaseModel) -> str:
        body = model.model_dump_json(indent=2, exclude_none=False).encode("utf-8")
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return key

    def _get(self, key: str) -> Any | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        with response["Body"] as body:
            return json.loads(body.read())

    def _load(self, key: str, model: type[Any]) -> Any | None:
        try:
            data = self._get(key)
            return None if data is None else model.model_validate(data)
        except (ValueError, ValidationError) as exc:
            logger.warning("ignoring unreadable object %s: %s", key, type(exc).__name__)
            return None

    def _prefixes(self, prefix: str) -> list[str]:
        names: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for entry in page.get("CommonPrefixes", []):
                names.append(entry["Prefix"][len(prefix) :].rstrip("/"))
        return names

    def _keys(self, prefix: str, *, delimiter: bool = False) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        extra = {"Delimiter": "/"} if delimiter else {}
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, **extra):
            for entry in page.get("Contents", []):
                yield entry["Key"]

    # ---------------------------------------------------------------- writers
    def put_stage(self, pipeline: str, workflow: str, record: StageRecord) -> str:
        """Store one stage's result as its own object; returns the key."""
        check_pipeline_name(pipeline)
        check_workflow_name(workflow)
        return self._put(layout.stage_key(pipeline, workflow, record.object_name), record)

    def put_start(self, record: RunRecord) -> str:
        """Store the run-start marker, then a Running run record; returns the record key."""
        self._put(layout.start_key(record.pipeline, record.workflow_name), record)
        return self.put_run(record)

    def put_run(self, record: RunRecord) -> str:
        """Store the run record at its dated key; returns the key."""
        key = layout.run_key(record.pipeline, record.workflow_name, record.started_at)
        return self._put(key, record)

    def update_pointers(self, record: RunRecord, run_key: str) -> list[str]:
        """Point ``deployed/<p>/<env>.json`` at this run for each environment it deployed.

        Call only after :meth:`put_run` succeeded. A pointer that already names a
        later deployment (an older run finishing late) is left alone.
        """
        written: list[str] = []
        for environment in record.deployed_environments():
            deployed_at = record.deploy_finished_at(environment)
            assert deployed_at is not None
            key = layout.pointer_key(record.pipeline, environment)
            current = self._load(key, DeployedPointer)
            if (
                current is not None
                and current.workflow_name != record.workflow_name
                and current.deployed_at > deployed_at
            ):
                logger.info("pointer %s already names a later deployment; unchanged", key)
                continue
            pointer = DeployedPointer(
                pipeline=record.pipeline,
                environment=environment,
                commit_sha=record.commit_sha,
                workflow_name=record.workflow_name,
                workflow_uid=record.workflow_uid,
                run_key=run_key,
                deployed_at=deployed_at,
            )
            written.append(self._put(key, pointer))
        return written

    # ------------------------------------------------------ in-flight readers
    def read_start(self, pipeline: str, workflow: str) -> RunRecord | None:
        """The run-start marker, if ``start`` wrote one."""
        result: RunRecord | None = self._load(layout.start_key(pipeline, workflow), RunRecord)
        return result

    def read_stages(self, pipeline: str, workflow: str) -> list[StageRecord]:
        """Every stage object of one run, ordered by start time."""
        records = [
            self._load(key, StageRecord)
            for key in self._keys(layout.stages_prefix(pipeline, workflow))
            if key.endswith(".json")
        ]
        found = [r for r in records if r is not None]
        return sorted(found, key=lambda r: (r.started_at, r.stage, r.environment or ""))

    # --------------------------------------------------------------- readers
    def pipelines(self) -> list[str]:
        """Pipelines that have run records."""
        return sorted(self._prefixes(layout.RUNS_PREFIX))

    def iter_runs(self, pipeline: str) -> Iterator[RunRecord]:
        """Run records of one pipeline, newest start first (lazily, a day at a time)."""
        base = f"runs/{pipeline}/"
        for year in sorted((y for y in self._prefixes(base) if _YEAR.match(y)), reverse=True):
            months = self._prefixes(f"{base}{year}/")
            for month in sorted((m for m in months if _TWO_DIGITS.match(m)), reverse=True):
                days = self._prefixes(f"{base}{year}/{month}/")
                for day in sorted((d for d in days if _TWO_DIGITS.match(d)), reverse=True):
                    prefix = f"{base}{year}/{month}/{day}/"
                    loaded = [
                        self._load(key, RunRecord)
                        for key in self._keys(prefix, delimiter=True)
                        if layout.is_run_key(key)
                    ]
                    runs = [r for r in loaded if r is not None]
                    yield from sorted(runs, key=lambda r: r.started_at, reverse=True)

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        environment: str | None = None,
        limit: int | None = 20,
    ) -> list[RunRecord]:
        """Runs newest first, optionally only one pipeline / status / environment."""
        pipelines: Iterable[str] = [pipeline] if pipeline else self.pipelines()
        merged = heapq.merge(
            *(self.iter_runs(p) for p in pipelines),
            key=lambda r: r.started_at,
            reverse=True,
        )
        wanted_status = status.lower() if status else None
        result: list[RunRecord] = []
        for run in merged:
            if wanted_status and run.status.lower() != wanted_status:
                continue
            if environment and environment not in run.environments:
                continue
            result.append(run)
            if limit is not None and len(result) >= limit:
                break
        return result

    def find_run(self, workflow: str, *, pipeline: str | None = None) -> RunRecord | None:
        """The run record of workflow ``workflow`` (searching every pipeline unless given)."""
        pipelines = [pipeline] if pipeline else self.pipelines()
        for name in pipelines:
            for key in self._keys(f"runs/{name}/"):
                if layout.is_run_key(key, workflow):
                    found: RunRecord | None = self._load(key, RunRecord)
                    if found is not None:
                        return found
        return None

    def deployed(self, *, pipeline: str | None = None) -> list[DeployedPointer]:
        """Current pointers: which commit is deployed in each environment."""
        prefix = f"{layout.DEPLOYED_PREFIX}{pipeline}/" if pipeline else layout.DEPLOYED_PREFIX
        pointers = [
            self._load(key, DeployedPointer) for key in self._keys(prefix) if key.endswith(".json")
        ]
        found = [p for p in pointers if p is not None]
        return sorted(found, key=lambda p: (p.pipeline, p.environment))
