"""Warm starts: console scripts forked from a fork server behave like fresh processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aphex_stages.local.commands import is_own_script, resolve_program, search_path
from aphex_stages.local.warm import PRELOAD, WarmLauncher, warm_enabled
from aphex_stages.process import kill_group

SCRIPTS = """
import json, os, subprocess, sys, time

def report():
    print(json.dumps({
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "own_session": os.getsid(0) == os.getpid(),
        "seen": os.environ.get("WARM_SEEN"),
        "parent_only": os.environ.get("WARM_PARENT_ONLY"),
        "stdin": sys.stdin.read(),
    }))
    print("to stderr", file=sys.stderr)
    return 3

def sleeper():
    child = subprocess.Popen(["sleep", "60"])
    print(child.pid, flush=True)
    time.sleep(60)

def crash():
    raise RuntimeError("boom")
"""


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmLauncher]:
    folder = tmp_path_factory.mktemp("scripts")
    (folder / "warm_scripts.py").write_text(textwrap.dedent(SCRIPTS))
    sys.path.insert(0, str(folder))  # the fork server gets this sys.path
    os.environ["WARM_PARENT_ONLY"] = "leaked"
    names = {"report": "warm_scripts:report", "sleeper": "warm_scripts:sleeper"}
    names["crash"] = "warm_scripts:crash"
    yield WarmLauncher(preload=["warm_scripts"], scripts=names)
    os.environ.pop("WARM_PARENT_ONLY", None)


def test_a_warm_script_gets_its_own_argv_folder_env_session_and_log(
    launcher: WarmLauncher, tmp_path: Path
) -> None:
    log = tmp_path / "task.log"
    process = launcher.start(
        "report", ["--flag", "a b"], env={"WARM_SEEN": "yes"}, cwd=tmp_path, log_path=log
    )
    assert process.wait(timeout=60) == 3
    first, second = log.read_text().splitlines()
    assert json.loads(first) == {
        "argv": ["report", "--flag", "a b"],
        "cwd": str(tmp_path),
        "own_session": True,
        "seen": "yes",
        "parent_only": None,
        "stdin": "",
    }
    assert second == "to stderr"


def test_an_exception_is_exit_code_1_with_the_traceback_in_the_log(
    launcher: WarmLauncher, tmp_path: Path
) -> None:
    log = tmp_path / "crash.log"
    process = launcher.start("crash", [], env={}, cwd=tmp_path, log_path=log)
    assert process.wait(timeout=60) == 1
    assert "RuntimeError: boom" in log.read_text()


def test_a_timeout_then_kill_group_stops_the_script_and_its_children(
    launcher: WarmLauncher, tmp_path: Path
) -> None:
    log = tmp_path / "sleeper.log"
    process = launcher.start(
        "sleeper", [], env={"PATH": os.environ["PATH"]}, cwd=tmp_path, log_path=log
    )
    deadline = time.monotonic() + 30
    while not (log.is_file() and log.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(log.read_text().split()[0])
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)
    kill_group(process, grace=5.0)
    assert process.wait(timeout=5) == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(")")[-1].split()[0] != "Z"  # a zombie is dead, awaiting its reaper


def test_an_unknown_script_is_refused(launcher: WarmLauncher, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="not an AphexPipeline console script"):
        launcher.start("nope", [], env={}, cwd=tmp_path, log_path=tmp_path / "x.log")


def test_only_this_installations_console_scripts_start_warm(tmp_path: Path) -> None:
    path = search_path()
    assert is_own_script("aphex-stage-build", resolve_program("aphex-stage-build", str(tmp_path)))
    elsewhere = tmp_path / "aphex-stage-build"
    elsewhere.write_text("#!/bin/sh\n")
    elsewhere.chmod(0o755)
    assert not is_own_script("aphex-stage-build", [str(elsewhere)])
    assert not is_own_script("python3", resolve_program("python3", path))


def test_the_preload_is_the_stages_modules_and_the_switch() -> None:
    assert "aphex_stages.stages.environment" in PRELOAD
    assert "aphex_monitoring.cli" in PRELOAD
    assert PRELOAD[-2:] == [
        "aphex_stages.local.warm_botocore",
        "aphex_stages.local.warm_validators",
    ]
    assert warm_enabled({}) and warm_enabled({"APHEX_LOCAL_WARM": "1"})
    assert not warm_enabled({"APHEX_LOCAL_WARM": "0"})
    assert not warm_enabled({"APHEX_LOCAL_WARM": "false"})


def test_warm_botocore_parses_each_data_file_once(tmp_path: Path) -> None:
    import botocore.loaders

    original = botocore.loaders.JSONFileLoader.load_file
    try:
        from aphex_stages.local import warm_botocore

        files = len(warm_botocore._parsed)
        assert files >= len(warm_botocore.SERVICES)  # a model per service, and endpoints
        import boto3

        boto3.session.Session(region_name="us-east-1").client("s3")
        assert len(warm_botocore._parsed) == files  # nothing parsed again
    finally:
        botocore.loaders.JSONFileLoader.load_file = original  # type: ignore[method-assign]


def test_warm_validators_compiles_them_in_the_fork_server() -> None:
    """Importing the module compiles every validator (in a fresh interpreter, as the fork
    server does): a forked pipeline stage then finds them in the caches."""
    import subprocess
    import sys

    code = (
        "from aphex_generator.validation.structural import crd_validator, argo_validator;"
        "before = crd_validator.cache_info().currsize;"
        "import aphex_stages.local.warm_validators;"
        "print(before, crd_validator.cache_info().currsize, argo_validator.cache_info().currsize)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    before, crd, argo = map(int, done.stdout.split())
    assert (before, crd) == (0, 1) and argo >= 2
