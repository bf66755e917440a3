"""`aphex run --local` end to end on the sample app: real git, real moto, the real CDK CLI.

The tests share one repository and run in order, as a user would:
1. the first run deploys dev, staging and prod (behind an approved gate);
2. a commit whose staging test fails stops prod, and the run names the failed task;
   a task added to the live template by hand runs unchanged;
3. Ctrl-C in the middle of a run leaves no process, lock or half-written file behind;
4. a commit that fixes staging and adds an environment is deployed in one run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from aphex_stages.local.inspect import RunsQuery, local_runs
from aphex_testing.cdk import ensure_cdk_cli
from aphex_testing.sample_repo import SampleRepo, local_cluster, phases, run_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleRepo:
    return SampleRepo(tmp_path_factory.mktemp("local-run") / "app")


@pytest.fixture(autouse=True)
def app_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pinned CDK CLI, and no AWS settings of the host. The app's own packages come from
    its config's toolchain (no venv of the app on PATH)."""
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


#: A build command that fails when it sees any AWS credential (the build pod's `build`
#: container has none: the pod annotation keeps the role's identity from it).
CREDENTIALS_CHECK = [
    "python3",
    "-c",
    "import os, sys; names = ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',"
    " 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE'); found = [n for n in names if n in os.environ];"
    " print('build command sees', found or 'no AWS credentials'); sys.exit(1 if found else 0)",
]


def test_first_run_deploys_every_environment(sample: SampleRepo) -> None:
    sample.edit_config(lambda data: data["build"]["commands"].append(CREDENTIALS_CHECK))
    sample.commit("the build checks it has no AWS credentials")
    code, text = run_sample(sample)
    assert code == 0, text
    tasks = phases(text)
    for task in ("validation", "build", "pipeline-deployment", "preview-prod", "approve-prod"):
        assert tasks[task] == "succeeded", text
    assert tasks["on-exit"] == "succeeded", text
    for environment in ("dev", "staging", "prod"):
        assert tasks[f"deploy-{environment}"] == "succeeded", text
        assert tasks[f"test-{environment}"] == "succeeded", text
    assert "pipeline succeeded" in text
    assert "dev          StorageStack    BucketName" in text
    run_dirs = list(sample.paths.runs.iterdir())
    assert len(run_dirs) == 1
    assert (run_dirs[0] / "deploy-prod.log").read_text().count("succeeded") >= 1
    # The build pod: the commands ran without AWS credentials, then `main` uploaded.
    build_log = (run_dirs[0] / "build.log").read_text()
    assert "build command sees no AWS credentials" in build_log
    assert build_log.index("==> container build") < build_log.index("==> container main")
    assert "artifact uploaded to s3://" in build_log
    # Before the gate: what prod's deploy would change (nothing of prod existed yet).
    preview = json.loads((run_dirs[0] / "preview-prod.json").read_text())
    assert preview["outputs"]["changeset"].startswith("change set of prod (222222222222/us-east-1)")
    assert "=== StorageStack: changes" in preview["outputs"]["changeset"]
    build_record = json.loads((run_dirs[0] / "build.json").read_text())
    assert len(build_record["outputs"]["artifact-sha256"]) == 64
    records = list((sample.paths.records / "runs").rglob("*.json"))
    assert any(json.loads(p.read_text()).get("status") == "Succeeded" for p in records)


