"""The app's toolchain: installed once per key into a shared cache, then reused."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from aphex_config import Toolchain
from aphex_generator import EnvVar
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.toolchain import prepare_toolchain, toolchain_key

LOG = logging.getLogger("test")
# An install that records each run, and makes a folder on PATH and one to link.
INSTALL = (
    "echo run >> ../installs.log && mkdir -p bin lib/mods && cp tool.txt lib/mods/ && "
    "printf '#!/bin/sh\\necho from-toolchain\\n' > bin/apptool && chmod +x bin/apptool"
)


def toolchain(**changes: object) -> Toolchain:
    data = {"files": ["tool.txt"], "install": [INSTALL], "path": ["bin"], "link": ["lib/mods"]}
    data.update(changes)
    return Toolchain.model_validate(data)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "tool.txt").write_text("v1\n")
    return app


def env(cache: Path) -> dict[str, str]:
    return {**os.environ, EnvVar.TOOLCHAIN_CACHE: str(cache)}


def test_installs_once_then_reuses_for_another_tree(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = prepare_toolchain(toolchain(), tree, log=LOG, environ=env(cache))
    assert first is not None and not first.reused
    tool = subprocess.run(["apptool"], env=dict(first.environ), capture_output=True, text=True)
    assert tool.stdout.strip() == "from-toolchain"
    assert (tree / "lib/mods").is_symlink() and (tree / "lib/mods/tool.txt").read_text() == "v1\n"

    other = tmp_path / "other-app"  # the next environment's copy of the same commit
    other.mkdir()
    (other / "tool.txt").write_text("v1\n")
    second = prepare_toolchain(toolchain(), other, log=LOG, environ=env(cache))
    assert second is not None and second.reused and second.folder == first.folder
    assert (cache / "installs.log").read_text().count("run") == 1


def test_a_changed_file_or_command_is_a_new_key(tree: Path, tmp_path: Path) -> None:
    environ = env(tmp_path / "cache")
    key = toolchain_key(toolchain(), tree, environ)
    (tree / "tool.txt").write_text("v2\n")
    assert toolchain_key(toolchain(), tree, environ) != key
    assert toolchain_key(toolchain(install=["true", INSTALL]), tree, environ) != key


def test_concurrent_environments_install_once(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    slow = toolchain(install=["sleep 1", INSTALL])
    trees = []
    for index in range(3):
        copy = tmp_path / f"app{index}"
        copy.mkdir()
        (copy / "tool.txt").write_text("v1\n")
        trees.append(copy)
    threads = [
        threading.Thread(
            target=prepare_toolchain, args=(slow, t), kwargs={"log": LOG, "environ": env(cache)}
        )
        for t in trees
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (cache / "installs.log").read_text().count("run") == 1
    assert all((t / "lib/mods/tool.txt").is_file() for t in trees)


def test_a_failed_install_leaves_nothing_half_made(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    broken = toolchain(
        install=[
            "mkdir bin && echo partial > bin/x",
            [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        ]
    )
    with pytest.raises(StageError) as failed:
        prepare_toolchain(broken, tree, log=LOG, environ=env(cache))
    assert failed.value.code is ExitCode.COMMAND_FAILED
    assert "toolchain install command 2" in failed.value.cause and "boom" in failed.value.cause
    assert [p.name for p in cache.iterdir() if p.is_dir()] == []


def test_a_missing_file_is_a_config_error(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(StageError) as missing:
        prepare_toolchain(toolchain(files=["absent.txt"]), tree, log=LOG, environ=env(tmp_path))
    assert missing.value.code is ExitCode.CONFIG_INVALID and "absent.txt" in missing.value.cause


def test_without_a_toolchain_nothing_happens(tree: Path) -> None:
    assert prepare_toolchain(None, tree, log=LOG) is None
