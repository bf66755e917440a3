"""The preview stage end to end, with no stubs: a real moto server over HTTP, the real CDK
CLI, the real sample app, artifacts made by the real build stage from a real git repository
(the helpers and fixtures of ``environment_stage_test``, with this module's own moto).

Commit A is the sample as it is; commit E changes only dev's ``stage`` context (the value of
StorageStack's SSM parameter).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from environment_stage_test import (
    BUCKET,
    DEV,
    PIPELINE,
    STACKS,
    WORKFLOW,
    StageRun,
    beside,
    cdk_cli,
    cdk_moto,
    client,
    run_stage,
    sample_files,
    sample_venv,
    stage_env,
)

from aphex_generator import EnvVar, Output, environment_head_key
from aphex_stages.changeset import ChangeSet, StackChange, cut_text, diff_report
from aphex_stages.head import Head
from aphex_stages.stages import build, environment, preview, upload
from aphex_testing.cdk import CdkMoto, sample_app_dir
from aphex_testing.gitrepos import make_remote

__all__ = ["cdk_cli", "cdk_moto", "sample_venv", "stage_env"]  # fixtures


@dataclass(frozen=True)
class Commits:
    url: str
    a: str  # the sample as it is
    e: str  # dev's stage context changed


@pytest.fixture(scope="module")
def commits(stage_env: None, tmp_path_factory: pytest.TempPathFactory) -> Commits:
    config = yaml.safe_load((sample_app_dir() / "aphex-config.yaml").read_text())
    config["environments"][0]["context"] = {"stage": "dev-two"}
    remote = make_remote(tmp_path_factory.mktemp("git"), sample_files(), name="sample-app")
    shas = Commits(
        url=remote.url,
        a=remote.sha,
        e=remote.push_commit({"aphex-config.yaml": yaml.safe_dump(config, sort_keys=False)}),
    )
    for sha in (shas.a, shas.e):
        for stage in (build, upload):
            run = run_stage(stage.main, sha, shas.url)
            assert run.code == 0, run.log
    return shas


def _preview(cdk_moto: CdkMoto, commits: Commits, commit: str) -> tuple[StageRun, ChangeSet, str]:
    """Preview dev at `commit`: the run, the stored change set, the output parameter."""
    output = Path(os.environ[EnvVar.OUTPUTS_DIR]) / Output.CHANGESET
    output.unlink(missing_ok=True)
    run = run_stage(
        preview.main, commit, commits.url, "--environment", "dev", "--workflow-name", WORKFLOW
    )
    assert run.code == 0, run.log
    stored = beside(cdk_moto, commit, "changesets/dev.json")
    assert stored is not None
    return run, ChangeSet.from_json(json.loads(stored)), output.read_text()


def test_a_new_environment_shows_every_resource_new_and_nothing_is_deployed(
    cdk_moto: CdkMoto, commits: Commits
) -> None:
    run, changes, output = _preview(cdk_moto, commits, commits.a)
    assert [c.stack for c in changes.stacks] == STACKS
    assert changes.changed == tuple(STACKS)
    assert (changes.environment, changes.account, changes.region) == ("dev", *DEV)
    assert changes.commit == commits.a and changes.workflow == WORKFLOW
    storage = changes.stacks[0].report
    assert "[+] AWS::S3::Bucket" in storage and "[+] AWS::SSM::Parameter" in storage
    assert "[+] AWS::SQS::Queue" in changes.stacks[1].report
    # The text: in the log, in Argo's output parameter and beside the artifact.
    text = changes.render()
    assert text.startswith(f"change set of dev (111111111111/us-east-1) at commit {commits.a[:12]}")
    assert output == text
    assert beside(cdk_moto, commits.a, "changesets/dev.txt") == text.encode()
    assert "=== StorageStack: changes" in run.log and "[+] AWS::S3::Bucket" in run.log
    # Nothing deployed, no head moved.
    cloudformation = client(cdk_moto, "cloudformation", DEV)
    names = {summary["StackName"] for summary in cloudformation.list_stacks()["StackSummaries"]}
    assert names == {"CDKToolkit"}
    s3 = client(cdk_moto, "s3")
    head = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PIPELINE}/environments/")
    assert head.get("KeyCount") == 0
    record = s3.get_object(
        Bucket=BUCKET, Key=f"runs/{PIPELINE}/workflows/{WORKFLOW}/stages/preview.dev.json"
    )
    assert json.loads(record["Body"].read())["status"] == "Succeeded"


def test_after_the_deploy_only_the_next_commits_change_shows(
    cdk_moto: CdkMoto, commits: Commits
) -> None:
    deployed = run_stage(environment.main, commits.a, commits.url, "--environment", "dev")
    assert deployed.code == 0, deployed.log
    _, same, output = _preview(cdk_moto, commits, commits.a)
    assert same.changed == ()
    assert [c.changed for c in same.stacks] == [False, False]
    assert "=== StorageStack: no changes" in output
    assert "=== MessagingStack: no changes" in output
    _, next_commit, _ = _preview(cdk_moto, commits, commits.e)
    assert "StorageStack" in next_commit.changed
    report = next_commit.stacks[0].report
    assert "[~] AWS::SSM::Parameter" in report and "dev-two" in report
    assert "[+] AWS::" not in report  # the stack exists: only what changes in it


def test_a_newer_commit_deployed_there_is_named_before_the_gate(
    cdk_moto: CdkMoto, commits: Commits
) -> None:
    """Held at its gate while a newer commit reached the environment, a run's deploy will
    refuse: the change set says so, before anyone approves it."""
    s3 = client(cdk_moto, "s3")
    key = environment_head_key(PIPELINE, "dev")
    before = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()  # commit A, deployed above
    newer = Head("f" * 40, datetime.now(UTC) + timedelta(days=1))
    s3.put_object(Bucket=BUCKET, Key=key, Body=newer.to_json())
    try:
        run, changes, output = _preview(cdk_moto, commits, commits.a)
    finally:
        s3.put_object(Bucket=BUCKET, Key=key, Body=before)
    (note,) = changes.notes
    committed = f"{newer.committed_at:%Y-%m-%d %H:%M:%S %Z}"
    assert note.startswith(f"dev already runs commit ffffffffffff (committed {committed})")
    assert f"newer than {commits.a[:12]}" in note and "its deploy will refuse" in note
    assert f"aphex redeploy {commits.a} --reason" in note
    assert output.splitlines()[1] == f"note: {note}" and note in run.log
    # The head is only read: the preview moved nothing.
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == before
    _, current, _ = _preview(cdk_moto, commits, commits.a)
    assert current.notes == ()


def test_a_long_change_set_is_cut_for_argo_and_says_where_the_rest_is() -> None:
    changes = ChangeSet(
        pipeline=PIPELINE,
        commit="a" * 40,
        environment="prod",
        account="222222222222",
        region="us-east-1",
        stacks=(StackChange("Big", True, "\n".join(f"[+] line {n} é" for n in range(40_000))),),
    )
    text = changes.render()
    cut = cut_text(text, 200_000, "s3://bucket/key.txt")
    assert len(text.encode()) > 200_000 >= len(cut.encode())
    assert cut.startswith(changes.summary())
    assert cut.endswith("... cut at 200000 bytes; the whole change set: s3://bucket/key.txt\n")
    assert cut_text("short\n", 200_000, "x") == "short\n"
    assert ChangeSet.from_json(json.loads(changes.to_bytes())) == changes


def test_the_report_keeps_only_what_the_cli_says_about_the_stack() -> None:
    lines = [
        "start: Building StorageStack Template",
        "success: Built StorageStack Template",
        "Stack StorageStack",
        "Resources",
        "[+] AWS::S3::Bucket Bucket Bucket83908E77 ",
        "",
        "",
        "✨  Number of stacks with differences: 1",
        "",
    ]
    assert diff_report(lines, "StorageStack") == (
        "Resources\n[+] AWS::S3::Bucket Bucket Bucket83908E77"
    )
