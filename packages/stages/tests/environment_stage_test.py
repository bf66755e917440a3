"""The environment stage end to end, with no stubs: a real moto server over HTTP, the real
CDK CLI, the real sample app, artifacts made by the real build stage from a real git
repository. Stages run in-process through their ``main``, as the console scripts do.

One moto server with the sample's environments bootstrapped per module (``cdk_moto``).
Commit A is the sample as it is. Commit B changes only ``aphex-config.yaml``: dev gets a
failing second test command, staging a queue name that moto's SQS rejects, prod a test
that hangs, and a new environment qa has no tests. Commit C's artifact is tampered with
after its upload. Commit D's app is a stack whose Lambda-backed custom resource never
completes in moto. ``test_stage_test`` reuses these helpers and fixtures.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from aphex_config import Environment
from aphex_generator import EnvVar
from aphex_stages.cdk import synth_counts
from aphex_stages.deploy import deploy_budget, synth_context
from aphex_stages.environment_job import base_target
from aphex_stages.stages import build, environment, upload
from aphex_testing import cdk as harness
from aphex_testing.cdk import CdkMoto, sample_app_dir, venv_env
from aphex_testing.gitrepos import make_remote

# The harness's fixtures, by name.
cdk_cli = harness.cdk_cli
sample_venv = harness.sample_venv
cdk_moto = harness.cdk_moto

PIPELINE = "aphex-sample"
BUCKET = "aphex-artifacts"
WORKFLOW = "aphex-sample-abc12"
DEV = ("111111111111", "us-east-1")
STAGING = ("111111111111", "us-west-2")
PROD = ("222222222222", "us-east-1")
STACKS = ["StorageStack", "MessagingStack"]
SMOKE_JUNIT = '<testsuite name="smoke" tests="1" failures="1"/>'
_SKIP = {"__pycache__", ".pytest_cache", "node_modules"}


@dataclass(frozen=True)
class StageRun:
    code: int
    log: str
    seconds: float


@dataclass(frozen=True)
class Commits:
    url: str
    a: str  # the sample as it is
    b: str  # the variant config
    c: str  # tampered with after upload
    d: str  # prod deploys a stack that hangs


# A stack whose Lambda-backed custom resource never completes in moto.
HANG_APP = """
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

app = cdk.App()
ctx = app.node.try_get_context
stack = cdk.Stack(app, "HangStack", env=cdk.Environment(account=ctx("account"), region=ctx("region")))
handler = lambda_.Function(
    stack, "Handler", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
    code=lambda_.Code.from_inline("def handler(event, context):\\n    return None\\n"),
)
cdk.CustomResource(stack, "Hang", service_token=handler.function_arn, resource_type="Custom::Hang")
app.synth()
"""


def run_stage(main: Callable[[Sequence[str]], int], commit: str, url: str, *extra: str) -> StageRun:
    """Run a stage in-process with the common options; its exit code and log."""
    argv = ["--pipeline", PIPELINE, "--commit", commit, "--repository", url, *extra]
    buffer = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stderr(buffer):
        code = main(argv)
    run = StageRun(code=code, log=buffer.getvalue(), seconds=time.monotonic() - started)
    print(f"{argv[-1] if extra else 'build'} at {commit[:7]}: exit {code} in {run.seconds:.1f} s")
    if code:
        print("\n".join(run.log.splitlines()[-8:]))
    return run


def sample_files() -> dict[str, str | bytes]:
    root = sample_app_dir()
    files: dict[str, str | bytes] = {}
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if path.is_file() and not any(p in _SKIP or p.startswith("cdk.out") for p in parts):
            files["/".join(parts)] = path.read_bytes()
    return files


def variant_config() -> str:
    config = yaml.safe_load((sample_app_dir() / "aphex-config.yaml").read_text())
    dev, staging, prod = config["environments"]
    dev["tests"] = {
        "commands": [
            [
                "python3",
                "-m",
                "pytest",
                "tests/post_deploy",
                "-q",
                "-p",
                "no:cacheprovider",
                "--junitxml=reports/junit-post-deploy.xml",
            ],
            f"echo '{SMOKE_JUNIT}' > \"$APHEX_TEST_REPORTS_DIR/junit-smoke.xml\"\n"
            "echo 'smoke: the queue is empty'\nexit 3",
            ["python3", "-c", "print('never runs')"],
        ],
        "timeout_minutes": 5,
    }
    staging["context"] = {"stage": "staging", "queue_name": "not a valid name!"}
    prod["stacks"] = [{"name": "StorageStack"}]
    prod["tests"] = {"commands": [["sleep", "30"]], "timeout_minutes": 1}
    config["environments"].append(
        {
            "name": "qa",
            "account": "333333333333",
            "region": "us-east-1",
            "stacks": [{"name": "StorageStack"}],
            "depends_on": ["prod"],
        }
    )
    return yaml.safe_dump(config, sort_keys=False)


def hang_files() -> dict[str, str | bytes]:
    config = yaml.safe_load((sample_app_dir() / "aphex-config.yaml").read_text())
    config["environments"][2]["stacks"] = [{"name": "HangStack"}]
    return {
        "aphex-config.yaml": yaml.safe_dump(config, sort_keys=False),
        "cdk.json": json.dumps({"app": "python3 hang_app.py"}),
        "hang_app.py": HANG_APP,
    }


def client(cdk_moto: CdkMoto, service: str, env: tuple[str, str] | None = None) -> Any:
    """A boto3 client of the pipeline account, or of ``env``'s account (its deploy role)."""
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    region = "us-east-1"
    if env is not None:
        found = cdk_moto.target(*env).credentials
        assert found is not None
        region = env[1]
        credentials = {
            "aws_access_key_id": found.access_key_id,
            "aws_secret_access_key": found.secret_access_key,
            "aws_session_token": found.session_token or "",
        }
    return boto3.client(
        service, endpoint_url=cdk_moto.server.endpoint, region_name=region, **credentials
    )


