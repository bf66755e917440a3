"""The `aphex` command's habits: errors on stderr, one exit code per kind of error across
commands, `-o json` always valid JSON, `aphex logs`, `aphex runs --status/--limit`, failure
summaries that keep the head of the cause, and progress lines without a terminal."""

from __future__ import annotations

import io
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git
import pytest

from aphex_monitoring import layout
from aphex_monitoring.records import RunRecord
from aphex_stages.cli import main
from aphex_stages.local.executor import CAUSE_CHARS, LocalWorkflow, RunResult, TaskState
from aphex_stages.local.layout import LocalPaths
from aphex_stages.local.progress import Progress, duration, still_running_line
from aphex_stages.local.session import LocalRunOptions, run_local
from aphex_stages.local.summary import render_summary
from aphex_stages.local.workflow import plan_from_template

ACTOR = git.Actor("a", "a@example.com")
PY = sys.executable


def make_repo(path: Path) -> Path:
    """A git repository with one commit and no aphex-config.yaml."""
    repo = git.Repo.init(path, initial_branch="main")
    (path / "README").write_text("x\n")
    repo.index.add(["README"])
    repo.index.commit("first", author=ACTOR, committer=ACTOR)
    return path


@pytest.fixture()
def places(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "plain").mkdir()
    return {"norepo": tmp_path / "plain", "repo": make_repo(tmp_path / "app")}


# -- exit codes and JSON errors, the same across commands ---------------------------------

#: (argv with {path}, where, exit code): a path that is not a repository and a repository
#: without a config are failures (1) everywhere; bad option combinations are usage (2).
CASES = [
    (["validate", "{path}/aphex-config.yaml"], "norepo", 1),
    (["validate", "{path}/aphex-config.yaml"], "repo", 1),
    (["render", "{path}/aphex-config.yaml"], "repo", 1),
    (["diff", "{path}"], "norepo", 1),
    (["diff", "{path}"], "repo", 1),
    (["runs", "--repo", "{path}"], "norepo", 1),
    (["runs", "show", "x-1", "--repo", "{path}"], "repo", 1),
    (["logs", "x-1", "--repo", "{path}"], "norepo", 1),
    (["logs", "x-1", "--repo", "{path}"], "repo", 1),
    (["run", "--local", "{path}"], "norepo", 1),
    (["run", "--local", "{path}"], "repo", 1),
    (["redeploy", "HEAD", "--reason", "r", "--local", "--repo", "{path}"], "norepo", 1),
    (["redeploy", "HEAD", "--reason", "r", "--local", "--repo", "{path}"], "repo", 1),
    (["runs", "show", "--repo", "{path}"], "repo", 2),
    (["runs", "list", "x-1", "--repo", "{path}"], "repo", 2),
    (["runs", "deployed", "--status", "Failed", "--repo", "{path}"], "repo", 2),
    (["run", "{path}"], "repo", 2),
    (["run", "--local", "{path}", "--engine", "podman"], "repo", 2),
]


@pytest.mark.parametrize(("argv", "where", "code"), CASES)
def test_the_same_case_exits_the_same_way_with_one_line_on_stderr(
    argv: list[str],
    where: str,
    code: int,
    places: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [a.replace("{path}", str(places[where])) for a in argv]
    assert main(args) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() and "Traceback" not in captured.err


JSON_CASES = [
    (["validate", "{path}/aphex-config.yaml"], 1),
    (["render", "{path}/aphex-config.yaml"], 1),
    (["diff", "{path}"], 1),
    (["runs", "show", "x-1", "--repo", "{path}"], 1),
    (["runs", "show", "--repo", "{path}"], 2),
    (["logs", "x-1", "--repo", "{path}"], 1),
    (["redeploy", "HEAD", "--reason", "r", "--repo", "{path}/nowhere"], 1),
]


@pytest.mark.parametrize(("argv", "code"), JSON_CASES)
def test_json_output_is_json_even_for_errors(
    argv: list[str], code: int, places: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("{path}", str(places["repo"])) for a in argv] + ["-o", "json"]
    assert main(args) == code
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    if "valid" in doc:  # validate: the JSON names each file's error
        assert doc["valid"] is False and doc["files"][0]["error"].startswith("cannot read")
    else:
        assert doc["error"] and doc["exit_code"] == code
        assert doc["error"] in captured.err


def test_a_usage_error_with_json_output_is_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["runs", "--limit", "0", "-o", "json"])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert "--limit" in json.loads(captured.out)["error"]
    assert "--limit" in captured.err


