"""Where a user's own application finds its tools: the CDK CLI it pins (else PATH, else
APHEX_CDK_CLI), and a PATH on which AphexPipeline's own interpreter never appears."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from aphex_stages.cdk import CdkCliNotFoundError, find_app_cdk_cli
from aphex_stages.local.commands import own_bin_folders, resolve_program, search_path


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_cdk_cli_is_the_repository_s_then_path_then_the_variable(tmp_path: Path) -> None:
    repo = tmp_path / "app" / "sub"
    repo.mkdir(parents=True)
    on_path = _executable(tmp_path / "bin" / "cdk")
    chosen = _executable(tmp_path / "chosen-cdk")
    env = {"PATH": str(on_path.parent), "APHEX_CDK_CLI": str(chosen)}

    assert find_app_cdk_cli(repo, env) == on_path
    assert find_app_cdk_cli(repo, {"PATH": "", "APHEX_CDK_CLI": str(chosen)}) == chosen
    pinned = _executable(tmp_path / "app" / "node_modules" / ".bin" / "cdk")  # above repo
    assert find_app_cdk_cli(repo, env) == pinned

    with pytest.raises(CdkCliNotFoundError, match="APHEX_CDK_CLI"):
        find_app_cdk_cli(tmp_path / "elsewhere", {"PATH": "", "APHEX_CDK_CLI": "/nope/cdk"})


def test_without_any_cdk_the_error_says_how_to_install_one(tmp_path: Path) -> None:
    # Last comes the pinned CLI of an AphexPipeline source checkout holding this code; an
    # installed aphex (site-packages, a Pants sandbox) has none, and then the error says
    # what to install.
    module = Path(sys.modules[find_app_cdk_cli.__module__].__file__ or "").resolve()
    checkout = [
        folder / "node_modules" / ".bin" / "cdk"
        for folder in module.parents
        if (folder / "node_modules" / ".bin" / "cdk").is_file()
    ]
    if checkout:
        assert find_app_cdk_cli(tmp_path, {"PATH": ""}) == checkout[0]
    else:
        with pytest.raises(CdkCliNotFoundError, match="npm install --save-dev aws-cdk"):
            find_app_cdk_cli(tmp_path, {"PATH": ""})


def test_a_task_s_path_never_holds_aphex_s_own_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_bin = tmp_path / "app-venv" / "bin"
    app_python = _executable(app_bin / "python3")
    own = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([own, str(app_bin), "/usr/bin"]))

    path = search_path()

    assert own not in path.split(os.pathsep)
    assert not set(path.split(os.pathsep)) & own_bin_folders()
    assert resolve_program("python3", path) == [str(app_python)]
    # AphexPipeline's own scripts are still found, through their table.
    assert resolve_program("aphex-stage-build", path)[0] == sys.executable
