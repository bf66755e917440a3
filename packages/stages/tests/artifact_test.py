"""aphex_stages.artifact: reproducible packaging, S3 layout, verification, safe extraction.

S3 is a real moto server over HTTP (``aws_env``); nothing is stubbed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aphex_stages.artifact import (
    MANIFEST_PATH,
    ArtifactLocation,
    ArtifactManifest,
    download_artifact,
    extract_artifact,
    find_artifact,
    links_escaping,
    package_artifact,
    read_beside,
    s3_client,
    select_files,
    upload_artifact,
    upload_beside,
)
from aphex_stages.errors import ExitCode, StageError
from aphex_testing import pytest_plugin
from aphex_testing.moto_server import free_port

# The moto harness's fixtures, by name.
aws_env = pytest_plugin.aws_env
moto_server = pytest_plugin.moto_server
unique_name = pytest_plugin.unique_name

SHA = "0123456789abcdef0123456789abcdef01234567"
CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_tree(root: Path, *, mtime: float = 1_700_000_000, extra_mode: int = 0) -> Path:
    files = {
        "app.py": "print('app')\n",
        "cdk.json": '{"app": "python3 app.py"}\n',
        "dist/lib/a.js": "a\n",
        "dist/lib/b.js": "b\n",
        "dist/README": "r\n",
        "bin/run": "#!/bin/sh\necho run\n",
        "src/pkg/__init__.py": "",
        "src/pkg/x.py": "X = 1\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        "naïve/ünïcode.txt": "u\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644 | extra_mode)
        os.utime(path, (mtime, mtime))
    (root / "bin/run").chmod(0o755)
    (root / "dist/current").symlink_to("lib")
    return root


@pytest.fixture()
def s3(aws_env):
    return s3_client()


@pytest.fixture()
def bucket(s3, unique_name):
    name = unique_name("art")
    s3.create_bucket(Bucket=name)
    return name


def package(
    tmp_path: Path, name: str, patterns=None, extra: str | None = None, **tree
) -> tuple[Path, ArtifactManifest]:
    root = make_tree(tmp_path / f"{name}-tree", **tree)
    if extra is not None:  # a tree that differs from the others
        (root / "extra.txt").write_text(extra)
    out = tmp_path / f"{name}.tar.gz"
    manifest = package_artifact(root, patterns, out, commit=SHA, created=CREATED)
    return out, manifest


# -- packaging --------------------------------------------------------------------------------


def test_same_tree_gives_identical_bytes(tmp_path):
    first, _ = package(tmp_path, "one")
    old_umask = os.umask(0o002)
    try:
        second, _ = package(tmp_path, "two", mtime=1_600_000_000, extra_mode=0o020)
    finally:
        os.umask(old_umask)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime


def test_tar_entries_are_sorted_owned_by_nobody_and_dated_at_the_epoch(tmp_path):
    out, manifest = package(tmp_path, "a")
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[-1] == MANIFEST_PATH
    assert names[:-1] == sorted(names[:-1])
    assert ".git/HEAD" not in names
    for member in members:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (
            0,
            0,
            0,
            "",
            "",
        )
    modes = {m.name: m.mode for m in members}
    assert modes["bin/run"] == 0o755 and modes["app.py"] == 0o644
    link = next(m for m in members if m.name == "dist/current")
    assert link.issym() and link.linkname == "lib"
    assert manifest.links == {"dist/current": "lib"}
    assert manifest.files["app.py"] == hashlib.sha256(b"print('app')\n").hexdigest()
    assert manifest.commit == SHA and manifest.created == "2024-05-01T12:00:00Z"


def test_manifest_inside_the_tarball_is_the_manifest(tmp_path):
    out, manifest = package(tmp_path, "a")
    with tarfile.open(out) as tar:
        inner = tar.extractfile(MANIFEST_PATH).read()
    assert inner == manifest.to_json()
    document = json.loads(inner)
    assert set(document) >= {"files", "commit", "created"}


def test_patterns_select_with_double_star_and_directories(tmp_path):
    root = make_tree(tmp_path / "tree")
    assert select_files(root, ["dist/**"]) == [
        "dist/README",
        "dist/current",
        "dist/lib/a.js",
        "dist/lib/b.js",
    ]
    assert select_files(root, ["**/*.py"]) == ["app.py", "src/pkg/__init__.py", "src/pkg/x.py"]
    assert select_files(root, ["*.py", "bin"]) == ["app.py", "bin/run"]
    assert select_files(root, ["dist/lib/?.js", "cdk.json"]) == [
        "cdk.json",
        "dist/lib/a.js",
        "dist/lib/b.js",
    ]
    assert ".git/HEAD" not in select_files(root, None)


def test_a_pattern_matching_nothing_is_an_error(tmp_path):
    root = make_tree(tmp_path / "tree")
    with pytest.raises(StageError) as caught:
        select_files(root, ["dist/**", "build/**"])
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "'build/**'" in caught.value.cause


def test_symlinks_leaving_the_workspace_are_not_packaged(tmp_path):
    root = make_tree(tmp_path / "tree")
    (root / "escape").symlink_to("../../etc")
    with pytest.raises(StageError) as caught:
        package_artifact(root, None, tmp_path / "out.tar.gz", commit=SHA)
    assert "outside" in caught.value.cause


#: ``l -> .``, ``u1 -> l/..``, ``u2 -> u1/..``, ...: each inside the tree as text, together
#: the tree's parents; ``passwd`` then reads the host's /etc/passwd.
CHAIN = {"l": ".", "u1": "l/..", **{f"u{i}": f"u{i - 1}/.." for i in range(2, 7)}}
CHAIN["passwd"] = "u6/etc/passwd"


def test_a_chain_of_symlinks_leaving_the_workspace_is_not_packaged(tmp_path):
    root = make_tree(tmp_path / "tree")
    for name, target in CHAIN.items():
        (root / name).symlink_to(target)
    with pytest.raises(StageError) as caught:
        package_artifact(root, None, tmp_path / "out.tar.gz", commit=SHA)
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "outside the workspace" in caught.value.cause


def test_links_escaping_follows_links_as_the_os_does():
    assert links_escaping(CHAIN) == sorted(["passwd", *(f"u{i}" for i in range(1, 7))])
    inside = {"l": ".", "a": "l/dist", "b": "a/lib", "dist/current": "lib", "loop": "loop"}
    assert links_escaping(inside) == ["loop"]  # a loop never resolves


def test_a_backslash_file_is_refused_by_the_build_as_by_extraction(tmp_path):
    root = make_tree(tmp_path / "tree")
    (root / "back\\slash.txt").write_text("x")
    with pytest.raises(StageError) as caught:
        package_artifact(root, None, tmp_path / "out.tar.gz", commit=SHA)
    assert "back\\\\slash.txt" in caught.value.cause and "rename it" in caught.value.cause


# -- S3 -----------------------------------------------------------------------------------------


def record_puts(s3) -> list[str]:
    keys: list[str] = []
    s3.meta.events.register(
        "before-call.s3.PutObject", lambda params, **_: keys.append(params["url_path"])
    )
    return keys


def test_upload_layout_checksums_and_latest_written_last(tmp_path, s3, bucket):
    out, manifest = package(tmp_path, "a")
    puts = record_puts(s3)
    location = upload_artifact(s3, bucket, "demo", SHA, out, manifest)

    assert location.prefix.startswith(f"demo/{SHA}/")
    stamp = location.prefix.split("/")[2]
    assert datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ")
    assert [p.rsplit("/", 1)[-1] for p in puts] == [
        "artifact.tar.gz",
        "manifest.json",
        "latest.json",
    ]
    head = s3.head_object(Bucket=bucket, Key=location.artifact_key, ChecksumMode="ENABLED")
    digest = hashlib.sha256(out.read_bytes()).digest()
    assert head["ChecksumSHA256"] == base64.b64encode(digest).decode()
    assert location.sha256 == digest.hex()
    beside = s3.get_object(Bucket=bucket, Key=f"{location.prefix}manifest.json")["Body"].read()
    assert beside == manifest.to_json()
    latest = json.loads(s3.get_object(Bucket=bucket, Key=f"demo/{SHA}/latest.json")["Body"].read())
    assert latest["prefix"] == location.prefix and latest["sha256"] == digest.hex()
    assert ArtifactLocation.from_latest(s3, bucket, "demo", SHA) == location


def test_a_second_upload_keeps_the_first(tmp_path, s3, bucket):
    """Write-once: a second build of the commit (even of other files) does not replace its
    artifact; the second upload is told the first one's location."""
    out, manifest = package(tmp_path, "a")
    first = upload_artifact(s3, bucket, "demo", SHA, out, manifest)
    assert find_artifact(s3, bucket, "demo", SHA) == first
    other, other_manifest = package(tmp_path, "b", extra="rebuilt")
    second = upload_artifact(s3, bucket, "demo", SHA, other, other_manifest)
    assert second == first
    assert ArtifactLocation.from_latest(s3, bucket, "demo", SHA) == first
    tree = download_artifact(s3, bucket, "demo", SHA, tmp_path / "dest")
    assert not (tree / "extra.txt").exists()