def test_failing_staging_test_stops_prod_and_an_added_task_runs(sample: SampleRepo) -> None:
    def break_staging(data: dict[str, Any]) -> None:
        staging = next(e for e in data["environments"] if e["name"] == "staging")
        staging["tests"]["commands"] = [
            ["python3", "-c", "import sys; print('staging smoke test failed'); sys.exit(1)"]
        ]

    sample.edit_config(break_staging)
    sample.commit("staging test fails")
    # An extra task in the live template runs as it is: nothing about stages is built in.
    with local_cluster(sample) as cluster:
        live = cluster.get_template("aphex-sample")
    assert live is not None
    doc = json.loads(json.dumps(live.doc))
    marker = sample.path.parent / "audit-marker"
    audit = {
        "name": "audit",
        "container": {
            "image": "ignored",
            "command": ["python3"],
            "args": ["-c", f"open({str(marker)!r}, 'w').write('{{{{workflow.name}}}}')"],
        },
    }
    doc["spec"]["templates"].append(audit)
    entry = next(t for t in doc["spec"]["templates"] if t["name"] == doc["spec"]["entrypoint"])
    entry["dag"]["tasks"].append({"name": "audit", "template": "audit", "depends": "build"})
    with local_cluster(sample) as cluster:
        cluster.apply_template(doc, live.resource_version)

    code, text = run_sample(sample)
    assert code == 1, text
    tasks = phases(text)
    assert tasks["test-staging"] == "failed"
    assert tasks["approve-prod"] == "omitted" and tasks["deploy-prod"] == "omitted"
    assert tasks["deploy-dev"] == "succeeded" and tasks["audit"] == "succeeded"
    assert "pipeline failed at task test-staging" in text
    assert "staging smoke test failed" in text or "exited 1" in text
    assert marker.read_text().startswith("aphex-sample-")


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_leaves_nothing_behind(sample: SampleRepo, signum: signal.Signals) -> None:
    """Ctrl-C, or SIGTERM (a CI cancel, `timeout`), in the middle of a deploy: every
    process (cdk deploy included) is stopped, the run records are saved, the workflow is
    marked interrupted."""
    marker = f"APHEX_TEST_MARKER={uuid.uuid4().hex}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in sys.path if p),
        marker.split("=")[0]: marker.split("=")[1],
    }
    before = set(sample.paths.runs.iterdir())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aphex_stages",
            "run",
            "--local",
            str(sample.path),
            "--approve",
            "all",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 240
    log = None
    while time.monotonic() < deadline and log is None:
        for run_dir in set(sample.paths.runs.iterdir()) - before:
            if (run_dir / "deploy-dev.log").exists():
                log = run_dir / "deploy-dev.log"
        time.sleep(0.2)
    assert log is not None, "the run never reached deploy-dev"
    time.sleep(1.0)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output.decode()
    assert b"interrupted" in output
    assert b"could not save run records" not in output, output.decode()
    time.sleep(1.0)
    assert _processes_with(marker) == [], f"orphaned processes after {signum.name}"
    leftovers = [p for p in sample.paths.root.rglob("*.tmp")]
    assert leftovers == []
    for path in sample.paths.root.rglob("*.json"):
        json.loads(path.read_text())  # nothing half-written
    workflow = log.parent.name
    with local_cluster(sample) as cluster:
        stored = cluster.get_workflow(workflow)
    assert stored is not None
    assert stored["status"]["phase"] == "Failed" and stored["status"]["message"] == "interrupted"


def test_fix_and_new_environment_deploy_in_one_run(
    sample: SampleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    def fix_and_add_qa(data: dict[str, Any]) -> None:
        environments = data["environments"]
        dev = next(e for e in environments if e["name"] == "dev")
        staging = next(e for e in environments if e["name"] == "staging")
        staging["tests"] = json.loads(json.dumps(dev["tests"]))
        qa = {
            **json.loads(json.dumps(dev)),
            "name": "qa",
            "account": "222222222222",
            "region": "eu-west-1",
            "context": {"stage": "qa"},
            "depends_on": ["dev"],
        }
        environments.append(qa)

    sample.edit_config(fix_and_add_qa)
    sha = sample.commit("fix staging, add qa")
    code, text = run_sample(sample)
    assert code == 0, text
    first, restarted = phases(text, 0), phases(text, -1)
    # The first run is superseded, not failed: it succeeds and deploys nothing.
    assert first["pipeline-deployment"] == "succeeded"
    assert first["deploy-dev"] == "skipped" and "deploy-qa" not in first  # the old topology
    assert first["test-dev"] == "omitted"
    assert re.search(r"\(run\)\s+succeeded: superseded", text), text
    assert "environment added: qa" in text
    for environment in ("dev", "qa", "staging", "prod"):
        assert restarted.get(f"deploy-{environment}") == "succeeded", text
    assert f"aphex-sample-{sha[:12]}-r1" in text
    assert "qa           StorageStack    BucketName" in text
    # The run records: the superseded run says so, the restart succeeded.
    capsys.readouterr()
    assert local_runs(sample.path, RunsQuery(view="list", output="json")) == 0
    records = {r["workflow_name"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    superseded = [name for name, status in records.items() if status == "Superseded"]
    assert len(superseded) == 1 and not superseded[0].endswith("-r1"), records
    assert records[f"aphex-sample-{sha[:12]}-r1"] == "Succeeded"


def test_diff_exit_code_says_whether_the_topology_would_change(
    sample: SampleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the runs above the live template matches HEAD; a commit adding an
    environment is a change: `aphex diff --exit-code` exits 1, as `git diff` does."""
    from aphex_stages.cli import main

    capsys.readouterr()
    assert main(["diff", str(sample.path), "--exit-code"]) == 0
    assert "no topology change" in capsys.readouterr().out

    def add_uat(data: dict[str, Any]) -> None:
        uat = {**json.loads(json.dumps(data["environments"][0])), "name": "uat"}
        uat["depends_on"] = ["dev"]
        data["environments"].append(uat)

    sample.edit_config(add_uat)
    sample.commit("add uat")
    assert main(["diff", str(sample.path), "--exit-code"]) == 1
    assert "environment added: uat" in capsys.readouterr().out
    assert main(["diff", str(sample.path)]) == 0  # without --exit-code: 0, as git diff
