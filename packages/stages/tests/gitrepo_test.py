"""aphex_stages.gitrepo against real git repositories (file:// and an HTTPS git server)."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from aphex_stages.errors import ExitCode, StageError
from aphex_stages.gitrepo import GitCredentials, clone_commit, ssh_command
from aphex_testing.gitrepos import git, make_remote, sample_files, serve_https
from aphex_testing.moto_server import free_port

TOKEN = "tok-Zq81xLw0PpE4rT7y"


@pytest.fixture()
def remote(tmp_path: Path):
    repo = make_remote(tmp_path / "origin", sample_files())
    return repo


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            found.append(path)
    return found


def test_checks_out_exactly_one_commit_at_depth_one(remote, tmp_path):
    first = remote.sha
    second = remote.push_commit({"README.md": "v2\n"})
    remote.push_commit({"README.md": "v3\n"})

    checkout = clone_commit(remote.url, second, tmp_path / "co")

    assert checkout.commit == second
    assert git(checkout.path, "rev-parse", "HEAD").strip() == second
    assert git(checkout.path, "rev-list", "--count", "HEAD").strip() == "1"
    assert (checkout.path / ".git" / "shallow").read_text().strip() == second
    assert (checkout.path / "README.md").read_text() == "v2\n"
    assert git(checkout.path, "status", "--porcelain").strip() == ""
    detached = subprocess.run(["git", "-C", str(checkout.path), "symbolic-ref", "-q", "HEAD"])
    assert detached.returncode == 1  # HEAD is detached: no branch was created
    assert checkout.committed_at.tzinfo is not None
    # An older commit, not a branch tip, is fetched by SHA too.
    older = clone_commit(remote.url, first, tmp_path / "older")
    assert git(older.path, "rev-parse", "HEAD").strip() == first


def test_bad_sha_is_a_usage_error(remote, tmp_path):
    with pytest.raises(StageError) as caught:
        clone_commit(remote.url, "HEAD", tmp_path / "co")
    assert caught.value.code is ExitCode.USAGE


def test_sha_not_in_repository_names_the_commit_and_what_to_do(remote, tmp_path):
    missing = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(StageError) as caught:
        clone_commit(remote.url, missing, tmp_path / "co")
    assert caught.value.code is ExitCode.GIT_FAILED
    assert f"commit {missing} not found in {remote.url}" in caught.value.cause
    assert "push it" in caught.value.cause


def test_missing_repository_is_a_git_failure(tmp_path):
    with pytest.raises(StageError) as caught:
        clone_commit((tmp_path / "nope.git").as_uri(), "a" * 40, tmp_path / "co")
    assert caught.value.code is ExitCode.GIT_FAILED


def test_credentials_in_the_url_are_refused(tmp_path):
    with pytest.raises(StageError) as caught:
        clone_commit("https://user:secret@example.com/a.git", "a" * 40, tmp_path / "co")
    assert caught.value.code is ExitCode.USAGE
    assert "secret" not in caught.value.cause


def test_server_refusing_sha_wants_falls_back_to_tips_and_history(remote, tmp_path, monkeypatch):
    # Protocol v0 without allowReachableSHA1InWant: the client may not ask for a bare SHA.
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'protocol.version'='0'")
    old = remote.sha
    tip = remote.push_commit({"README.md": "tip\n"})
    at_tip = clone_commit(remote.url, tip, tmp_path / "tip")
    assert git(at_tip.path, "rev-parse", "HEAD").strip() == tip
    deep = clone_commit(remote.url, old, tmp_path / "deep")
    assert git(deep.path, "rev-parse", "HEAD").strip() == old
    with pytest.raises(StageError) as caught:
        clone_commit(remote.url, "f" * 40, tmp_path / "none")
    assert caught.value.code is ExitCode.GIT_FAILED
    assert "not found" in caught.value.cause


def test_private_https_repository_with_a_mounted_token(remote, tmp_path, monkeypatch, caplog):
    token_file = tmp_path / "secret" / "token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN + "\n")
    with serve_https(tmp_path / "srv", token=TOKEN) as server:
        monkeypatch.setenv("GIT_SSL_CAINFO", str(server.ca_file))
        url = server.publish(remote.bare)

        with caplog.at_level(logging.DEBUG):
            checkout = clone_commit(
                url, remote.sha, tmp_path / "co", credentials=GitCredentials(token_file=token_file)
            )
        assert git(checkout.path, "rev-parse", "HEAD").strip() == remote.sha
        assert server.authorizations, "the token was sent as HTTP Basic auth"
        config = (checkout.path / ".git" / "config").read_text()
        assert TOKEN not in config and "extraheader" not in config.lower()
        assert git(checkout.path, "remote", "get-url", "origin").strip() == url
        assert _files_containing(checkout.path, TOKEN.encode()) == []
        assert TOKEN not in caplog.text
        assert not list(Path(tempfile.gettempdir()).glob("aphex-git-auth-*/askpass.sh"))

        # Without the token: a clear authentication failure, no prompt, no hang.
        started = time.monotonic()
        with pytest.raises(StageError) as caught:
            clone_commit(url, remote.sha, tmp_path / "anon", credentials=GitCredentials())
        assert time.monotonic() - started < 20
        assert caught.value.code is ExitCode.GIT_FAILED
        assert "authentication" in caught.value.cause
        assert "APHEX_GIT_TOKEN_FILE" in caught.value.cause


def test_unreadable_token_file_is_a_usage_error(remote, tmp_path):
    creds = GitCredentials(token_file=tmp_path / "absent")
    with pytest.raises(StageError) as caught:
        clone_commit(remote.url, remote.sha, tmp_path / "co", credentials=creds)
    assert caught.value.code is ExitCode.USAGE
    assert "APHEX_GIT_TOKEN_FILE" in caught.value.cause


def test_transient_network_errors_are_retried_then_fail_clearly(tmp_path, caplog):
    url = f"https://localhost:{free_port()}/app.git"  # nothing listens there
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(StageError) as caught:
        clone_commit(url, "a" * 40, tmp_path / "co", attempts=3, backoff=0.05)
    assert time.monotonic() - started < 20
    assert caught.value.code is ExitCode.GIT_FAILED
    assert "cannot reach" in caught.value.cause
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2


def test_ssh_command_uses_only_the_key_and_quotes_its_path(tmp_path):
    key = tmp_path / "my keys" / "id; rm -rf x"
    command = ssh_command(key)
    assert shlex.split(command) == [
        "ssh",
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        "BatchMode=yes",
    ]


def test_ssh_key_from_a_0644_secret_mount_is_used_through_a_private_copy(tmp_path, monkeypatch):
    # ssh itself is exercised up to key loading: it refuses a 0644 key, so the copy must be 0600.
    # GIT_SSH_COMMAND is wrapped to record the key's mode while git runs, then call nothing.
    key = tmp_path / "secret" / "ssh-privatekey"
    key.parent.mkdir()
    key.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    key.chmod(0o644)
    record = tmp_path / "seen"
    fake_ssh = tmp_path / "bin" / "ssh"
    fake_ssh.parent.mkdir()
    fake_ssh.write_text(
        '#!/bin/sh\nwhile [ "$1" != "-i" ]; do shift; done\n'
        f'stat -c %a "$2" > {shlex.quote(str(record))}\necho "fatal: no ssh here" >&2\nexit 128\n'
    )
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_ssh.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(StageError) as caught:
        clone_commit(
            "ssh://git@example.invalid/acme/app.git",
            "a" * 40,
            tmp_path / "co",
            credentials=GitCredentials(ssh_key_file=key),
            attempts=1,
        )
    assert caught.value.code is ExitCode.GIT_FAILED
    assert record.read_text().strip() == "600"
    assert not list(tmp_path.glob("co/**/ssh-privatekey"))


def test_dest_must_be_empty(remote, tmp_path):
    dest = tmp_path / "co"
    dest.mkdir()
    (dest / "x").write_text("x")
    with pytest.raises(StageError):
        clone_commit(remote.url, remote.sha, dest)
