"""The validation stage against real git repositories, a real moto server and the real toolchain.

STS is moto over HTTP. One case runs a moto server of its own with IAM enforcement on
(``INITIAL_NO_AUTH_ACTION_COUNT``): the caller is an IAM user with no policy at all, and
validation still passes, since it never assumes a deploy role.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from aphex_monitoring.layout import start_key
from aphex_stages.preflight import check_cdk_files, check_toolchain, command_program
from aphex_stages.stages import validation
from aphex_testing import pytest_plugin
from aphex_testing.cdk import ensure_cdk_cli
from aphex_testing.gitrepos import config_yaml, make_remote, sample_files
from aphex_testing.moto_server import start_moto_server

aws_env = pytest_plugin.aws_env
moto_server = pytest_plugin.moto_server
unique_name = pytest_plugin.unique_name

CDK_PIN = json.loads((Path(__file__).resolve().parents[3] / "package.json").read_text())[
    "devDependencies"
]["aws-cdk"]
TWO_ENVS = [
    {"name": "dev", "account": "111111111111", "region": "us-east-1", "stacks": [{"name": "A"}]},
    {
        "name": "prod",
        "account": "222222222222",
        "region": "eu-west-1",
        "stacks": [{"name": "A"}],
        "role_arn": "arn:aws:iam::222222222222:role/deployer",
        "tests": {"commands": ["pytest -q tests/smoke"]},
    },
]


@pytest.fixture()
def stage_env(aws_env, monkeypatch, tmp_path, unique_name):
    bucket = unique_name("val")
    boto3.client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("APHEX_ARTIFACT_BUCKET", bucket)
    monkeypatch.setenv("APHEX_WORK_DIR", str(tmp_path / "work"))
    for variable in ("APHEX_WORKFLOW_NAME", "APHEX_GIT_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    # The pinned CLI of this checkout, found from outside any sandbox (as a pod's PATH would).
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    return aws_env


def good_files(**overrides):
    files = sample_files(
        config_yaml(
            commands=["sh bin/build.sh", ("python3", "-m", "compileall", "-q", "src")],
            environments=TWO_ENVS,
        ),
        **{"package.json": json.dumps({"devDependencies": {"aws-cdk": CDK_PIN}})},
        **{"cdk.context.json": "{}\n"},
    )
    files.update(overrides)
    return files


def run(capsys, remote) -> tuple[int, str]:
    code = validation.main(
        ["--pipeline", "demo", "--commit", remote.sha, "--repository", remote.url]
    )
    return code, capsys.readouterr().err


def test_a_good_repository_passes(tmp_path, capsys, stage_env, monkeypatch):
    # pytest, named by prod's test command, must be on PATH: it is, beside this interpreter.
    remote = make_remote(tmp_path / "origin", good_files())
    code, log = run(capsys, remote)
    assert code == 0, log
    assert "AWS identity arn:aws:" in log
    assert "assume" not in log  # the deploy roles are the deploy stages' alone
    assert "validation passed" in log


def test_every_problem_is_reported_at_once(tmp_path, capsys, stage_env):
    files = good_files(
        **{
            "aphex-config.yaml": config_yaml(
                commands=[
                    ("no-such-compiler-aphex", "--all"),
                    "CI=1 missing-linter-aphex --fix && echo ok",
                    "cd src && make",  # a shell builtin first: not checkable, not a problem
                    "if true; then echo 'unterminated; fi",
                ],
                environments=[
                    {**TWO_ENVS[0], "tests": {"commands": [["absent-test-runner", "x"]]}},
                ],
            ),
            "cdk.json": json.dumps({"context": {}}),
            "cdk.context.json": "{not json",
            "package.json": json.dumps({"devDependencies": {"aws-cdk": "2.0.0"}}),
        }
    )
    remote = make_remote(tmp_path / "origin", files)
    code, log = run(capsys, remote)
    assert code == 12, log
    assert "5 problems:" in log
    expected = [
        "build command 1 `no-such-compiler-aphex --all`: `no-such-compiler-aphex` is not on PATH",
        "build command 2 `CI=1 missing-linter-aphex --fix && echo ok`: `missing-linter-aphex`",
        "build command 4 `if true; then echo 'unterminated; fi`: shell syntax error:",
        'cdk.json has no "app"',
        "cdk.context.json is not valid JSON",
    ]
    for text in expected:
        assert text in log, text
    assert "`cd`" not in log
    # The deployer's tools are the pipeline stage's to check, in the deployer image.
    assert "absent-test-runner" not in log and "aws-cdk pin" not in log


def test_invalid_config_is_exit_4_and_still_reports_the_other_problems(tmp_path, capsys, stage_env):
    bad = config_yaml().replace('"111111111111"', '"1234"')
    remote = make_remote(
        tmp_path / "origin", sample_files(bad, **{"cdk.json": json.dumps({"app": ""})})
    )
    code, log = run(capsys, remote)
    assert code == 4, log
    assert "aphex-config.yaml:" in log and "environments[0].account" in log
    assert "and 1 other problems" in log
    assert 'cdk.json has no "app"' in log


def test_an_identity_without_any_permission_passes(tmp_path, capsys, monkeypatch):
    # Two unauthenticated calls set up an IAM user; from then on moto enforces IAM.
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "2")
    server = start_moto_server(log_dir=tmp_path / "moto")
    monkeypatch.delenv("INITIAL_NO_AUTH_ACTION_COUNT")
    try:
        pytest_plugin.apply_aws_env(monkeypatch, server.endpoint)
        iam = boto3.client("iam")
        iam.create_user(UserName="builder")
        key = iam.create_access_key(UserName="builder")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        denied = boto3.session.Session().client("sts").assume_role  # validation must not need it
        with pytest.raises(Exception, match="AccessDenied"):
            denied(RoleArn="arn:aws:iam::111111111111:role/aphex-deploy", RoleSessionName="xy")
        monkeypatch.delenv("APHEX_ARTIFACT_BUCKET", raising=False)
        monkeypatch.setenv("APHEX_WORK_DIR", str(tmp_path / "work"))
        remote = make_remote(tmp_path / "origin", good_files())
        code, log = run(capsys, remote)
    finally:
        server.stop()
    assert code == 0, log
    assert "AWS identity arn:aws:iam::123456789012:user/builder" in log


def test_unusable_credentials_are_one_problem(tmp_path, capsys, stage_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:9")  # nothing listens on port 9
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.delenv("APHEX_ARTIFACT_BUCKET")
    remote = make_remote(tmp_path / "origin", good_files())
    code, log = run(capsys, remote)
    assert code == 12, log
    assert "AWS credentials: sts:GetCallerIdentity failed" in log


# -- the checks one by one ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "program"),
    [
        (("npm", "ci"), "npm"),
        ("make build", "make"),
        ("FOO=1 BAR='a b' ./gradlew build", "./gradlew"),
        ("cd app && npm ci", None),
        ("(cd app; make)", None),
        ("# only a comment", None),
        ("npm&&make", "npm"),
        ("export X=1; make", None),
    ],
)
def test_command_program(command, program):
    assert command_program(command) == program


def test_command_program_rejects_broken_quoting():
    with pytest.raises(ValueError):
        command_program("'unterminated")


def test_cdk_files(tmp_path):
    assert check_cdk_files(tmp_path) == [
        "cdk.json is missing at the repository root; the CDK app cannot be run"
    ]
    (tmp_path / "cdk.json").write_text('{"app": "python3 app.py"}')
    assert check_cdk_files(tmp_path) == []
    (tmp_path / "cdk.json").write_text("[]")
    assert check_cdk_files(tmp_path) == ["cdk.json is not a JSON object"]


def test_toolchain_without_node_on_path(tmp_path):
    environ = {"PATH": str(tmp_path), "APHEX_CDK_CLI": str(ensure_cdk_cli())}
    problems = check_toolchain(tmp_path, environ=environ)
    assert problems[0].startswith("node is not on PATH (the CDK CLI needs node >= 18.0.0)")
    assert problems[1].startswith("npm is not on PATH")
    assert len(problems) == 2  # the pinned CLI's version is read from its package.json


def test_a_cli_outside_its_npm_package_is_asked_for_its_version(tmp_path):
    cli = tmp_path / "bin" / "cdk"
    cli.parent.mkdir()
    cli.write_text("#!/bin/sh\necho '2.1148.1 (build 1a2b3c)'\n")
    cli.chmod(0o755)
    environ = {"PATH": os.environ["PATH"], "APHEX_CDK_CLI": str(cli)}
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": {"aws-cdk": "2.1148.1"}}))
    assert check_toolchain(tmp_path, environ=environ) == []
    cli.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    problems = check_toolchain(tmp_path, environ=environ)
    assert problems == [f"`{cli} --version` failed: cannot start"]


def test_toolchain_pin_ranges(tmp_path, monkeypatch):
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"aws-cdk": "^2.1000.0"}}))
    assert check_toolchain(tmp_path) == []
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"aws-cdk": "~2.1000.0"}}))
    assert "does not match the aws-cdk pin" in check_toolchain(tmp_path)[0]


def test_the_run_is_announced_to_monitoring(tmp_path, capsys, stage_env, monkeypatch):
    monkeypatch.setenv("APHEX_WORKFLOW_NAME", "demo-run-1")
    remote = make_remote(tmp_path / "origin", good_files())
    code, log = run(capsys, remote)
    assert code == 0, log
    s3 = boto3.client("s3")
    bucket = os.environ["APHEX_ARTIFACT_BUCKET"]
    marker = json.loads(
        s3.get_object(Bucket=bucket, Key=start_key("demo", "demo-run-1"))["Body"].read()
    )
    assert marker["status"] == "Running"
    assert marker["commit_sha"] == remote.sha
