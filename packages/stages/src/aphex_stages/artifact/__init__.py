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

Modules: ``keys`` (the key layout, :class:`ArtifactLocation`), ``selection`` (which
workspace files), ``tarball`` (packing, the manifest, safe extraction), ``s3`` (the client
and its errors), ``transfer`` (upload, files beside the artifact, download), ``packaged``
(the build pod's hand-over from its build container to its upload container).
"""

from __future__ import annotations

from aphex_stages.artifact.keys import ArtifactLocation
from aphex_stages.artifact.packaged import (
    PACKAGED_FILE,
    TARBALL_FILE,
    PackagedArtifact,
    build_output_dir,
    read_packaged,
    write_packaged,
)
from aphex_stages.artifact.s3 import check_bucket, s3_client
from aphex_stages.artifact.selection import select_files
from aphex_stages.artifact.tarball import (
    MANIFEST_PATH,
    ArtifactManifest,
    extract_artifact,
    links_escaping,
    package_artifact,
    sha256_file,
)
from aphex_stages.artifact.transfer import (
    download_artifact,
    download_verified,
    find_artifact,
    read_beside,
    require_digest,
    upload_artifact,
    upload_beside,
)

__all__ = [
    "MANIFEST_PATH",
    "PACKAGED_FILE",
    "TARBALL_FILE",
    "PackagedArtifact",
    "ArtifactLocation",
    "ArtifactManifest",
    "build_output_dir",
    "check_bucket",
    "download_artifact",
    "download_verified",
    "extract_artifact",
    "find_artifact",
    "links_escaping",
    "package_artifact",
    "read_beside",
    "read_packaged",
    "require_digest",
    "s3_client",
    "select_files",
    "sha256_file",
    "upload_artifact",
    "upload_beside",
    "write_packaged",
]
