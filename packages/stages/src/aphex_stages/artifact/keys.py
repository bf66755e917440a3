"""Where a commit's artifact lives in the artifact bucket: ``latest.json`` and
:class:`ArtifactLocation` (one upload's prefix and its tarball's checksum).

The keys themselves are aphex_generator's (its ``bucket`` layout, which the pipeline's IAM
policies grant too)::

    <pipeline>/<sha>/<upload>/artifact.tar.gz     the tarball
    <pipeline>/<sha>/<upload>/manifest.json       the manifest
    <pipeline>/<sha>/<upload>/<name>              files added later (see beside_key)
    <pipeline>/<sha>/latest.json                  which <upload> is current
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aphex_generator import ARTIFACT_FILE, MANIFEST_FILE, commit_prefix, latest_key
from aphex_stages.artifact.s3 import S3Client, get_bytes, s3_call
from aphex_stages.artifact.tarball import SHA256_HEX
from aphex_stages.errors import ExitCode, StageError

__all__ = ["ArtifactLocation", "beside_key"]

_BESIDE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_RESERVED = frozenset({ARTIFACT_FILE, MANIFEST_FILE})


@dataclass(frozen=True)
class ArtifactLocation:
    """One upload of a commit's artifact: ``s3://bucket/prefix`` and its tarball's checksum."""

    bucket: str
    pipeline: str
    commit: str
    prefix: str  # "<pipeline>/<sha>/<ts>/"
    sha256: str  # hex digest of artifact.tar.gz
    size: int
    uploaded: str

    @property
    def artifact_key(self) -> str:
        """Key of the tarball."""
        return self.prefix + ARTIFACT_FILE

    @property
    def manifest_key(self) -> str:
        """Key of the manifest beside the tarball."""
        return self.prefix + MANIFEST_FILE

    @property
    def latest_key(self) -> str:
        """Key of the commit's ``latest.json`` pointer."""
        return latest_key(self.pipeline, self.commit)

    @property
    def uri(self) -> str:
        """``s3://bucket/<prefix>artifact.tar.gz``."""
        return f"s3://{self.bucket}/{self.artifact_key}"

    def key(self, name: str) -> str:
        """Key of a file named ``name`` beside the tarball."""
        return self.prefix + name

    def to_json(self) -> bytes:
        """The ``latest.json`` document for this upload."""
        document = {
            "artifact": self.artifact_key,
            "commit": self.commit,
            "manifest": self.manifest_key,
            "pipeline": self.pipeline,
            "prefix": self.prefix,
            "sha256": self.sha256,
            "size": self.size,
            "uploaded": self.uploaded,
        }
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_latest(cls, s3: S3Client, bucket: str, pipeline: str, commit: str) -> ArtifactLocation:
        """Read ``<pipeline>/<sha>/latest.json``; StageError(ARTIFACT_INVALID) if absent or bad."""
        key = latest_key(pipeline, commit)
        with s3_call(s3, f"reading s3://{bucket}/{key}"):
            body = get_bytes(
                s3,
                bucket,
                key,
                f"no artifact for commit {commit}: s3://{bucket}/{key} does not exist;"
                " did the build stage succeed for this commit?",
            )
        try:
            document = json.loads(body)
            prefix = str(document["prefix"])
            location = cls(
                bucket=bucket,
                pipeline=pipeline,
                commit=commit,
                prefix=prefix,
                sha256=str(document["sha256"]),
                size=int(document["size"]),
                uploaded=str(document.get("uploaded", "")),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise StageError(
                ExitCode.ARTIFACT_INVALID, f"s3://{bucket}/{key} is not a valid pointer: {error}"
            ) from None
        if not prefix.startswith(commit_prefix(pipeline, commit)) or not SHA256_HEX.fullmatch(
            location.sha256
        ):
            raise StageError(
                ExitCode.ARTIFACT_INVALID,
                f"s3://{bucket}/{key} points outside {commit_prefix(pipeline, commit)} or has no"
                " SHA-256",
            )
        return location


def beside_key(location: ArtifactLocation, name: str) -> str:
    """Key of ``name`` beside the tarball; ValueError unless ``name`` is a relative path of
    plain file names other than ``artifact.tar.gz`` and ``manifest.json``."""
    parts = name.split("/")
    if not all(_BESIDE_NAME.fullmatch(part) for part in parts) or name in _RESERVED:
        raise ValueError(f"invalid name beside the artifact: {name!r}")
    return location.key(name)
