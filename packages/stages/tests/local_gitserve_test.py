"""A local run's git server: the stages clone the repository over HTTP, as a pod does."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from aphex_stages.errors import StageError
from aphex_stages.gitrepo import GitCredentials, clone_commit
from aphex_stages.inputs import check_repository
from aphex_stages.local.gitserve import repository_name, serve_repository
from aphex_testing.gitrepos import commit, make_repo, sample_files

LOG = logging.getLogger("test")


@pytest.fixture()
def work(tmp_path: Path) -> tuple[Path, str, str]:
    repo, first = make_repo(tmp_path / "my app", sample_files())
    second = commit(repo, {"README.md": "v2\n"})
    return repo, first, second


def test_the_stage_checks_out_an_older_commit_over_http(work, tmp_path: Path) -> None:
    repo, first, _second = work
    with serve_repository(repo) as (_server, url):
        assert url.endswith("/local/my-app.git") and repository_name(repo) == "local/my-app.git"
        assert check_repository(url) == url
        checkout = clone_commit(url, first, tmp_path / "co", log=LOG)
    assert checkout.path.joinpath("aphex-config.yaml").is_file()
    head = subprocess.run(
        ["git", "-C", str(checkout.path), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    assert head.stdout.strip() == first


def test_a_token_is_required_when_set(work, tmp_path: Path, monkeypatch) -> None:
    repo, first, _ = work
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-123\n")
    with serve_repository(repo, token="s3cret-token-123") as (_server, url):
        with pytest.raises(StageError) as refused:
            clone_commit(url, first, tmp_path / "none", log=LOG, credentials=GitCredentials())
        assert "authentication" in refused.value.cause
        creds = GitCredentials(token_file=token_file)
        checkout = clone_commit(url, first, tmp_path / "ok", log=LOG, credentials=creds)
    assert checkout.path.joinpath("aphex-config.yaml").is_file()


def test_pushes_and_other_paths_are_refused(work, tmp_path: Path) -> None:
    repo, _, _ = work
    clone = tmp_path / "clone"
    with serve_repository(repo) as (server, url):
        subprocess.run(["git", "clone", "-q", url, str(clone)], check=True)
        (clone / "x").write_text("x")
        subprocess.run(["git", "-C", str(clone), "add", "x"], check=True)
        subprocess.run(
            [
                "git",
                "-C",
                str(clone),
                "-c",
                "user.name=a",
                "-c",
                "user.email=a@b",
                "commit",
                "-qm",
                "x",
            ],
            check=True,
        )
        push = subprocess.run(
            ["git", "-C", str(clone), "push", "-q", url, "HEAD:main"], capture_output=True
        )
        assert push.returncode != 0
        missing = subprocess.run(["git", "ls-remote", server.url("other.git")], capture_output=True)
        assert missing.returncode != 0


@pytest.mark.parametrize("url", ["http://example.com/app.git", "http://localhost.evil/x"])
def test_plain_http_is_refused_beyond_this_machine(url: str) -> None:
    with pytest.raises(StageError):
        check_repository(url)
