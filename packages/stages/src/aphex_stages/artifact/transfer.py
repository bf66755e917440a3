"""Moving artifacts through S3: upload with checksums and ``latest.json``, files beside the
artifact (``upload_beside``/``read_beside``), download with verification and extraction.

An upload never overwrites an earlier one (fresh timestamp, ``If-None-Match: *``); only
``latest.json`` moves. A download checks the tarball's SHA-256 against ``latest.json``
and S3's checksum, and every file against the manifest (:func:`extract_artifact`).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ClientError

from aphex_generator import (
    ARTIFACT_FILE,
    UPLOAD_TIME_FORMAT,
    commit_prefix,
    latest_key,
    upload_prefix,
)
from aphex_stages.artifact.keys import ArtifactLocation, beside_key
from aphex_stages.artifact.s3 import S3Client, error_code, get_bytes, s3_call
from aphex_stages.artifact.tarball import (
    CHUNK,
    ArtifactManifest,
    extract_artifact,
    invalid,
    sha256_file,
)
from aphex_stages.errors import ExitCode, StageError

# -- upload ---------------------------------------------------------------------------------


def _put_new(s3: S3Client, bucket: str, key: str, body: bytes | IO[bytes], **extra: Any) -> bool:
    """PUT that never replaces an object: False when ``key`` exists (If-None-Match)."""
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ChecksumAlgorithm="SHA256",
            IfNoneMatch="*",
            **extra,
        )
        return True
    except ClientError as error:
        if error_code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return False
        raise


def upload_artifact(
    s3: S3Client,
    bucket: str,
    pipeline: str,
    commit: str,
    tarball: Path,
    manifest: ArtifactManifest,
) -> ArtifactLocation:
    """Upload the tarball and manifest under a fresh timestamp, then point ``latest.json`` at it.

    Nothing is ever replaced: when the commit already has a ``latest.json`` (another build
    of it finished first), that artifact stays the commit's and its location is returned. Raises StageError(AWS_FAILED) when S3 fails after
    boto3's retries.
    """
    digest = sha256_file(tarball)
    checksum = base64.b64encode(bytes.fromhex(digest)).decode("ascii")
    size = tarball.stat().st_size
    with s3_call(s3, f"uploading the artifact to s3://{bucket}/{commit_prefix(pipeline, commit)}"):
        for _ in range(5):
            now = datetime.now(UTC)
            prefix = upload_prefix(pipeline, commit, now.strftime(UPLOAD_TIME_FORMAT))
            with open(tarball, "rb") as body:
                created = _put_new(
                    s3,
                    bucket,
                    prefix + ARTIFACT_FILE,
                    body,
                    ChecksumSHA256=checksum,
                    ContentType="application/gzip",
                    Metadata={"sha256": digest, "commit": commit},
                )
            if created:
                break
        else:
            raise StageError(
                ExitCode.AWS_FAILED,
                f"cannot find a fresh key under s3://{bucket}/{pipeline}/{commit}/",
            )
        location = ArtifactLocation(
            bucket=bucket,
            pipeline=pipeline,
            commit=commit,
            prefix=prefix,
            sha256=digest,
            size=size,
            uploaded=now.isoformat().replace("+00:00", "Z"),
        )
        if not _put_new(
            s3, bucket, location.manifest_key, manifest.to_json(), ContentType="application/json"
        ):
            raise StageError(
                ExitCode.AWS_FAILED, f"s3://{bucket}/{location.manifest_key} already exists"
            )
        # Write-once: the commit's first artifact stays its artifact. A build that lost a
        # race to another build of the same commit gets the winner's location.
        if not _put_new(
            s3, bucket, location.latest_key, location.to_json(), ContentType="application/json"
        ):
            return ArtifactLocation.from_latest(s3, bucket, pipeline, commit)
    return location


def read_beside(
    s3: S3Client, bucket: str, location: ArtifactLocation, name: str, *, missing: str
) -> bytes:
    """The object stored at ``name`` beside the tarball; StageError(ARTIFACT_INVALID, missing)
    when there is none."""
    key = beside_key(location, name)
    with s3_call(s3, f"reading s3://{bucket}/{key}"):
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                raise invalid(f"{missing} (s3://{bucket}/{key})") from None
            raise
    return body


def upload_beside(
    s3: S3Client,
    bucket: str,
    location: ArtifactLocation,
    name: str,
    data: bytes,
    *,
    content_type: str = "application/json",
    overwrite: bool = True,
) -> str:
    """Store ``data`` at ``name`` beside the tarball (``outputs/dev.json``, test summaries).

    ``name`` is a relative path of plain file names, other than ``artifact.tar.gz`` and
    ``manifest.json``. With ``overwrite=False`` an existing object is kept and
    StageError(AWS_FAILED) raised. Returns the key.
    """
    key = beside_key(location, name)
    with s3_call(s3, f"uploading s3://{bucket}/{key}"):
        if overwrite:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ContentType=content_type,
            )
        elif not _put_new(s3, bucket, key, data, ContentType=content_type):
            raise StageError(ExitCode.AWS_FAILED, f"s3://{bucket}/{key} already exists")
    return key


# -- download -------------------------------------------------------------------------------


def _download(s3: S3Client, location: ArtifactLocation, target: Path) -> None:
    missing = f"{location.uri} is missing; the artifact was deleted or never finished uploading"
    try:
        response = s3.get_object(
            Bucket=location.bucket, Key=location.artifact_key, ChecksumMode="ENABLED"
        )
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            raise invalid(missing) from None
        raise
    digest = hashlib.sha256()
    with open(target, "wb") as handle:
        for chunk in response["Body"].iter_chunks(CHUNK):
            digest.update(chunk)
            handle.write(chunk)
    actual = digest.hexdigest()
    if actual != location.sha256:
        raise invalid(
            f"{location.uri} fails its checksum (sha256 {actual[:12]}..., expected "
            f"{location.sha256[:12]}... from {location.latest_key}); the artifact was modified"
        )
    stored = response.get("ChecksumSHA256")
    if stored and "-" not in stored and base64.b64decode(stored).hex() != actual:
        raise invalid(f"{location.uri} does not match S3's own SHA-256 checksum")


def find_artifact(s3: S3Client, bucket: str, pipeline: str, commit: str) -> ArtifactLocation | None:
    """The commit's artifact, or None when it has none yet (its ``latest.json`` is absent)."""
    with s3_call(s3, f"looking for the artifact of {commit[:12]} in s3://{bucket}/"):
        try:
            s3.head_object(Bucket=bucket, Key=latest_key(pipeline, commit))
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
    return ArtifactLocation.from_latest(s3, bucket, pipeline, commit)


