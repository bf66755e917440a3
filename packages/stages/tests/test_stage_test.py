"""The test-execution stage end to end, with no stubs: the sample's post-deploy tests run
against stacks the environment stage deployed into a real moto server (over HTTP, with the
real CDK CLI), from artifacts the real build stage made from a real git repository.

The helpers, fixtures and commits A-D are those of ``environment_stage_test``; this module
has its own moto server and bootstrap (``cdk_moto`` is module-scoped).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from environment_stage_test import (
    SMOKE_JUNIT,
    Commits,
    StageRun,
    beside,
    cdk_cli,
    cdk_moto,
    commits,
    dev_a,
    run_stage,
    sample_venv,
    stage_env,
)

from aphex_config import TestSettings
from aphex_stages.errors import ExitCode
from aphex_stages.stages import environment, post_deploy
from aphex_stages.testrun import CommandOutcome, TestRun, find_reports, run_commands
from aphex_testing.cdk import CdkMoto

__all__ = ["cdk_cli", "cdk_moto", "commits", "dev_a", "sample_venv", "stage_env"]  # fixtures


TEST_TIMEOUT_SOURCE = "APHEX_TEST_TIMEOUT_SECONDS"


@pytest.fixture(scope="module")
def dev_b(commits: Commits, dev_a: tuple[StageRun, int]) -> StageRun:
    """The environment stage for dev at commit B (the same stacks: no changes)."""
    return run_stage(environment.main, commits.b, commits.url, "--environment", "dev")


# -- the stage, against moto --------------------------------------------------------------------------


def test_test_stage_runs_the_sample_tests_with_outputs_as_env_vars(
    cdk_moto: CdkMoto, commits: Commits, dev_a: tuple[StageRun, int]
) -> None:
    assert dev_a[0].code == 0
    run = run_stage(post_deploy.main, commits.a, commits.url, "--environment", "dev")
    assert run.code == 0, run.log
    assert "5 passed" in run.log
    stored = beside(cdk_moto, commits.a, "tests/dev/summary.json")
    assert stored is not None
    summary = json.loads(stored)
    assert summary["status"] == "passed" and summary["environment"] == "dev"
    (command,) = summary["commands"]
    assert command["command"] == "python3 -m pytest tests/post_deploy -q"
    assert command["exit_code"] == 0 and command["duration_seconds"] > 0
    assert any("5 passed" in line for line in command["tail"])
    # the test variables are in the log and kept in the summary
    bucket = summary["variables"]["STORAGE_STACK_BUCKET_NAME"]
    assert bucket and f"test variable STORAGE_STACK_BUCKET_NAME={bucket}" in run.log
    assert "MESSAGING_STACK_QUEUE_URL" in summary["variables"]


def test_failing_test_command_fails_the_stage_and_is_stored(
    cdk_moto: CdkMoto, commits: Commits, dev_b: StageRun
) -> None:
    assert dev_b.code == 0, dev_b.log
    run = run_stage(post_deploy.main, commits.b, commits.url, "--environment", "dev")
    assert run.code == 6, run.log
    cause = run.log.strip().splitlines()[-1]
    assert "test command 2/3 `echo" in cause and cause.endswith("exited 3")
    assert "smoke: the queue is empty" in run.log
    summary = json.loads(beside(cdk_moto, commits.b, "tests/dev/summary.json") or b"{}")
    assert summary["status"] == "failed"
    assert [c["status"] for c in summary["commands"]] == ["passed", "failed", "skipped"]
    assert [c["exit_code"] for c in summary["commands"]] == [0, 3, None]
    assert summary["reports"] == ["junit-smoke.xml", "tree/reports/junit-post-deploy.xml"]
    smoke = beside(cdk_moto, commits.b, "tests/dev/reports/junit-smoke.xml")
    assert smoke is not None and smoke.decode().strip() == SMOKE_JUNIT
    junit = beside(cdk_moto, commits.b, "tests/dev/reports/tree/reports/junit-post-deploy.xml")
    assert junit is not None and b'tests="5"' in junit


def test_test_timeout_stops_the_command(
    cdk_moto: CdkMoto, commits: Commits, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = run_stage(environment.main, commits.b, commits.url, "--environment", "prod")
    assert deployed.code == 0, deployed.log
    monkeypatch.setenv("APHEX_TEST_TIMEOUT_SECONDS", "2")
    run = run_stage(post_deploy.main, commits.b, commits.url, "--environment", "prod")
    assert run.code == 7, run.log
    assert "test command 1/1 `sleep 30` did not finish within the tests' timeout of 2 s" in run.log
    summary = json.loads(beside(cdk_moto, commits.b, "tests/prod/summary.json") or b"{}")
    assert summary["commands"][0]["status"] == "timed-out"
    # Stopped at its deadline, not waited for: `sleep 30` ran for about 2 s. (The stage's
    # own time also counts the toolchain's install, which a cold cache makes long.)
    assert summary["commands"][0]["duration_seconds"] < 15


def test_environment_without_tests_succeeds(commits: Commits) -> None:
    run = run_stage(post_deploy.main, commits.b, commits.url, "--environment", "qa")
    assert run.code == 0, run.log
    assert "qa has no tests in aphex-config.yaml; nothing to run" in run.log


def test_tests_without_a_deployment_are_refused(commits: Commits) -> None:
    run = run_stage(post_deploy.main, commits.b, commits.url, "--environment", "staging")
    assert run.code == 9, run.log
    assert (
        "no stack outputs of staging" in run.log and "did the environment stage succeed" in run.log
    )


# -- running commands (real subprocesses) ------------------------------------------------------


def test_commands_stop_at_the_first_failure(tmp_path: Path) -> None:
    outcomes = run_commands(
        [["python3", "-c", "print('one')"], "echo two; exit 4", ["python3", "-c", "print(3)"]],
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=60,
    )
    assert [o.status for o in outcomes] == ["passed", "failed", "skipped"]
    assert [o.exit_code for o in outcomes] == [0, 4, None]
    assert outcomes[0].tail == ("one",) and outcomes[1].tail == ("two",)
    run = TestRun(environment="dev", outcomes=outcomes, timeout_seconds=60)
    failure = run.failure()
    assert failure is not None and failure.code == ExitCode.COMMAND_FAILED
    assert failure.cause == "test command 2/3 `echo two; exit 4` exited 4"
    assert failure.details == ("two",)


def test_one_budget_for_all_commands(tmp_path: Path) -> None:
    started = time.monotonic()
    outcomes = run_commands(
        [["sleep", "0.5"], ["sleep", "30"], ["true"]], cwd=tmp_path, env=dict(os.environ), timeout=2
    )
    assert time.monotonic() - started < 6
    assert [o.status for o in outcomes] == ["passed", "timed-out", "skipped"]
    failure = TestRun("dev", outcomes, 2, TEST_TIMEOUT_SOURCE).failure()
    assert failure is not None and failure.code == ExitCode.TIMEOUT
    assert (
        "test command 2/3 `sleep 30` did not finish within the tests' timeout of 2 s"
        in failure.cause
    )
    assert TEST_TIMEOUT_SOURCE in failure.cause


def test_reports_are_the_reports_dir_and_new_junit_files(tmp_path: Path) -> None:
    tree, reports = tmp_path / "tree", tmp_path / "reports"
    (tree / "old").mkdir(parents=True)
    (tree / "old" / "junit-old.xml").write_text("<old/>")
    (tree / "node_modules" / "x").mkdir(parents=True)
    since = time.time()
    time.sleep(0.01)
    (tree / "node_modules" / "x" / "junit.xml").write_text("<skipped/>")
    (tree / "out").mkdir()
    (tree / "out" / "junit-unit.xml").write_text("<new/>")
    (tree / "out" / "other.xml").write_text("<other/>")
    (reports / "nested").mkdir(parents=True)
    (reports / "nested" / "suite.xml").write_text("<suite/>")
    found = find_reports(reports, tree, since)
    assert [name for name, _ in found] == ["nested/suite.xml", "tree/out/junit-unit.xml"]


def test_summary_is_json_with_every_command() -> None:
    outcome = CommandOutcome(1, "pytest", "passed", 0, 1.5, ("ok",))
    run = TestRun("dev", (outcome,), 300.0, reports=("junit.xml",))
    settings = TestSettings(commands=("pytest",))
    assert settings.timeout_minutes == 30
    from aphex_stages.environment_job import EnvironmentJob

    job = EnvironmentJob("shop", "0" * 40, "dev", "bucket", Path("/tmp"))
    summary = json.loads(json.dumps(run.summary(job)))
    assert summary["status"] == "passed" and summary["commit"] == "0" * 40
    assert summary["commands"] == [
        {
            "index": 1,
            "command": "pytest",
            "status": "passed",
            "exit_code": 0,
            "duration_seconds": 1.5,
            "tail": ["ok"],
            "failed_tests": [],
        }
    ]
    assert summary["reports"] == ["junit.xml"] and run.failure() is None
    assert summary["variables"] == {}