def test_run_local_writes_its_errors_to_stderr(places: dict[str, Path]) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_local(LocalRunOptions(repo=places["repo"], out=out, err=err)) == 1
    assert out.getvalue() == ""
    assert "aphex-config.yaml is not committed" in err.getvalue()


# -- runs --status / --limit ----------------------------------------------------------------

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def write_run(repo: Path, name: str, status: str, minutes: int) -> None:
    started = T0 + timedelta(minutes=minutes)
    record = RunRecord(
        pipeline="demo",
        workflow_name=name,
        status=status,
        started_at=started,
        finished_at=started + timedelta(minutes=1) if status != "Running" else None,
    )
    path = LocalPaths.of(repo).records / layout.run_key("demo", name, started)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.model_dump_json())


def test_runs_filters_by_status_newest_first_and_limits(
    places: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = places["repo"]
    for minutes, (name, status) in enumerate(
        [("demo-1", "Failed"), ("demo-2", "Succeeded"), ("demo-3", "Failed"), ("demo-4", "Running")]
    ):
        write_run(repo, name, status, minutes)
    base = ["runs", "list", "--repo", str(repo), "-o", "json"]
    assert main([*base, "--status", "failed"]) == 0
    assert [r["workflow_name"] for r in json.loads(capsys.readouterr().out)] == ["demo-3", "demo-1"]
    assert main([*base, "--limit", "2"]) == 0
    assert [r["workflow_name"] for r in json.loads(capsys.readouterr().out)] == ["demo-4", "demo-3"]
    assert main(["runs", "--repo", str(repo), "--status", "Running"]) == 0
    text = capsys.readouterr().out
    assert "demo-4" in text and "demo-3" not in text
    assert main(["runs", "show", "demo-9", "--repo", str(repo), "-o", "json"]) == 1
    captured = capsys.readouterr()
    assert "demo-9" in json.loads(captured.out)["error"] and "demo-9" in captured.err


# -- a real local run's folder: logs, summary, cause ----------------------------------------


def task_template(name: str, code: str) -> dict[str, Any]:
    return {"name": name, "container": {"image": "x", "command": [PY], "args": ["-c", code]}}


LONG = "deploy of stack DemoStack-dev failed: " + "x" * 400 + " THE-END"
FAILING = (
    "import sys; print('starting'); print('test variable DEMO_STACK_QUEUE_URL=http://q');"
    f" print({LONG!r}); sys.exit(3)"
)


def run_workflow(repo: Path, name: str = "demo-abc-1") -> RunResult:
    """A real run of a two-task DAG whose first task fails, kept where local runs keep theirs."""
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "demo"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "deploy", "template": "deploy"},
                            {"name": "after", "template": "after", "depends": "deploy"},
                        ]
                    },
                },
                task_template("deploy", FAILING),
                task_template("after", "print('never')"),
            ],
        },
    }
    paths = LocalPaths.of(repo)
    workflow = LocalWorkflow(
        plan_from_template(doc),
        workflow_name=name,
        parameters={},
        run_dir=paths.runs / name,
        lock_dir=paths.locks,
        base_env={},
    )
    return workflow.run()


def test_a_failure_cause_keeps_the_head_of_the_line(places: dict[str, Path]) -> None:
    result = run_workflow(places["repo"])
    cause = result.tasks["deploy"].cause or ""
    assert cause.startswith("deploy of stack DemoStack-dev failed: xxx")
    assert cause.endswith(" …") and "THE-END" not in cause
    assert len(cause) <= CAUSE_CHARS + 2


