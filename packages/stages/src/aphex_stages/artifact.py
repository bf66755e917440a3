"""The build artifact: a reproducible tar.gz with a manifest, kept in S3 per commit.

Layout in the artifact bucket (``<ts>`` is the upload time, ``YYYYMMDDTHHMMSSffffffZ``)::

    <pipeline>/<sha>/<ts>/artifact.tar.gz     the tarball (S3 SHA-256 checksum)
    <pipeline>/<sha>/<ts>/manifest.json       the manifest, also inside as .aphex/manifest.json
    <pipeline>/<sha>/<ts>/<name>              files added later (upload_beside): outputs, tests
    <pipeline>/<sha>/latest.json              which <ts> is current; written last

An upload never overwrites an earlier one (fresh timestamp, ``If-None-Match: *``); only
``latest.json`` moves. A download checks the tarball's SHA-256 against ``latest.json``
and S3's checksum, and every file against the manifest, and extracts nothing outside
the destination.

The tarball's bytes depend only on the selected files (content, path, executable bit,
symlink targets), ``commit`` and ``created``: entries are sorted, owners zeroed, mtimes
and the gzip header time fixed at the epoch.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import stat
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from aphex_stages.errors import ExitCode, StageError

__all__ = [
    "ARTIFACT_FILE",
    "LATEST_FILE",
    "MANIFEST_FILE",
    "MANIFEST_PATH",
    "ArtifactLocation",
    "ArtifactManifest",
    "check_bucket",
    "download_artifact",
    "extract_artifact",
    "latest_key",
    "package_artifact",
    "s3_client",
    "select_files",
    "sha256_file",
    "upload_artifact",
    "upload_beside",
]

ARTIFACT_FILE = "artifact.tar.gz"
MANIFEST_FILE = "manifest.json"
LATEST_FILE = "latest.json"
MANIFEST_PATH = ".aphex/manifest.json"  # the manifest's path inside the tarball

S3Client = Any  # boto3's S3 client (no stubs in the runtime image)

_CHUNK = 1024 * 1024
_TIMESTAMP = "%Y%m%dT%H%M%S%fZ"
_BESIDE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_RESERVED = frozenset({ARTIFACT_FILE, MANIFEST_FILE})
_SHA256 = re.compile(r"[0-9a-f]{64}")


# -- S3 client and errors --------------------------------------------------------------------


def s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    max_attempts: int | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
) -> S3Client:
    """An S3 client with standard retries: ``max_attempts`` tries in all per call (default
    ``$AWS_MAX_ATTEMPTS`` or 5), connect and read timeouts.

    The endpoint defaults to ``$AWS_ENDPOINT_URL`` (boto3 reads it), path-style addressing
    is used when an endpoint is set (a moto server).
    """
    attempts = max_attempts or int(os.environ.get("AWS_MAX_ATTEMPTS") or 5)
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"} if endpoint else None,
    )
    region_name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=region_name or "us-east-1", config=config
    )


def _endpoint(s3: S3Client) -> str:
    return str(getattr(s3.meta, "endpoint_url", "") or "S3")


@contextlib.contextmanager
def _s3_call(s3: S3Client, what: str) -> Iterator[None]:
    """Map botocore failures (after boto3's own retries) to StageError(AWS_FAILED)."""
    try:
        yield
    except StageError:
        raise
    except (BotoConnectionError, HTTPClientError) as error:
        raise StageError(
            ExitCode.AWS_FAILED,
            f"cannot reach S3 at {_endpoint(s3)}: {error}; check AWS_ENDPOINT_URL/network",
        ) from None
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise StageError(
            ExitCode.AWS_FAILED, f"{what}: no usable AWS credentials ({error})"
        ) from None
    except ClientError as error:
        info = error.response.get("Error", {})
        code, message = info.get("Code", "Error"), info.get("Message", "")
        hint = "; check APHEX_ARTIFACT_BUCKET" if code == "NoSuchBucket" else ""
        raise StageError(
            ExitCode.AWS_FAILED, f"{what} failed: {code}: {message}{hint}".rstrip(": ")
        ) from None
    except BotoCoreError as error:
        raise StageError(ExitCode.AWS_FAILED, f"{what} failed: {error}") from None


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def check_bucket(s3: S3Client, bucket: str) -> None:
    """Fail early, before any work, when the artifact bucket is unreachable or absent."""
    with _s3_call(s3, f"checking the artifact bucket s3://{bucket}"):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            if _error_code(error) in ("404", "NoSuchBucket", "NotFound"):
                raise StageError(
                    ExitCode.AWS_FAILED,
                    f"the artifact bucket s3://{bucket} does not exist; check APHEX_ARTIFACT_BUCKET",
                ) from None
            raise


# -- manifest and location ----------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactManifest:
    """What the artifact holds: ``files`` maps each path to its SHA-256, ``links`` to a target."""

    files: Mapping[str, str]
    commit: str
    created: str
    links: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Canonical JSON (sorted keys): equal manifests give equal bytes."""
        document = {
            "commit": self.commit,
            "created": self.created,
            "files": dict(sorted(self.files.items())),
            "links": dict(sorted(self.links.items())),
            "version": 1,
        }
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> ArtifactManifest:
        """Parse a manifest; raise ValueError if it is not one."""
        document = json.loads(data)
        if not isinstance(document, dict):
            raise ValueError("manifest is not a JSON object")
        files, links = document.get("files"), document.get("links", {})
        if not isinstance(files, dict) or not isinstance(links, dict):
            raise ValueError("manifest files/links are not objects")
        for path, digest in files.items():
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise ValueError(f"manifest entry {path!r} has no SHA-256")
        if not all(isinstance(target, str) for target in links.values()):
            raise ValueError("manifest link targets must be strings")
        return cls(
            files=dict(files),
            links=dict(links),
            commit=str(document.get("commit", "")),
            created=str(document.get("created", "")),
        )


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
        with _s3_call(s3, f"reading s3://{bucket}/{key}"):
            body = _get_bytes(
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
        if not prefix.startswith(f"{pipeline}/{commit}/") or not _SHA256.fullmatch(location.sha256):
            raise StageError(
                ExitCode.ARTIFACT_INVALID,
                f"s3://{bucket}/{key} points outside {pipeline}/{commit}/ or has no SHA-256",
            )
        return location


def latest_key(pipeline: str, commit: str) -> str:
    """``<pipeline>/<sha>/latest.json``."""
    return f"{pipeline}/{commit}/{LATEST_FILE}"


def _get_bytes(s3: S3Client, bucket: str, key: str, missing: str) -> bytes:
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
    except ClientError as error:
        if _error_code(error) in ("NoSuchKey", "404"):
            raise StageError(ExitCode.ARTIFACT_INVALID, missing) from None
        raise


# -- selecting and packaging ----------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob (``*``, ``?``, ``[...]``, ``**`` across directories) to a regex."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _normalise_pattern(pattern: str) -> str:
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.rstrip("/")
    parts = text.split("/")
    if not text or text.startswith("/") or ".." in parts:
        raise StageError(
            ExitCode.ARTIFACT_INVALID,
            f"artifact pattern {pattern!r} must be a relative path without '..'",
        )
    return text


def _walk(root: Path) -> list[tuple[str, os.stat_result]]:
    """Every regular file and symlink under ``root`` (not into ``.git``), relative, sorted."""
    found: list[tuple[str, os.stat_result]] = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        keep: list[str] = []
        for name in sorted(dirnames):
            path = here / name
            if name == ".git":
                continue
            if path.is_symlink():
                found.append((path.relative_to(root).as_posix(), path.lstat()))
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            path = here / name
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                found.append((path.relative_to(root).as_posix(), info))
    found.sort(key=lambda item: item[0])
    return found


def select_files(workspace: Path, patterns: Sequence[str] | None) -> list[str]:
    """Relative paths (sorted) of the files and symlinks that ``patterns`` select.

    ``None`` selects the whole tree minus ``.git``. A pattern selects the paths it matches
    and everything under a directory it matches; ``**`` spans directories. A pattern that
    selects nothing is an error (StageError(ARTIFACT_INVALID)): the build did not produce it.
    """
    entries = [path for path, _ in _walk(Path(workspace))]
    if patterns is None:
        return entries
    compiled = [(pattern, _glob_regex(_normalise_pattern(pattern))) for pattern in patterns]
    used: set[str] = set()
    selected: list[str] = []
    for path in entries:
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        hit = False
        for pattern, regex in compiled:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                used.add(pattern)
                hit = True
        if hit:
            selected.append(path)
    unused = [pattern for pattern, _ in compiled if pattern not in used]
    if unused:
        raise StageError(
            ExitCode.ARTIFACT_INVALID,
            "artifact pattern"
            + ("s " if len(unused) > 1 else " ")
            + ", ".join(repr(p) for p in unused)
            + " matched no file in the workspace; did the build write it?",
        )
    return selected


def _link_target_inside(path: str, target: str) -> bool:
    if not target or target.startswith("/"):
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return joined != ".." and not joined.startswith("../") and not joined.startswith("/")


class _HashingReader(io.RawIOBase):
    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        return data


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def package_artifact(
    workspace: Path,
    patterns: Sequence[str] | None,
    out_file: Path,
    *,
    commit: str = "",
    created: datetime | None = None,
) -> ArtifactManifest:
    """Write the selected files of ``workspace`` to the tar.gz ``out_file``; return the manifest.

    ``patterns`` as in :func:`select_files`. The manifest (files and their SHA-256, symlinks,
    ``commit``, ``created`` (default: now)) is the tarball's last entry,
    ``.aphex/manifest.json``. Symlinks must stay inside the selection's tree.
    """
    root = Path(workspace).absolute()
    target = Path(out_file).absolute()
    if target == root or root in target.parents:
        raise ValueError(f"out_file {target} must be outside the workspace {root}")
    paths = select_files(root, patterns)
    if MANIFEST_PATH in paths:
        raise StageError(
            ExitCode.ARTIFACT_INVALID,
            f"the workspace has a file at {MANIFEST_PATH}, a reserved path",
        )
    when = (created or datetime.now(UTC)).astimezone(UTC)
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(target, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as packed,
        tarfile.open(fileobj=cast(IO[bytes], packed), mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in paths:
            source = root / path
            info = source.lstat()
            if stat.S_ISLNK(info.st_mode):
                link = os.readlink(source)
                if not _link_target_inside(path, link):
                    raise StageError(
                        ExitCode.ARTIFACT_INVALID,
                        f"symlink {path} -> {link} points outside the workspace",
                    )
                entry = _info(path, tarfile.SYMTYPE, 0o777)
                entry.linkname = link
                tar.addfile(entry)
                links[path] = link
                continue
            mode = 0o755 if info.st_mode & 0o111 else 0o644
            with open(source, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                reader = _HashingReader(handle)
                tar.addfile(_info(path, tarfile.REGTYPE, mode, size), reader)  # type: ignore[arg-type]
            files[path] = reader.digest.hexdigest()
        manifest = ArtifactManifest(
            files=files,
            links=links,
            commit=commit,
            created=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        document = manifest.to_json()
        tar.addfile(
            _info(MANIFEST_PATH, tarfile.REGTYPE, 0o644, len(document)), io.BytesIO(document)
        )
    return manifest


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- upload --------------------------------------------------------------------------------


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
        if _error_code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
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

    Earlier uploads are never replaced. Raises StageError(AWS_FAILED) when S3 fails after
    boto3's retries.
    """
    digest = sha256_file(tarball)
    checksum = base64.b64encode(bytes.fromhex(digest)).decode("ascii")
    size = tarball.stat().st_size
    with _s3_call(s3, f"uploading the artifact to s3://{bucket}/{pipeline}/{commit}/"):
        for _ in range(5):
            now = datetime.now(UTC)
            prefix = f"{pipeline}/{commit}/{now.strftime(_TIMESTAMP)}/"
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
        s3.put_object(
            Bucket=bucket,
            Key=location.latest_key,
            Body=location.to_json(),
            ChecksumAlgorithm="SHA256",
            ContentType="application/json",
        )
    return location


def _beside_key(location: ArtifactLocation, name: str) -> str:
    parts = name.split("/")
    if not all(_BESIDE_NAME.fullmatch(part) for part in parts) or name in _RESERVED:
        raise ValueError(f"invalid name beside the artifact: {name!r}")
    return location.key(name)


def read_beside(
    s3: S3Client, bucket: str, location: ArtifactLocation, name: str, *, missing: str
) -> bytes:
    """The object stored at ``name`` beside the tarball; StageError(ARTIFACT_INVALID, missing)
    when there is none."""
    key = _beside_key(location, name)
    with _s3_call(s3, f"reading s3://{bucket}/{key}"):
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if _error_code(error) in ("NoSuchKey", "404"):
                raise _invalid(f"{missing} (s3://{bucket}/{key})") from None
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
    key = _beside_key(location, name)
    with _s3_call(s3, f"uploading s3://{bucket}/{key}"):
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


# -- download and safe extraction -------------------------------------------------------------


def _invalid(message: str, details: Sequence[str] = ()) -> StageError:
    return StageError(ExitCode.ARTIFACT_INVALID, message, details=details)


def _check_member_name(name: str) -> None:
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or posixpath.normpath(name) != name
        or name == ".."
        or name.startswith("../")
    ):
        raise _invalid(f"artifact entry {name!r} is not a plain relative path; refusing it")


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> str:
    """Write one regular file (no following of links, no replacing); return its SHA-256."""
    source = tar.extractfile(member)
    if source is None:
        raise _invalid(f"artifact entry {member.name!r} has no content")
    path = dest / member.name
    path.parent.mkdir(parents=True, exist_ok=True)
    parent, root = path.parent.resolve(), dest.resolve()
    if parent != root and root not in parent.parents:
        raise _invalid(f"artifact entry {member.name!r} would be written outside {dest}")
    mode = 0o755 if member.mode & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    digest = hashlib.sha256()
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as handle:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
            handle.write(chunk)
    os.chmod(path, mode)
    return digest.hexdigest()


