"""The local run's folder ignores itself; uncommitted changes are named before a run."""

from __future__ import annotations

from pathlib import Path

import git

from aphex_stages.local.layout import LocalPaths, uncommitted_files


def _repo(path: Path) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    (path / "app.py").write_text("print('v1')\n")
    repo.index.add(["app.py"])
    actor = git.Actor("a", "a@example.com")
    repo.index.commit("first", author=actor, committer=actor)
    return repo


def test_the_aphex_folder_ignores_itself(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "app")
    paths = LocalPaths.of(tmp_path / "app")
    paths.create()
    (paths.root / "cluster.json").write_text("{}")
    assert repo.git.status("--porcelain") == ""
    assert uncommitted_files(tmp_path / "app") == (0, [])


def test_uncommitted_changes_are_named(tmp_path: Path) -> None:
    _repo(tmp_path / "app")
    (tmp_path / "app" / "app.py").write_text("print('v2')\n")
    for index in range(6):
        (tmp_path / "app" / f"new{index}.txt").write_text("x")
    count, shown = uncommitted_files(tmp_path / "app", limit=3)
    assert count == 7 and len(shown) == 3
    assert "app.py" in shown