def test_the_summary_names_the_failed_tasks_log_and_the_logs_command(
    places: dict[str, Path],
) -> None:
    repo = places["repo"]
    result = run_workflow(repo)
    runs = LocalPaths.of(repo).runs
    outputs = {"dev": {"DemoStack": {"SQSqueueURL": "http://q"}}}
    text = render_summary([result], outputs, runs)
    assert "pipeline failed at task deploy: deploy of stack DemoStack-dev" in text
    assert f"its log: {runs / 'demo-abc-1' / 'deploy.log'}" in text
    assert f"aphex logs demo-abc-1 --repo {repo} deploy" in text
    assert "<task>" not in text
    assert "DEMO_STACK_SQS_QUEUE_URL" in text  # the test variable of each output


def test_logs_lists_tasks_prints_a_log_and_names_what_exists(
    places: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = places["repo"]
    run_workflow(repo)
    runs = LocalPaths.of(repo).runs
    assert main(["logs", "demo-abc-1", "--repo", str(repo)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert any(
        r.split()[:3] == ["deploy", "failed", str(runs / "demo-abc-1" / "deploy.log")] for r in rows
    )
    assert any(r.split()[:2] == ["after", "omitted"] and "(no log)" in r for r in rows)

    assert main(["logs", "demo-abc-1", "deploy", "--repo", str(repo)]) == 0
    assert "THE-END" in capsys.readouterr().out  # the whole log, not the cut cause

    assert main(["logs", "demo-abc-1", "-o", "json", "--repo", str(repo)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {t["task"]: t["phase"] for t in doc["tasks"]} == {"deploy": "failed", "after": "omitted"}

    assert main(["logs", "demo-abc-1", "nope", "--repo", str(repo)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'nope'" in err and "deploy" in err and "after" in err

    assert main(["logs", "demo-xyz", "--repo", str(repo)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "demo-abc-1" in err

    assert main(["logs", "demo-abc-1", "after", "--repo", str(repo)]) == 1
    assert "no log" in capsys.readouterr().err


def test_runs_show_lists_the_test_variables_of_the_run(
    places: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = places["repo"]
    run_workflow(repo)
    write_run(repo, "demo-abc-1", "Failed", 0)
    assert main(["runs", "show", "demo-abc-1", "--repo", str(repo)]) == 0
    text = capsys.readouterr().out
    assert "DEMO_STACK_QUEUE_URL=http://q" in text and "deploy:" in text
    assert main(["runs", "show", "demo-abc-1", "--repo", str(repo), "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["workflow_name"] == "demo-abc-1"
    assert doc["test_variables"] == {"deploy": {"DEMO_STACK_QUEUE_URL": "http://q"}}


# -- progress without a terminal --------------------------------------------------------------


def test_without_a_terminal_a_running_task_is_named_every_heartbeat() -> None:
    stream = io.StringIO()
    progress = Progress(stream, heartbeat=0.3)
    build = TaskState(name="build", template="build", phase="Running", started=time.monotonic())
    done = TaskState(name="validate", template="v", phase="Succeeded", started=time.monotonic())
    progress.start("workflow w", {"build": build, "validate": done})
    time.sleep(1.5)
    progress.finish()
    beats = [line for line in stream.getvalue().splitlines() if "still running" in line]
    assert len(beats) >= 2
    assert beats[0].startswith("  still running: build (") and "validate" not in beats[0]


def test_no_heartbeat_when_nothing_runs_or_output_was_recent() -> None:
    stream = io.StringIO()
    progress = Progress(stream, heartbeat=5.0)
    build = TaskState(name="build", template="build", phase="Running", started=time.monotonic())
    progress.start("workflow w", {"build": build})
    time.sleep(1.2)
    progress.finish()
    assert "still running" not in stream.getvalue()
    assert still_running_line({"a": TaskState(name="a", template="a", phase="Pending")}) is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (45, "45s"), (90, "1m30s"), (3725, "1h02m")]
)
def test_durations_read_as_a_person_writes_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text