def extract_artifact(tarball: Path, dest: Path, manifest: ArtifactManifest) -> None:
    """Extract ``tarball`` into ``dest`` (absent or empty), checking it against ``manifest``.

    Refused with StageError(ARTIFACT_INVALID): absolute or ``..`` paths, hard links, devices,
    symlinks leaving the tree, paths through a symlink, duplicates, files not in the manifest
    or with another SHA-256, manifest entries missing from the tarball. On refusal ``dest`` is
    left empty.
    """
    dest = Path(dest).absolute()
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _extract(tarball, dest, manifest)
    except BaseException:
        for child in dest.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        raise


def _extract(tarball: Path, dest: Path, manifest: ArtifactManifest) -> None:
    seen: set[str] = set()
    links: set[str] = set()
    inner: bytes | None = None
    try:
        with tarfile.open(tarball, mode="r:gz") as tar:
            for member in tar:
                name = member.name
                _check_member_name(name)
                if name in seen:
                    raise _invalid(f"artifact entry {name!r} appears twice")
                seen.add(name)
                parents = name.split("/")[:-1]
                if any("/".join(parents[: i + 1]) in links for i in range(len(parents))):
                    raise _invalid(f"artifact entry {name!r} goes through a symlink; refusing it")
                if member.isdir():
                    (dest / name).mkdir(parents=True, exist_ok=True)
                elif member.issym():
                    if not _link_target_inside(name, member.linkname):
                        raise _invalid(
                            f"artifact symlink {name!r} -> {member.linkname!r} leaves the artifact"
                        )
                    if manifest.links.get(name) != member.linkname:
                        raise _invalid(f"artifact symlink {name!r} does not match the manifest")
                    (dest / name).parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(member.linkname, dest / name)
                    links.add(name)
                elif member.isreg():
                    if name == MANIFEST_PATH:
                        source = tar.extractfile(member)
                        inner = source.read() if source is not None else b""
                        (dest / name).parent.mkdir(parents=True, exist_ok=True)
                        (dest / name).write_bytes(inner)
                        continue
                    expected = manifest.files.get(name)
                    if expected is None:
                        raise _invalid(f"artifact entry {name!r} is not in the manifest")
                    actual = _write_member(tar, member, dest)
                    if actual != expected:
                        raise _invalid(
                            f"artifact file {name!r} fails its checksum (sha256 {actual[:12]}..., "
                            f"manifest {expected[:12]}...); the artifact was modified"
                        )
                else:
                    raise _invalid(f"artifact entry {name!r} is a link or device; refusing it")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as error:
        raise _invalid(f"cannot read the artifact {tarball.name}: {error}") from None
    missing = sorted((set(manifest.files) | set(manifest.links)) - seen)
    if missing:
        raise _invalid(
            f"{len(missing)} manifest entries are missing from the artifact", details=missing[:20]
        )
    if inner is None:
        raise _invalid(f"the artifact has no {MANIFEST_PATH}")
    try:
        same = ArtifactManifest.from_json(inner) == manifest
    except ValueError:
        same = False
    if not same:
        raise _invalid(f"{MANIFEST_PATH} in the artifact differs from the manifest beside it")


