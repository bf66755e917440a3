"""Least privilege, proven by a local run: moto enforces IAM and each task holds only its
own role (the pipeline's own stacks make one per kind of work).

1. A hostile build command tries to assume the prod deploy role and to write another
   commit's artifact: both are denied (the build commands' container has no AWS identity)
   and said in the build's log, and the rest of the pipeline deploys normally. Even with
   the build identity itself, both calls are refused by IAM.
2. A second push with no change leaves the pipeline's own stacks untouched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from aphex_generator import Identity, identity_role_name
from aphex_stages.local.layout import LOCAL_BUCKET
from aphex_stages.local.moto import ensure_local_admin, set_moto_auth
from aphex_testing.cdk import ensure_cdk_cli
from aphex_testing.moto_server import MotoServer, start_moto_server
from aphex_testing.sample_repo import SampleRepo, phases, run_sample

PIPELINE = "aphex-sample"
PIPELINE_ACCOUNT = "123456789012"
PROD_DEPLOY_ROLE = "arn:aws:iam::222222222222:role/aphex-deploy"
OTHER_COMMIT_KEY = f"{PIPELINE}/{'0' * 40}/latest.json"

HOSTILE_BUILD = '''"""A build command that tries what a compromised dependency would."""
import os
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

role, bucket, key = sys.argv[1:4]
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


def attempt(what, call):
    try:
        call()
    except (BotoCoreError, ClientError) as error:
        print(f"hostile: {what}: denied: {type(error).__name__}: {error}")
    else:
        print(f"hostile: {what}: ALLOWED")


print("hostile: credentials in my environment:", [n for n in CREDENTIALS if n in os.environ])
attempt("sts:AssumeRole into the prod deploy role",
        lambda: boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="hostile"))
attempt("s3:PutObject of another commit's artifact",
        lambda: boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=b"evil"))
'''


@pytest.fixture(autouse=True)
def app_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server for both pushes (a local run leaves it not enforcing IAM)."""
    with start_moto_server(log_dir=tmp_path_factory.mktemp("moto")) as running:
        yield running


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleRepo:
    repo = SampleRepo(tmp_path_factory.mktemp("least-privilege") / "app")
    (repo.path / "hostile_build.py").write_text(HOSTILE_BUILD)
    command = [sys.executable, "hostile_build.py", PROD_DEPLOY_ROLE, LOCAL_BUCKET, OTHER_COMMIT_KEY]
    repo.edit_config(lambda data: data["build"]["commands"].append(command))
    repo.commit("a build command that tries to escalate")
    return repo


def _client(server: MotoServer, service: str, **credentials: Any) -> Any:
    keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", **keys)


def _stacks(server: MotoServer) -> dict[str, tuple[str, str]]:
    """The pipeline's own stacks: name -> (status, last change)."""
    found = _client(server, "cloudformation").describe_stacks()["Stacks"]
    return {
        s["StackName"]: (s["StackStatus"], str(s.get("LastUpdatedTime") or s["CreationTime"]))
        for s in found
        if s["StackName"].startswith(f"aphex-{PIPELINE}-")
    }


def test_a_hostile_build_is_denied_and_the_pipeline_deploys(
    sample: SampleRepo, server: MotoServer
) -> None:
    code, text = run_sample(sample, aws_endpoint=server.endpoint)
    assert code == 0, text
    assert "IAM enforced: each task holds only its own role" in text
    tasks = phases(text)
    for environment in ("dev", "staging", "prod"):
        assert tasks[f"deploy-{environment}"] == "succeeded", text
    (run_dir,) = list(sample.paths.runs.iterdir())
    build_log = (run_dir / "build.log").read_text()
    assert "hostile: credentials in my environment: []" in build_log
    assert "hostile: sts:AssumeRole into the prod deploy role: denied" in build_log
    assert "hostile: s3:PutObject of another commit's artifact: denied" in build_log
    assert "ALLOWED" not in build_log
    keys = _client(server, "s3").list_objects_v2(Bucket=LOCAL_BUCKET, Prefix=OTHER_COMMIT_KEY)
    assert keys["KeyCount"] == 0


def test_even_the_build_identity_may_not_escalate(sample: SampleRepo, server: MotoServer) -> None:
    """Defence in depth: the upload container's own role is refused both calls by IAM."""
    key, secret = ensure_local_admin(server.endpoint)
    set_moto_auth(server.endpoint, on=True)
    try:
        admin = {"aws_access_key_id": key, "aws_secret_access_key": secret}
        role = (
            f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/{identity_role_name(PIPELINE, Identity.BUILD)}"
        )
        issued = _client(server, "sts", **admin).assume_role(RoleArn=role, RoleSessionName="probe")
        build = {
            "aws_access_key_id": issued["Credentials"]["AccessKeyId"],
            "aws_secret_access_key": issued["Credentials"]["SecretAccessKey"],
            "aws_session_token": issued["Credentials"]["SessionToken"],
        }
        with pytest.raises(ClientError, match="AccessDenied"):
            _client(server, "sts", **build).assume_role(
                RoleArn=PROD_DEPLOY_ROLE, RoleSessionName="probe", ExternalId="guess"
            )
        with pytest.raises(ClientError, match="AccessDenied"):
            _client(server, "s3", **build).put_object(
                Bucket=LOCAL_BUCKET, Key=f"runs/{PIPELINE}/forged.json", Body=b"x"
            )
        with pytest.raises(ClientError, match="AccessDenied"):
            _client(server, "s3", **build).put_object(
                Bucket=LOCAL_BUCKET, Key=f"{PIPELINE}/head.json", Body=b"x"
            )
    finally:
        set_moto_auth(server.endpoint, on=False)
    assert "moto_iam: AccessDenied" in Path(server.log_path).read_text()


def test_a_push_with_no_change_leaves_the_pipelines_stacks_untouched(
    sample: SampleRepo, server: MotoServer
) -> None:
    before = _stacks(server)
    assert f"aphex-{PIPELINE}-artifacts" in before
    sample.repo.git.commit("--allow-empty", m="nothing changed")
    code, text = run_sample(sample, aws_endpoint=server.endpoint)
    assert code == 0, text
    assert _stacks(server) == before
    run_dir = max(sample.paths.runs.iterdir(), key=lambda p: p.stat().st_mtime)
    log = (run_dir / "pipeline-deployment.log").read_text()
    assert "pipeline infrastructure unchanged" in log
    assert "deploying the pipeline's own stacks" not in log
