"""`aphex` refuses bad arguments as usage errors: exit 2, one line on stderr, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest

from aphex_stages.cli import main


@pytest.mark.parametrize(
    "endpoint",
    ["not a url", "ftp://host", "http://", "http://host:99999", "http://host/path", "http://u@h"],
)
def test_a_bad_aws_endpoint_is_a_usage_error(
    endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "--local", ".", "--aws-endpoint", endpoint])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--aws-endpoint: not an endpoint URL" in err and "Traceback" not in err


def test_runs_without_runs_is_still_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = git.Repo.init(tmp_path / "app", initial_branch="main")
    (tmp_path / "app" / "README").write_text("x\n")
    repo.index.add(["README"])
    repo.index.commit("first", author=git.Actor("a", "a@b"), committer=git.Actor("a", "a@b"))
    assert main(["runs", "list", "--repo", str(tmp_path / "app"), "-o", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert main(["runs", "list", "--repo", str(tmp_path / "app")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no local runs yet" in captured.err