def test_a_replaced_artifact_is_refused_against_the_builds_digest(tmp_path, s3, bucket):
    """An artifact swapped after the build (say at the prod gate), with a consistent
    latest.json and manifest, fails against the digest the run's build stage reported."""
    out, manifest = package(tmp_path, "a")
    built = upload_artifact(s3, bucket, "demo", SHA, out, manifest)
    assert find_artifact(s3, bucket, "demo", "f" * 40) is None
    swapped, swapped_manifest = package(tmp_path, "evil", extra="swapped")
    _publish(s3, bucket, swapped, swapped_manifest.to_json(), f"demo/{SHA}/20990101T000000000000Z/")
    # Without the build's digest the swap is self-consistent and would pass ...
    unchecked = download_artifact(s3, bucket, "demo", SHA, tmp_path / "unchecked")
    assert (unchecked / "extra.txt").read_text() == "swapped"
    # ... with it, it is refused before anything is extracted.
    with pytest.raises(StageError) as caught:
        download_artifact(s3, bucket, "demo", SHA, tmp_path / "dest", expected_sha256=built.sha256)
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "not the one this run built" in caught.value.cause
    assert not (tmp_path / "dest").exists()


def test_download_round_trip_and_upload_beside(tmp_path, s3, bucket):
    out, manifest = package(tmp_path, "a")
    location = upload_artifact(s3, bucket, "demo", SHA, out, manifest)
    tree = download_artifact(s3, bucket, "demo", SHA, tmp_path / "dest")
    assert (tree / "dist/lib/a.js").read_text() == "a\n"
    assert os.readlink(tree / "dist/current") == "lib"
    assert os.access(tree / "bin/run", os.X_OK)
    assert not (tree / ".git").exists()
    key = upload_beside(s3, bucket, location, "outputs.json", b'{"x": 1}')
    assert key == f"{location.prefix}outputs.json"
    with pytest.raises(ValueError):
        upload_beside(s3, bucket, location, "artifact.tar.gz", b"")
    nested = upload_beside(s3, bucket, location, "outputs/dev.json", b'{"y": 2}')
    assert nested == f"{location.prefix}outputs/dev.json"
    assert read_beside(s3, bucket, location, "outputs/dev.json", missing="none") == b'{"y": 2}'
    for bad in ("../x.json", "outputs/../x.json", "/x.json", "outputs//x.json"):
        with pytest.raises(ValueError):
            upload_beside(s3, bucket, location, bad, b"")
    with pytest.raises(StageError) as caught:
        read_beside(s3, bucket, location, "outputs/qa.json", missing="qa was never deployed")
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "qa was never deployed" in caught.value.cause