def require_digest(location: ArtifactLocation, expected: str | None) -> None:
    """StageError(ARTIFACT_INVALID) unless the artifact is the one whose SHA-256 the run's
    build stage reported (``expected``; None: no digest to hold it to)."""
    if expected is None or expected == location.sha256:
        return
    raise invalid(
        f"the artifact of commit {location.commit[:12]} is not the one this run built: "
        f"{location.latest_key} names sha256 {location.sha256[:12]}..., the build made "
        f"{expected[:12]}...; it was replaced after the build. Run the pipeline again for "
        "a new commit"
    )


def download_artifact(
    s3: S3Client,
    bucket: str,
    pipeline: str,
    commit: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
) -> Path:
    """Download the commit's artifact, verify it, extract it into ``dest``; return ``dest``.

    StageError(ARTIFACT_INVALID) when there is no artifact, it is not the one whose digest
    is ``expected_sha256`` (the build stage's output), the tarball or any file fails its
    checksum, or the tarball holds unsafe entries; StageError(AWS_FAILED) when S3 fails.
    """
    return download_verified(s3, bucket, pipeline, commit, dest, expected_sha256=expected_sha256)[0]


def download_verified(
    s3: S3Client,
    bucket: str,
    pipeline: str,
    commit: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
) -> tuple[Path, ArtifactManifest]:
    """:func:`download_artifact`, also returning the manifest the tree was verified with
    (its ``created`` is the commit's committer time)."""
    target = Path(dest).absolute()
    location = ArtifactLocation.from_latest(s3, bucket, pipeline, commit)
    require_digest(location, expected_sha256)
    scratch = target.parent / f".{target.name}.download"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        tarball = scratch / ARTIFACT_FILE
        with s3_call(s3, f"downloading {location.uri}"):
            _download(s3, location, tarball)
            raw = get_bytes(
                s3,
                bucket,
                location.manifest_key,
                f"s3://{bucket}/{location.manifest_key} is missing",
            )
        try:
            manifest = ArtifactManifest.from_json(raw)
        except ValueError as error:
            raise invalid(
                f"s3://{bucket}/{location.manifest_key} is not a manifest: {error}"
            ) from None
        if manifest.commit and manifest.commit != commit:
            raise invalid(f"the artifact at {location.uri} was built from {manifest.commit}")
        extract_artifact(tarball, target, manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target, manifest
