"""The build pod's hand-over: what the build container packages into the folder it shares
with the upload container (``BUILD_OUTPUT_MOUNT``), and how the upload reads it back.

The folder holds two files, named here and nowhere else::

    artifact.tar.gz    the tarball (package_artifact)
    packaged.json      its SHA-256 and size, the commit, and the artifact's manifest

``packaged.json`` is written last (atomically): once it is there the tarball is complete.
The build container has no AWS identity, so the upload container trusts nothing it did not
check: the tarball must have the digest and size ``packaged.json`` names, for this commit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aphex_generator import ARTIFACT_FILE, BUILD_OUTPUT_MOUNT, EnvVar
from aphex_stages.artifact.tarball import SHA256_HEX, ArtifactManifest, invalid, sha256_file
from aphex_stages.jsonfile import write_json_atomically

__all__ = [
    "PACKAGED_FILE",
    "TARBALL_FILE",
    "PackagedArtifact",
    "build_output_dir",
    "read_packaged",
    "write_packaged",
]

#: The packaged tarball in the shared folder.
TARBALL_FILE = ARTIFACT_FILE
#: What the build says it packaged (written last).
PACKAGED_FILE = "packaged.json"


def build_output_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The shared folder: ``EnvVar.BUILD_OUTPUT`` (the template sets it), else the mount."""
    env = os.environ if environ is None else environ
    return Path(env.get(EnvVar.BUILD_OUTPUT) or BUILD_OUTPUT_MOUNT)


@dataclass(frozen=True)
class PackagedArtifact:
    """A packaged tarball's digest, size and manifest, as the build container wrote them."""

    commit: str
    sha256: str
    size: int
    manifest: ArtifactManifest

    def to_json(self) -> dict[str, object]:
        """The document of ``packaged.json``."""
        return {
            "version": 1,
            "commit": self.commit,
            "sha256": self.sha256,
            "size": self.size,
            "manifest": json.loads(self.manifest.to_json()),
        }

    @classmethod
    def from_json(cls, data: bytes | str) -> PackagedArtifact:
        """Parse ``packaged.json``; ValueError if it is not one."""
        document = json.loads(data)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        digest, size = document.get("sha256"), document.get("size")
        if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
            raise ValueError("no SHA-256 of the tarball")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("no size of the tarball")
        return cls(
            commit=str(document.get("commit", "")),
            sha256=digest,
            size=size,
            manifest=ArtifactManifest.from_json(json.dumps(document.get("manifest"))),
        )


def write_packaged(folder: Path, manifest: ArtifactManifest) -> PackagedArtifact:
    """Record the tarball at ``folder/TARBALL_FILE`` (already packaged) in ``packaged.json``."""
    tarball = folder / TARBALL_FILE
    packaged = PackagedArtifact(
        commit=manifest.commit,
        sha256=sha256_file(tarball),
        size=tarball.stat().st_size,
        manifest=manifest,
    )
    write_json_atomically(folder / PACKAGED_FILE, packaged.to_json(), sort_keys=True)
    return packaged


def read_packaged(folder: Path, commit: str) -> tuple[Path, PackagedArtifact]:
    """The tarball and its record, checked: StageError(ARTIFACT_INVALID) when either is
    missing or unreadable, names another commit, or the tarball's SHA-256 or size is not the
    one recorded."""
    record, tarball = folder / PACKAGED_FILE, folder / TARBALL_FILE
    try:
        packaged = PackagedArtifact.from_json(record.read_bytes())
    except FileNotFoundError:
        raise invalid(
            f"the build packaged nothing: no {record} (did the build container run and succeed?)"
        ) from None
    except (OSError, ValueError) as error:
        raise invalid(f"{record} is not a packaged artifact: {error}") from None
    if packaged.commit != commit or packaged.manifest.commit != commit:
        raise invalid(
            f"{record} is for commit {packaged.commit[:12]}, not {commit[:12]}; refusing to"
            " upload it"
        )
    if not tarball.is_file():
        raise invalid(f"the build packaged nothing: no {tarball}")
    digest = sha256_file(tarball)
    size = tarball.stat().st_size
    if digest != packaged.sha256 or size != packaged.size:
        raise invalid(
            f"{tarball} does not match {PACKAGED_FILE}: sha256 {digest[:12]}... ({size} bytes),"
            f" recorded {packaged.sha256[:12]}... ({packaged.size} bytes); refusing to upload it"
        )
    return tarball, packaged
