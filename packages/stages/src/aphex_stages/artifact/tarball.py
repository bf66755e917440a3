"""The deterministic tarball: packing selected files with a per-file SHA-256 manifest, and
extracting it safely (nothing outside the destination, every file checked).

The tarball's bytes depend only on the selected files (content, path, executable bit,
symlink targets), ``commit`` and ``created``: entries are sorted, owners zeroed, mtimes
and the gzip header time fixed at the epoch.
"""

from __future__ import annotations

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

from aphex_stages.artifact.selection import select_files
from aphex_stages.errors import ExitCode, StageError

MANIFEST_PATH = ".aphex/manifest.json"  # the manifest's path inside the tarball

CHUNK = 1024 * 1024
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


# -- manifest -------------------------------------------------------------------------------


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
            if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
                raise ValueError(f"manifest entry {path!r} has no SHA-256")
        if not all(isinstance(target, str) for target in links.values()):
            raise ValueError("manifest link targets must be strings")
        return cls(
            files=dict(files),
            links=dict(links),
            commit=str(document.get("commit", "")),
            created=str(document.get("created", "")),
        )


# -- packaging ------------------------------------------------------------------------------


def _link_target_inside(path: str, target: str) -> bool:
    if not target or target.startswith("/"):
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return joined != ".." and not joined.startswith("../") and not joined.startswith("/")


_MAX_HOPS = 40  # as the kernel's limit on nested symlinks


def _resolve(
    parts: Sequence[str], start: tuple[str, ...], links: Mapping[str, str], hops: int
) -> tuple[str, ...] | None:
    """Walk `parts` from the folder `start` of the tree as the OS would, following every
    link of `links` (path -> target) at each step; the resolved path, or None when it
    leaves the tree (or loops)."""
    stack = list(start)
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                return None
            stack.pop()
            continue
        stack.append(part)
        target = links.get("/".join(stack))
        if target is None:
            continue
        if hops >= _MAX_HOPS or not target or target.startswith("/"):
            return None
        stack.pop()
        resolved = _resolve(target.split("/"), tuple(stack), links, hops + 1)
        if resolved is None:
            return None
        stack = list(resolved)
    return tuple(stack)


def links_escaping(links: Mapping[str, str]) -> list[str]:
    """The symlinks of a tree (path -> target) that resolve outside it once every link is
    followed: ``l -> .`` then ``u -> l/..`` looks inside as text but is the tree's parent."""
    escaping = []
    for path, target in sorted(links.items()):
        if target.startswith("/"):
            escaping.append(path)
            continue
        folder = tuple(path.split("/")[:-1])
        if _resolve(target.split("/"), folder, links, 1) is None:
            escaping.append(path)
    return escaping


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
            _check_member_name(path, packaging=True)
            source = root / path
            info = source.lstat()
            if stat.S_ISLNK(info.st_mode):
                link = os.readlink(source)
                real = Path(os.path.realpath(source))
                if not _link_target_inside(path, link) or (
                    real != root and root not in real.parents
                ):
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
        escaping = links_escaping(links)
        if escaping:
            raise StageError(
                ExitCode.ARTIFACT_INVALID,
                f"symlink {escaping[0]} -> {links[escaping[0]]} leads outside the workspace"
                " (or loops) through other symlinks",
                details=escaping,
            )
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
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- safe extraction --------------------------------------------------------------------------


def invalid(message: str, details: Sequence[str] = ()) -> StageError:
    """StageError(ARTIFACT_INVALID): the artifact is missing, modified or unsafe."""
    return StageError(ExitCode.ARTIFACT_INVALID, message, details=details)


def _check_member_name(name: str, packaging: bool = False) -> None:
    """A plain relative POSIX path: no NUL, no backslash, no ``..``, nothing absolute. The
    build refuses such a file by the same rule the environment stages extract by."""
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or posixpath.normpath(name) != name
        or name == ".."
        or name.startswith("../")
    ):
        if packaging:
            raise StageError(
                ExitCode.ARTIFACT_INVALID,
                f"the workspace file {name!r} cannot go in an artifact (a backslash, NUL or"
                " '..' in its name); rename it, or leave it out with build.artifacts",
            )
        raise invalid(f"artifact entry {name!r} is not a plain relative path; refusing it")


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> str:
    """Write one regular file (no following of links, no replacing); return its SHA-256."""
    source = tar.extractfile(member)
    if source is None:
        raise invalid(f"artifact entry {member.name!r} has no content")
    path = dest / member.name
    path.parent.mkdir(parents=True, exist_ok=True)
    parent, root = path.parent.resolve(), dest.resolve()
    if parent != root and root not in parent.parents:
        raise invalid(f"artifact entry {member.name!r} would be written outside {dest}")
    mode = 0o755 if member.mode & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    digest = hashlib.sha256()
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as handle:
        for chunk in iter(lambda: source.read(CHUNK), b""):
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
                    raise invalid(f"artifact entry {name!r} appears twice")
                seen.add(name)
                parents = name.split("/")[:-1]
                if any("/".join(parents[: i + 1]) in links for i in range(len(parents))):
                    raise invalid(f"artifact entry {name!r} goes through a symlink; refusing it")
                if member.isdir():
                    (dest / name).mkdir(parents=True, exist_ok=True)
                elif member.issym():
                    if not _link_target_inside(name, member.linkname):
                        raise invalid(
                            f"artifact symlink {name!r} -> {member.linkname!r} leaves the artifact"
                        )
                    if manifest.links.get(name) != member.linkname:
                        raise invalid(f"artifact symlink {name!r} does not match the manifest")
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
                        raise invalid(f"artifact entry {name!r} is not in the manifest")
                    actual = _write_member(tar, member, dest)
                    if actual != expected:
                        raise invalid(
                            f"artifact file {name!r} fails its checksum (sha256 {actual[:12]}..., "
                            f"manifest {expected[:12]}...); the artifact was modified"
                        )
                else:
                    raise invalid(f"artifact entry {name!r} is a link or device; refusing it")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as error:
        raise invalid(f"cannot read the artifact {tarball.name}: {error}") from None
    escaping = links_escaping(manifest.links)
    if escaping:
        raise invalid(
            f"artifact symlink {escaping[0]!r} -> {manifest.links[escaping[0]]!r} leaves the"
            " artifact through other symlinks",
            details=escaping,
        )
    missing = sorted((set(manifest.files) | set(manifest.links)) - seen)
    if missing:
        raise invalid(
            f"{len(missing)} manifest entries are missing from the artifact", details=missing[:20]
        )
    if inner is None:
        raise invalid(f"the artifact has no {MANIFEST_PATH}")
    try:
        same = ArtifactManifest.from_json(inner) == manifest
    except ValueError:
        same = False
    if not same:
        raise invalid(f"{MANIFEST_PATH} in the artifact differs from the manifest beside it")
