"""Local runs keep their AWS between runs, as a cluster's AWS account does, and leave no
temporary files behind; `aphex local reset` starts them clean.

The quick tests drive the moto server of local runs over HTTP with a state file: a
CloudFormation stack made by one server is updated by the next, S3 objects and IAM users
survive, IAM authorization starts off again, and an unreadable file is one warning and an
empty start. The long one runs the sample app three times: the second run (a process of its
own, with its own TMPDIR) updates the first run's stacks and reuses its artifact, and leaves
nothing in its temporary folder; after `aphex local reset` the third creates them again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from aphex_stages.cli import main
from aphex_stages.local.aws import local_aws
from aphex_stages.local.moto import ensure_local_admin, set_moto_auth, start_moto_server
from aphex_testing.cdk import ensure_cdk_cli, infra_app_env
from aphex_testing.sample_repo import SampleRepo, local_cluster, phases, run_sample

TEMPLATE = {
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "kept-bucket"}},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "kept-role",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
            },
        },
        "Parameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/kept/value", "Type": "String", "Value": "one"},
        },
    }
}


def _client(service: str, endpoint: str, key: tuple[str, str] = ("testing", "testing")) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
    )


def test_a_restarted_server_has_the_resources_and_updates_the_stack(tmp_path: Path) -> None:
    state = tmp_path / "aws" / "state.bin"
    with start_moto_server(log_dir=tmp_path, state_file=state) as server:
        assert server.state()["restored"] == 0
        cloudformation = _client("cloudformation", server.endpoint)
        cloudformation.create_stack(StackName="Kept", TemplateBody=json.dumps(TEMPLATE))
        s3 = _client("s3", server.endpoint)
        s3.put_object(Bucket="kept-bucket", Key="big", Body=b"x" * (6 * 1024 * 1024))
        admin = ensure_local_admin(server.endpoint)
        set_moto_auth(server.endpoint, on=True)
        _client("s3", server.endpoint, admin).put_object(Bucket="kept-bucket", Key="k", Body=b"1")
        saved = server.save_state()
        assert saved["status"] == "ok" and saved["bytes"] > 6 * 1024 * 1024, saved
    assert [p.name for p in state.parent.iterdir()] == ["state.bin"]  # no temporary left

    with start_moto_server(log_dir=tmp_path, state_file=state) as server:
        assert server.state()["restored"] >= 4 and server.state()["warning"] is None
        # Authorization is off again: the fixed test credentials work.
        s3 = _client("s3", server.endpoint)
        assert len(s3.get_object(Bucket="kept-bucket", Key="big")["Body"].read()) == 6 * 1024 * 1024
        cloudformation = _client("cloudformation", server.endpoint)
        updated = json.loads(json.dumps(TEMPLATE))
        updated["Resources"]["Parameter"]["Properties"]["Value"] = "two"
        # A new environment's role is trusted too, and the role gets a policy (moto_cfn).
        role = updated["Resources"]["Role"]["Properties"]
        statement = role["AssumeRolePolicyDocument"]["Statement"][0]
        statement["Principal"]["AWS"] = [statement["Principal"]["AWS"], "222222222222"]
        allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
        document = {"Version": "2012-10-17", "Statement": [allow]}
        role["Policies"] = [{"PolicyName": "read", "PolicyDocument": document}]
        cloudformation.update_stack(StackName="Kept", TemplateBody=json.dumps(updated))
        stack = cloudformation.describe_stacks(StackName="Kept")["Stacks"][0]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
        value = _client("ssm", server.endpoint).get_parameter(Name="/kept/value")
        assert value["Parameter"]["Value"] == "two"
        iam = _client("iam", server.endpoint)
        trust = iam.get_role(RoleName="kept-role")["Role"]["AssumeRolePolicyDocument"]
        assert "222222222222" in json.dumps(trust)
        assert iam.list_role_policies(RoleName="kept-role")["PolicyNames"] == ["read"]
        # The admin user is refreshed, and its new key works once authorization is on.
        admin = ensure_local_admin(server.endpoint)
        set_moto_auth(server.endpoint, on=True)
        _client("s3", server.endpoint, admin).put_object(Bucket="kept-bucket", Key="k2", Body=b"2")
        # No explicit save: stopping the server saves what changed.

    with start_moto_server(log_dir=tmp_path, state_file=state) as server:
        listed = _client("s3", server.endpoint).list_objects_v2(Bucket="kept-bucket")
        assert sorted(o["Key"] for o in listed["Contents"]) == ["big", "k", "k2"]


@pytest.mark.parametrize(
    "content",
    [b"not a state file", b'aphex-moto-state 1\n{"moto": "0.0.1", "python": "3.11"}\n'],
    ids=["corrupt", "other-moto"],
)
def test_an_unreadable_state_is_one_warning_and_an_empty_start(
    tmp_path: Path, content: bytes
) -> None:
    state = tmp_path / "aws" / "state.bin"
    state.parent.mkdir()
    state.write_bytes(content)
    said: list[str] = []
    with local_aws(None, tmp_path, state, said.append) as aws:
        buckets = aws.client("s3").list_buckets()["Buckets"]
        aws.client("s3").create_bucket(Bucket="after-the-warning")
    assert buckets == []
    assert len(said) == 1 and "\n" not in said[0], said
    assert said[0].startswith("  warning: cannot restore the local AWS state from")
    assert "starts empty" in said[0]
    # The run's resources replaced the unreadable file.
    said.clear()
    with local_aws(None, tmp_path, state, said.append) as aws:
        names = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert names == ["after-the-warning"] and "restored" in said[0]


def _new_run(sample: SampleRepo, before: set[Path]) -> Path:
    (run_dir,) = set(sample.paths.runs.iterdir()) - before
    return run_dir


def _tmp_entries() -> set[str]:
    return {p.name for p in Path("/tmp").glob("aphex*")}


def _left_in_tmp(before: set[str]) -> set[str]:
    """New ``/tmp/aphex*`` entries that stay (another test's stage may hold one a while)."""
    deadline = time.monotonic() + 120
    while (left := _tmp_entries() - before) and time.monotonic() < deadline:
        time.sleep(2)
    return left


def test_the_second_run_updates_the_first_runs_stacks_and_reset_starts_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    sample = SampleRepo(tmp_path / "app")

    # 1. The first run creates everything.
    before: set[Path] = set()
    code, text = run_sample(sample)
    assert code == 0, text
    first = _new_run(sample, before)
    assert "restored from" not in text
    assert "CREATE_COMPLETE" in (first / "deploy-dev.log").read_text()
    assert sample.paths.aws_state.is_file()

    # 2. The second run of the same commit, as a process of its own with its own TMPDIR.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **infra_app_env(),
        "TMPDIR": str(scratch),
        "PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in sys.path if p),
    }
    before, in_tmp = set(sample.paths.runs.iterdir()), _tmp_entries()
    command = [sys.executable, "-m", "aphex_stages", "run", "--local", str(sample.path)]
    done = subprocess.run(
        [*command, "--approve", "all"], env=env, capture_output=True, text=True, timeout=1200
    )
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert f"restored from {sample.paths.aws_state}" in text
    second = _new_run(sample, before)
    assert phases(text)["deploy-prod"] == "succeeded"
    for environment in ("dev", "staging", "prod"):
        log = (second / f"deploy-{environment}.log").read_text()
        assert "UPDATE_COMPLETE" in log or "no changes" in log.lower(), log
        assert "CREATE_COMPLETE" not in log, log
    # Run 1's artifact is still in the bucket: the build reuses it.
    assert "already has its artifact" in (second / "build.log").read_text()
    assert list(scratch.iterdir()) == [], "the run left files in its TMPDIR"
    assert list(sample.paths.tmp.iterdir()) == []
    assert _left_in_tmp(in_tmp) == set()
    assert tempfile.gettempdir() != str(scratch)

    # 3. Reset is refused while a run holds the repository's local state...
    capsys.readouterr()
    with local_cluster(sample):
        assert main(["local", "reset", str(sample.path), "-o", "json"]) == 1
    refused = capsys.readouterr()
    assert "is running" in json.loads(refused.out)["error"]
    assert len(refused.err.strip().splitlines()) == 1
    # ... and forgets the AWS and the cluster, not the logs nor the secrets.
    assert main(["local", "reset", str(sample.path), "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert str(sample.paths.aws_state) in result["removed"]
    assert str(sample.paths.cluster_state) in result["removed"]
    assert not sample.paths.aws_state.exists() and not sample.paths.cluster_state.exists()
    assert second.is_dir() and sample.paths.secrets.is_dir()

    # 4. The next run starts clean: it creates the stacks and uploads the artifact again.
    before = set(sample.paths.runs.iterdir())
    code, text = run_sample(sample)
    assert code == 0, text
    third = _new_run(sample, before)
    assert "restored from" not in text
    assert "installed WorkflowTemplate" in text
    assert "CREATE_COMPLETE" in (third / "deploy-dev.log").read_text()
    assert "artifact uploaded to s3://" in (third / "build.log").read_text()