def beside(cdk_moto: CdkMoto, commit: str, name: str) -> bytes | None:
    """The object ``name`` beside the commit's current artifact, or None."""
    s3 = client(cdk_moto, "s3")
    latest = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"{PIPELINE}/{commit}/latest.json")["Body"].read()
    )
    try:
        body: bytes = s3.get_object(Bucket=BUCKET, Key=latest["prefix"] + name)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return body


def stack_status(cdk_moto: CdkMoto, env: tuple[str, str], stack: str) -> str:
    stacks = client(cdk_moto, "cloudformation", env).describe_stacks(StackName=stack)["Stacks"]
    return str(stacks[0]["StackStatus"])


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stage_env(
    cdk_moto: CdkMoto, cdk_cli: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """What a stage pod gets, pointed at the module's moto server; the artifact bucket."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ENDPOINT_URL": cdk_moto.server.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "APHEX_ARTIFACT_BUCKET": BUCKET,
            "APHEX_LOCAL_AWS_LOG": str(cdk_moto.server.log_path),
            "APHEX_WORK_DIR": str(tmp_path_factory.mktemp("work")),
            EnvVar.BUILD_OUTPUT: str(tmp_path_factory.mktemp("build-output")),
            # The upload writes its digest there (the pod's /tmp/aphex/outputs otherwise).
            EnvVar.OUTPUTS_DIR: str(tmp_path_factory.mktemp("outputs")),
            "APHEX_CDK_CLI": str(cdk_cli),
            "APHEX_EXTERNAL_ID": "per-install-7f3a",
            **venv_env(cdk_moto.venv),
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "APHEX_WORKFLOW_NAME", "PYTEST_ADDOPTS"):
            patch.delenv(name, raising=False)
        client(cdk_moto, "s3").create_bucket(Bucket=BUCKET)
        yield


@pytest.fixture(scope="module")
def commits(
    stage_env: None, cdk_moto: CdkMoto, tmp_path_factory: pytest.TempPathFactory
) -> Commits:
    """Four commits, each built into an artifact by the build pod's stages (build, then
    upload); C's then tampered with."""
    remote = make_remote(tmp_path_factory.mktemp("git"), sample_files(), name="sample-app")
    shas = Commits(
        url=remote.url,
        a=remote.sha,
        b=remote.push_commit({"aphex-config.yaml": variant_config()}),
        c=remote.push_commit({"NOTES.md": "tampered with after upload\n"}),
        d=remote.push_commit(hang_files()),
    )
    for sha in (shas.a, shas.b, shas.c, shas.d):
        for stage in (build, upload):
            run = run_stage(stage.main, sha, shas.url)
            assert run.code == 0, run.log
    s3 = client(cdk_moto, "s3")
    latest = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"{PIPELINE}/{shas.c}/latest.json")["Body"].read()
    )
    key = latest["artifact"]
    data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    return shas


@pytest.fixture(scope="module")
def dev_a(commits: Commits) -> tuple[StageRun, int]:
    """The environment stage for dev at commit A, and how many synths it ran."""
    before = synth_counts().get("dev", 0)
    run = run_stage(
        environment.main,
        commits.a,
        commits.url,
        "--environment",
        "dev",
        "--workflow-name",
        WORKFLOW,
    )
    return run, synth_counts().get("dev", 0) - before


# -- pure parts ----------------------------------------------------------------------------


