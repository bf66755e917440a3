"""The pipeline only moves forward: the newest commit that ran (a head), kept in S3.

    stale = advance_head(s3, bucket, head_key("shop"), sha, committed_at)
    if stale is not None:   # a newer commit already ran: this run deploys nothing
        ...

Two heads are kept in the artifact bucket: ``<pipeline>/head.json`` (the newest commit whose
pipeline stage ran: it owns the template) and ``<pipeline>/environments/<env>.json`` (the
newest commit deployed to that environment). Both are written with S3 conditional writes
(If-None-Match for the first, If-Match on the ETag read after), so two stages never both
win. Commits are ordered by their committer time: a run of an older commit that arrives
after a newer one (a slow run, a replayed webhook, a run held at a gate) finds the newer
head and deploys nothing.

The one way back is a :class:`Redeploy` (``aphex redeploy SHA --reason ...``): it moves the
head to an older commit and the head records who asked, why, and which commit it replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from aphex_stages.artifact.s3 import error_code, s3_call
from aphex_stages.errors import ExitCode, StageError

__all__ = ["Head", "Redeploy", "advance_head", "read_head"]

_ATTEMPTS = 5
_LOST_RACE = ("PreconditionFailed", "412", "ConditionalRequestConflict")


@dataclass(frozen=True)
class Redeploy:
    """An explicit request to run an older commit: who asked, and why."""

    by: str
    reason: str


@dataclass(frozen=True)
class Head:
    """The newest commit that ran, its committer time, and the redeploy that put it there."""

    commit: str
    committed_at: datetime
    redeploy: Redeploy | None = None
    replaced: str | None = None  # with a redeploy: the newer commit it went back from

    def to_json(self) -> bytes:
        document: dict[str, Any] = {
            "commit": self.commit,
            "committed_at": self.committed_at.isoformat(),
        }
        if self.redeploy is not None:
            document["redeploy"] = {
                "by": self.redeploy.by,
                "reason": self.redeploy.reason,
                "replaced": self.replaced,
            }
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")

    def is_newer_than(self, commit: str, committed_at: datetime) -> bool:
        """Whether this head is another commit, committed after `committed_at`: moving it
        to `commit` would go back (only a redeploy may)."""
        return self.commit != commit and self.committed_at > committed_at


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


def read_head(s3: Any, bucket: str, key: str) -> Head | None:
    """The head at `key`, or None when there is none (or it is unreadable); never writes.
    StageError(AWS_FAILED) when S3 fails."""
    with s3_call(s3, f"reading s3://{bucket}/{key}"):
        return _read(s3, bucket, key)[0]


def advance_head(
    s3: Any,
    bucket: str,
    key: str,
    commit: str,
    committed_at: datetime,
    *,
    redeploy: Redeploy | None = None,
) -> Head | None:
    """Make `commit` the head at `key` unless a newer commit is; return that newer head
    (this run is stale), else None. A `redeploy` moves the head back to an older commit
    and is recorded in it. StageError(AWS_FAILED) when S3 fails or the head keeps changing
    under us."""
    with s3_call(s3, f"reading and advancing s3://{bucket}/{key}"):
        for _ in range(_ATTEMPTS):
            head, etag = _read(s3, bucket, key)
            if head is not None and head.commit == commit:
                return None
            if head is not None and head.is_newer_than(commit, committed_at) and redeploy is None:
                return head
            ours = Head(
                commit,
                committed_at,
                redeploy=redeploy,
                replaced=head.commit if head is not None and redeploy is not None else None,
            )
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
