"""`aphex redeploy SHA --reason WHY`: a Workflow of the pipeline's template, submitted to the
(fake) API server over HTTP, whose redeploy parameters name who asked and why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from aphex_stages.cli import main
from aphex_stages.cluster.kube import HOST_ENV
from aphex_testing.fake_kube import FakeKube, fake_kube_server

CONFIG = """\
version: 1
pipeline:
  name: shop
  namespace: ci
  repository: https://github.com/acme/shop.git
build:
  commands: ["true"]
environments:
  - name: dev
    account: "111111111111"
    region: us-east-1
    stacks: [{name: AppStack}]
"""


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """A repository with two commits: the second one is where the pipeline stands."""
    path = tmp_path / "shop"
    handle = git.Repo.init(path, initial_branch="main")
    with handle.config_writer() as writer:
        writer.set_value("user", "email", "dev@acme.example")
        writer.set_value("user", "name", "Dev")
    shas = []
    for text in ("one\n", "two\n"):
        (path / "aphex-config.yaml").write_text(CONFIG)
        (path / "NOTES").write_text(text)
        handle.index.add(["aphex-config.yaml", "NOTES"])
        shas.append(handle.index.commit(text.strip()).hexsha)
    return path, shas


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKube]:
    with fake_kube_server() as fake:
        monkeypatch.setenv(HOST_ENV, fake.url)
        yield fake


def test_redeploy_submits_a_run_that_names_who_asked_and_why(
    repo: tuple[Path, list[str]], server: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    path, (older, _newer) = repo
    argv = ["redeploy", older[:10], "--repo", str(path), "--reason", "two broke checkout"]
    assert main([*argv, "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["commit"] == older and result["namespace"] == "ci"
    assert result["by"] == "dev@acme.example"  # git's user.email by default
    assert result["workflow"].startswith(f"shop-{older[:12]}-redeploy-")
    stored = server.get("workflows", "ci", result["workflow"])
    assert stored is not None
    assert stored["spec"]["workflowTemplateRef"] == {"name": "shop"}
    assert {p["name"]: p["value"] for p in stored["spec"]["arguments"]["parameters"]} == {
        "commit-sha": older,
        "repo-url": "https://github.com/acme/shop.git",
        "redeploy-by": "dev@acme.example",
        "redeploy-reason": "two broke checkout",
    }
    assert stored["metadata"]["labels"]["aphex.io/commit"] == older


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--reason", ""], 2, "--reason must be one line of 1 to 1000 characters"),
        (["--reason", "a\nb"], 2, "--reason must be one line"),
        (["--reason", "x", "--by", "x" * 201], 2, "--by must be one line of 1 to 200"),
        (["--reason", "x", "--images"], 2, "--images and --aws-endpoint need --local"),
    ],
)
def test_bad_redeploy_requests_are_usage_errors(
    repo: tuple[Path, list[str]],
    server: FakeKube,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    code: int,
    message: str,
) -> None:
    path, (older, _newer) = repo
    assert main(["redeploy", older, "--repo", str(path), *extra]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert server.objects("workflows", "ci") == []


def test_an_unknown_commit_or_a_missing_reason_fails_clearly(
    repo: tuple[Path, list[str]], server: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = repo
    assert main(["redeploy", "deadbeef", "--repo", str(path), "--reason", "x"]) == 1
    assert "no commit 'deadbeef'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["redeploy", "deadbeef", "--repo", str(path)])
    assert caught.value.code == 2
    assert "--reason" in capsys.readouterr().err