def test_local_endpoint_selects_the_local_profile() -> None:
    local = base_target("eu-west-1", {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert local.is_local and local.endpoint == "http://localhost:5000"
    assert local.environ()["AWS_ACCESS_KEY_ID"] == "testing"
    assert local.region == "eu-west-1"
    real = base_target("eu-west-1", {"AWS_ENDPOINT_URL": "https://s3.example.com"})
    assert not real.is_local and base_target("eu-west-1", {}).environ()["AWS_REGION"] == "eu-west-1"


def test_pipeline_context_wins_over_config_context() -> None:
    from aphex_config import parse_config

    config = parse_config((sample_app_dir() / "aphex-config.yaml").read_text())
    context = synth_context(config.environment("staging"))
    assert context == {
        "stage": "staging",
        "account": "111111111111",
        "region": "us-west-2",
        "environment": "staging",
    }


# -- the environment stage ------------------------------------------------------------------


def test_environment_stage_deploys_dev_in_order_with_one_synth(
    cdk_moto: CdkMoto, commits: Commits, dev_a: tuple[StageRun, int]
) -> None:
    run, synths = dev_a
    assert run.code == 0, run.log
    assert synths == 1
    deploying = re.findall(r"(\w+): deploying\.\.\.", run.log)
    assert deploying == STACKS
    for stack in STACKS:
        assert stack_status(cdk_moto, DEV, stack) == "CREATE_COMPLETE"
    stored = beside(cdk_moto, commits.a, "outputs/dev.json")
    assert stored is not None
    outputs = json.loads(stored)
    assert list(outputs) == STACKS
    assert set(outputs["StorageStack"]) == {"BucketName", "ParameterName"}
    assert outputs["StorageStack"]["ParameterName"] == "/aphex-sample/dev/stage"
    record = client(cdk_moto, "s3").get_object(
        Bucket=BUCKET, Key=f"runs/{PIPELINE}/workflows/{WORKFLOW}/stages/environment.dev.json"
    )
    keys = json.loads(record["Body"].read())["output_keys"]
    assert keys == [
        "StorageStack.BucketName",
        "StorageStack.ParameterName",
        "MessagingStack.QueueUrl",
        "MessagingStack.QueueName",
        "MessagingStack.BucketParameterName",
    ]


def test_tampered_artifact_is_refused(commits: Commits) -> None:
    before = synth_counts().get("dev", 0)
    run = run_stage(environment.main, commits.c, commits.url, "--environment", "dev")
    assert run.code == 9, run.log
    assert "the artifact was modified" in run.log
    assert synth_counts().get("dev", 0) == before


def test_without_the_install_external_id_nothing_is_assumed(
    commits: Commits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deploy roles' ExternalId is the install's secret, never the pipeline's name."""
    monkeypatch.delenv("APHEX_EXTERNAL_ID")
    before = synth_counts().get("dev", 0)
    run = run_stage(environment.main, commits.a, commits.url, "--environment", "dev")
    assert run.code == 2, run.log
    assert "Secret aphex-external-id (key external-id)" in run.log
    assert synth_counts().get("dev", 0) == before


def test_an_artifact_other_than_the_builds_is_refused(commits: Commits) -> None:
    """The template passes the build stage's digest: a commit's artifact that is not the
    one this run built (replaced at the gate, say) is refused before anything runs."""
    before = synth_counts().get("dev", 0)
    other = "0" * 64
    run = run_stage(
        environment.main, commits.a, commits.url, "--environment", "dev", "--artifact-sha256", other
    )
    assert run.code == 9, run.log
    assert "is not the one this run built" in run.log
    assert synth_counts().get("dev", 0) == before
    run = run_stage(
        environment.main, commits.a, commits.url, "--environment", "dev", "--artifact-sha256", "x"
    )
    assert run.code == 2, run.log
    assert "--artifact-sha256 must be 64 lower-case hex digits" in run.log


def test_failure_in_second_stack_names_it_and_keeps_the_first(
    cdk_moto: CdkMoto, commits: Commits
) -> None:
    run = run_stage(environment.main, commits.b, commits.url, "--environment", "staging")
    assert run.code == 10, run.log
    cause = run.log.strip().splitlines()[-1]
    print(cause)
    assert "environment failed" in cause and "MessagingStack failed: " in cause
    assert "InvalidParameterValue" in cause and str(cdk_moto.server.log_path) in cause
    assert "deployed before it: StorageStack" in run.log
    assert stack_status(cdk_moto, STAGING, "StorageStack") == "CREATE_COMPLETE"
    assert beside(cdk_moto, commits.b, "outputs/staging.json") is None


def test_the_deploy_budget_is_the_environments_own() -> None:
    env = Environment.model_validate(
        {
            "name": "dev",
            "account": "111111111111",
            "region": "us-east-1",
            "stacks": [{"name": "A"}],
            "deploy_timeout_minutes": 45,
        }
    )
    assert deploy_budget(env, {}) == 45 * 60
    assert deploy_budget(env, {"APHEX_DEPLOY_TIMEOUT_SECONDS": "90"}) == 90  # operator override


def test_unknown_environment_is_a_config_error(commits: Commits) -> None:
    run = run_stage(environment.main, commits.a, commits.url, "--environment", "qa")
    assert run.code == 4, run.log
    assert "environment 'qa' is not in aphex-config.yaml" in run.log


def test_deploy_timeout_points_at_custom_resources_and_the_server_log(
    cdk_moto: CdkMoto, commits: Commits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APHEX_DEPLOY_TIMEOUT_SECONDS", "8")
    run = run_stage(environment.main, commits.d, commits.url, "--environment", "prod")
    assert run.code == 7, run.log
    cause = run.log.strip().splitlines()[-1]
    assert "HangStack did not finish deploying within the deploy timeout of 8 s" in cause
    assert "environments[prod].deploy_timeout_minutes" in cause and "custom resource" in cause
    # The resources CloudFormation still waits for are named.
    assert re.search(r"still in progress: .*\bHang \(Custom::Hang\)", cause), cause
    assert str(cdk_moto.server.log_path) in cause
    assert stack_status(cdk_moto, PROD, "HangStack") == "CREATE_IN_PROGRESS"


def test_an_environment_only_moves_forward_unless_redeployed(
    cdk_moto: CdkMoto, commits: Commits, dev_a: tuple[StageRun, int]
) -> None:
    """A newer commit is deployed to dev (its head says so): commit A, arriving late (held
    at a gate, replayed), is refused before anything runs; `aphex redeploy` takes it back,
    and dev's head records who asked, why and what it replaced."""
    assert dev_a[0].code == 0
    s3 = client(cdk_moto, "s3")
    key = f"{PIPELINE}/environments/dev.json"
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["commit"] == commits.a
    newer = "f" * 40
    head = {"commit": newer, "committed_at": "2099-01-01T00:00:00+00:00"}
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(head).encode())
    try:
        before = synth_counts().get("dev", 0)
        run = run_stage(environment.main, commits.a, commits.url, "--environment", "dev")
        assert run.code == 14, run.log
        cause = run.log.strip().splitlines()[-1]
        assert f"dev already runs commit {newer[:12]}" in cause
        assert "only moves forward" in cause and f"aphex redeploy {commits.a}" in cause
        assert synth_counts().get("dev", 0) == before

        half = run_stage(
            environment.main, commits.a, commits.url, "--environment", "dev",
            "--redeploy-reason", "roll back",
        )  # fmt: skip
        assert half.code == 2 and "needs both --redeploy-by and --redeploy-reason" in half.log

        run = run_stage(
            environment.main, commits.a, commits.url, "--environment", "dev",
            "--redeploy-by", "ops@example.com", "--redeploy-reason", "roll back the outage",
        )  # fmt: skip
        assert run.code == 0, run.log
        assert "redeploy of" in run.log and "requested by ops@example.com" in run.log
        stored = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        assert stored["commit"] == commits.a
        assert stored["redeploy"] == {
            "by": "ops@example.com",
            "reason": "roll back the outage",
            "replaced": newer,
        }
    finally:
        s3.delete_object(Bucket=BUCKET, Key=key)


def test_a_stack_synthesized_for_another_account_or_region_is_refused(tmp_path: Path) -> None:
    """A stack whose synthesized env is not its environment's (a hard-coded region, say)
    would deploy where the config does not say: refused, naming stack, values and fix."""
    from aphex_stages.cdk.assembly import CloudAssembly, StackArtifact
    from aphex_stages.deploy import require_stack_environments
    from aphex_stages.errors import StageError

    env = Environment.model_validate(
        {"name": "prod", "account": "222222222222", "region": "us-east-1",
         "stacks": [{"name": "StorageStack"}, {"name": "MessagingStack"}]}
    )  # fmt: skip

    def assembly(*envs: tuple[str | None, str | None]) -> CloudAssembly:
        stacks = tuple(
            StackArtifact(name, name, account, region, tmp_path / f"{name}.json", ())
            for name, (account, region) in zip(STACKS, envs, strict=True)
        )
        return CloudAssembly(tmp_path, stacks, (), {})

    require_stack_environments(assembly(PROD, (None, None)), env)  # agnostic stacks are fine
    with pytest.raises(StageError) as caught:
        require_stack_environments(assembly(PROD, ("222222222222", "eu-west-1")), env)
    assert caught.value.code == 10
    assert caught.value.cause.startswith(
        "the CDK app synthesized MessagingStack for region eu-west-1 (the environment's is"
        " us-east-1); prod deploys only to its own account and region"
    )
    with pytest.raises(StageError, match="account 111111111111 .* and region us-west-2"):
        require_stack_environments(assembly(STAGING, PROD), env)