def test_no_artifact_for_the_commit(s3, bucket, tmp_path):
    with pytest.raises(StageError) as caught:
        download_artifact(s3, bucket, "demo", SHA, tmp_path / "dest")
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "did the build stage succeed" in caught.value.cause


def test_a_modified_object_in_s3_is_refused(tmp_path, s3, bucket):
    out, manifest = package(tmp_path, "a")
    location = upload_artifact(s3, bucket, "demo", SHA, out, manifest)
    s3.put_object(Bucket=bucket, Key=location.artifact_key, Body=out.read_bytes() + b"\0")
    with pytest.raises(StageError) as caught:
        download_artifact(s3, bucket, "demo", SHA, tmp_path / "dest")
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "fails its checksum" in caught.value.cause
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").iterdir())


def _retar(source: Path, target: Path, change) -> None:
    """Copy a tarball entry by entry, letting ``change(info, data)`` rewrite entries."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for info in old.getmembers():
            data = old.extractfile(info).read() if info.isreg() else None
            info, data = change(info, data)
            if data is not None:
                info.size = len(data)
            new.addfile(info, io.BytesIO(data) if data is not None else None)


def _publish(s3, bucket, tarball: Path, manifest_bytes: bytes, prefix: str) -> None:
    """Upload a (crafted) tarball with a consistent latest.json, as an attacker with write access."""
    data = tarball.read_bytes()
    s3.put_object(Bucket=bucket, Key=f"{prefix}artifact.tar.gz", Body=data)
    s3.put_object(Bucket=bucket, Key=f"{prefix}manifest.json", Body=manifest_bytes)
    latest = {"prefix": prefix, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    s3.put_object(Bucket=bucket, Key=f"demo/{SHA}/latest.json", Body=json.dumps(latest))


def test_modified_file_content_is_refused_against_the_manifest(tmp_path, s3, bucket):
    out, manifest = package(tmp_path, "a")

    def change(info, data):
        return info, (b"evil\n" if info.name == "app.py" else data)

    tampered = tmp_path / "tampered.tar.gz"
    _retar(out, tampered, change)
    _publish(s3, bucket, tampered, manifest.to_json(), f"demo/{SHA}/20990101T000000000000Z/")
    with pytest.raises(StageError) as caught:
        download_artifact(s3, bucket, "demo", SHA, tmp_path / "dest")
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "'app.py' fails its checksum" in caught.value.cause


@pytest.mark.parametrize(
    ("name", "kind", "linkname"),
    [
        ("../evil.txt", tarfile.REGTYPE, ""),
        ("/tmp/evil.txt", tarfile.REGTYPE, ""),
        ("dist/../../evil.txt", tarfile.REGTYPE, ""),
        ("up", tarfile.SYMTYPE, "../../outside"),
        ("abs", tarfile.SYMTYPE, "/etc/passwd"),
        ("hard", tarfile.LNKTYPE, "app.py"),
        ("dev", tarfile.CHRTYPE, ""),
    ],
)
def test_unsafe_entries_are_refused(tmp_path, name, kind, linkname):
    out, manifest = package(tmp_path, "a")
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(out) as tar:
        members = [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar]
    with tarfile.open(evil, "w:gz") as tar:
        extra = tarfile.TarInfo(name)
        extra.type = kind
        extra.linkname = linkname
        payload = b"pwned\n" if kind == tarfile.REGTYPE else None
        extra.size = len(payload) if payload else 0
        tar.addfile(extra, io.BytesIO(payload) if payload else None)
        for member, data in members:
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    dest = tmp_path / "deep" / "dest"
    with pytest.raises(StageError) as caught:
        extract_artifact(evil, dest, manifest)
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()
    assert list(dest.iterdir()) == []


def test_a_chain_of_symlinks_is_refused_at_extraction(tmp_path):
    """The same chain, crafted into a tarball with a matching manifest, extracts nothing."""
    out, manifest = package(tmp_path, "a")
    evil = tmp_path / "evil.tar.gz"
    links = {**manifest.links, **CHAIN}
    forged = ArtifactManifest(
        files=manifest.files, links=links, commit=manifest.commit, created=manifest.created
    )
    with tarfile.open(out) as tar, tarfile.open(evil, "w:gz") as new:
        for member in tar:
            if member.name == MANIFEST_PATH:
                continue
            new.addfile(member, tar.extractfile(member) if member.isreg() else None)
        for name, target in CHAIN.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            new.addfile(info)
        document = forged.to_json()
        info = tarfile.TarInfo(MANIFEST_PATH)
        info.size = len(document)
        new.addfile(info, io.BytesIO(document))
    dest = tmp_path / "dest"
    with pytest.raises(StageError) as caught:
        extract_artifact(evil, dest, forged)
    assert caught.value.code is ExitCode.ARTIFACT_INVALID
    assert "through other symlinks" in caught.value.cause
    assert list(dest.iterdir()) == []


def test_writing_through_a_symlink_is_refused(tmp_path):
    out, manifest = package(tmp_path, "a")
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(out) as tar:
        members = [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar]
    with tarfile.open(evil, "w:gz") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
        sneaky = tarfile.TarInfo("dist/current/a.js")  # dist/current -> lib
        sneaky.size = 2
        tar.addfile(sneaky, io.BytesIO(b"x\n"))
    with pytest.raises(StageError) as caught:
        extract_artifact(evil, tmp_path / "dest", manifest)
    assert "through a symlink" in caught.value.cause or "appears twice" in caught.value.cause


def test_s3_unreachable_is_retried_then_fails_clearly(monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = s3_client(endpoint_url=f"http://localhost:{port}", max_attempts=3, connect_timeout=1)
    attempts: list[str] = []
    client.meta.events.register("before-send.s3", lambda **_: attempts.append("x"))
    out, manifest = package(tmp_path, "a")
    started = time.monotonic()
    with pytest.raises(StageError) as caught:
        upload_artifact(client, "bucket-x", "demo", SHA, out, manifest)
    assert time.monotonic() - started < 15
    assert len(attempts) == 3
    assert caught.value.code is ExitCode.AWS_FAILED
    assert f"cannot reach S3 at http://localhost:{port}" in caught.value.cause
    assert "AWS_ENDPOINT_URL" in caught.value.cause