def _download(s3: S3Client, location: ArtifactLocation, target: Path) -> None:
    missing = f"{location.uri} is missing; the artifact was deleted or never finished uploading"
    try:
        response = s3.get_object(
            Bucket=location.bucket, Key=location.artifact_key, ChecksumMode="ENABLED"
        )
    except ClientError as error:
        if _error_code(error) in ("NoSuchKey", "404"):
            raise _invalid(missing) from None
        raise
    digest = hashlib.sha256()
    with open(target, "wb") as handle:
        for chunk in response["Body"].iter_chunks(_CHUNK):
            digest.update(chunk)
            handle.write(chunk)
    actual = digest.hexdigest()
    if actual != location.sha256:
        raise _invalid(
            f"{location.uri} fails its checksum (sha256 {actual[:12]}..., expected "
            f"{location.sha256[:12]}... from {location.latest_key}); the artifact was modified"
        )
    stored = response.get("ChecksumSHA256")
    if stored and "-" not in stored and base64.b64decode(stored).hex() != actual:
        raise _invalid(f"{location.uri} does not match S3's own SHA-256 checksum")


def download_artifact(s3: S3Client, bucket: str, pipeline: str, commit: str, dest: Path) -> Path:
    """Download the commit's current artifact, verify it, extract it into ``dest``; return ``dest``.

    StageError(ARTIFACT_INVALID) when there is no artifact, the tarball or any file fails
    its checksum, or the tarball holds unsafe entries; StageError(AWS_FAILED) when S3 fails.
    """
    target = Path(dest).absolute()
    location = ArtifactLocation.from_latest(s3, bucket, pipeline, commit)
    scratch = target.parent / f".{target.name}.download"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        tarball = scratch / ARTIFACT_FILE
        with _s3_call(s3, f"downloading {location.uri}"):
            _download(s3, location, tarball)
            raw = _get_bytes(
                s3,
                bucket,
                location.manifest_key,
                f"s3://{bucket}/{location.manifest_key} is missing",
            )
        try:
            manifest = ArtifactManifest.from_json(raw)
        except ValueError as error:
            raise _invalid(
                f"s3://{bucket}/{location.manifest_key} is not a manifest: {error}"
            ) from None
        if manifest.commit and manifest.commit != commit:
            raise _invalid(f"the artifact at {location.uri} was built from {manifest.commit}")
        extract_artifact(tarball, target, manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
