"""The pipeline only moves forward: the newest commit whose pipeline stage ran (its head).

    stale = advance_head(s3, bucket, "shop", sha, committed_at)
    if stale is not None:   # a newer commit already ran: this run deploys nothing
        ...

The head is ``<pipeline>/head.json`` in the artifact bucket, written with S3 conditional
writes (If-None-Match for the first, If-Match on the ETag read after), so two pipeline
stages never both win. Commits are ordered by their committer time: a run of an older
commit that reaches the pipeline stage after a newer one (a slow run, a replayed webhook)
finds the newer head and deploys nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from aphex_stages.artifact.s3 import error_code, s3_call
from aphex_stages.errors import ExitCode, StageError

__all__ = ["Head", "advance_head", "head_key"]

_ATTEMPTS = 5
_LOST_RACE = ("PreconditionFailed", "412", "ConditionalRequestConflict")


@dataclass(frozen=True)
class Head:
    """The newest commit that ran, and its committer time."""

    commit: str
    committed_at: datetime

    def to_json(self) -> bytes:
        document = {"commit": self.commit, "committed_at": self.committed_at.isoformat()}
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def head_key(pipeline: str) -> str:
    """``<pipeline>/head.json``: beside the commits' artifact folders."""
    return f"{pipeline}/head.json"


def _read(s3: Any, bucket: str, key: str) -> tuple[Head | None, str | None]:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            return None, None
        raise
    try:
        document = json.loads(response["Body"].read())
        head = Head(str(document["commit"]), datetime.fromisoformat(document["committed_at"]))
    except (ValueError, KeyError, TypeError):
        head = None  # unreadable: the next write replaces it
    return head, str(response["ETag"])


def advance_head(
    s3: Any, bucket: str, pipeline: str, commit: str, committed_at: datetime
) -> Head | None:
    """Make `commit` the pipeline's head unless a newer commit is; return that newer head
    (this run is stale), else None. StageError(AWS_FAILED) when S3 fails or the head keeps
    changing under us."""
    key = head_key(pipeline)
    ours = Head(commit, committed_at)
    with s3_call(s3, f"reading and advancing s3://{bucket}/{key}"):
        for _ in range(_ATTEMPTS):
            head, etag = _read(s3, bucket, key)
            if head is not None and head.commit == commit:
                return None
            if head is not None and head.committed_at > committed_at:
                return head
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=ours.to_json(),
                    ContentType="application/json",
                    **condition,
                )
                return None
            except ClientError as error:
                if error_code(error) not in _LOST_RACE:
                    raise
    raise StageError(
        ExitCode.AWS_FAILED,
        f"s3://{bucket}/{key} kept changing while this run advanced it; retry the run",
    )
