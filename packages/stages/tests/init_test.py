"""`aphex init` against a real CDK app synthesized by the real CDK CLI (no stubs).

A tiny Python app of two stacks, ``ConsumerStack`` defined first and depending on
``ProducerStack`` (it reads the producer's bucket name), runs with the sample app's venv
(aws-cdk-lib, pytest, boto3) first on PATH. One init is shared by the module; the config it
writes is loaded with aphex-config's loader, and the example test it writes is run against
both stacks deployed into a moto server, as the test stage runs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aphex_config import load_config, parse_config, schema_text
from aphex_stages.cdk import CdkRunner, output_env_vars, read_cloud_assembly
from aphex_stages.cdk.aws import apply_environ
from aphex_stages.cli import main
from aphex_stages.init.assembly import stacks_in_order
from aphex_stages.init.errors import InitError
from aphex_stages.init.project import NODE, OTHER, Project, pipeline_name
from aphex_stages.init.render import EnvironmentPlan, render_config
from aphex_stages.init.synth import AppStack
from aphex_testing import cdk as harness
from aphex_testing.cdk import venv_env
from aphex_testing.moto_server import start_moto_server

cdk_cli = harness.cdk_cli
sample_venv = harness.sample_venv

ORDER = ["ProducerStack", "ConsumerStack"]
TOKEN = "ghp_notarealtoken"
APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm

app = cdk.App()
ctx = app.node.try_get_context
env = cdk.Environment(account=ctx("account"), region=ctx("region"))
consumer = cdk.Stack(app, "ConsumerStack", env=env)
producer = cdk.Stack(app, "ProducerStack", env=env)
bucket = s3.Bucket(producer, "Bucket")
cdk.CfnOutput(producer, "BucketName", value=bucket.bucket_name)
ssm.StringParameter(
    consumer, "Parameter", parameter_name="/orders/bucket", string_value=bucket.bucket_name
)
app.synth()
"""
BROKEN_APP = "import aws_cdk as cdk\napp = cdk.App()\nraise SystemExit('the app is broken here')\n"


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def make_app(root: Path, source: str = APP) -> Path:
    """A git repository holding the CDK app (remote origin with a token in its URL)."""
    root.mkdir(parents=True)
    (root / "app.py").write_text(source)
    (root / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    (root / "requirements.txt").write_text("aws-cdk-lib\nconstructs\n")
    (root / "orders").mkdir()
    (root / "orders" / "__init__.py").write_text("")
    (root / ".gitignore").write_text("node_modules\n/cdk.out")  # no newline at the end
    for args in (
        ["init", "-q", "-b", "release"],
        ["remote", "add", "origin", f"https://x-access-token:{TOKEN}@github.com/acme/orders.git"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    code = main(argv)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


@pytest.fixture()
def app_env(monkeypatch: pytest.MonkeyPatch, sample_venv: Path, cdk_cli: Path) -> None:
    """`python3 app.py` is the sample venv's; the CDK CLI is the pinned one."""
    for name, value in venv_env(sample_venv).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APHEX_CDK_CLI", str(cdk_cli))


@pytest.fixture(scope="module")
def initialized(
    tmp_path_factory: pytest.TempPathFactory, sample_venv: Path, cdk_cli: Path
) -> Iterator[tuple[Path, Outcome]]:
    """One `aphex init` of the app, shared by the module (a synth takes ~20 s)."""
    root = make_app(tmp_path_factory.mktemp("init") / "orders-app")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in venv_env(sample_venv).items():
            patch.setenv(name, value)
        patch.setenv("APHEX_CDK_CLI", str(cdk_cli))
        patch.setenv("AWS_PROFILE", "must-not-be-read")  # init makes no AWS call
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["init", str(root)])
    yield root, Outcome(code, out.getvalue(), err.getvalue())


def test_init_writes_a_valid_config_of_the_apps_stacks_in_dependency_order(
    initialized: tuple[Path, Outcome],
) -> None:
    root, outcome = initialized
    assert outcome.code == 0, outcome.err
    assert "synthesizing the app with cdk synth" in outcome.err
    assert "ProducerStack, ConsumerStack" in outcome.out
    text = (root / "aphex-config.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=./aphex-config.schema.json"
    assert (root / "aphex-config.schema.json").read_text() == schema_text()
    config = load_config(root / "aphex-config.yaml")
    assert config.pipeline.name == "orders-app"
    assert config.pipeline.repository == "https://github.com/acme/orders.git"
    assert TOKEN not in text
    assert config.pipeline.branch == "release"
    assert [env.name for env in config.environments] == ["dev", "staging"]
    dev, staging = config.environments
    assert [(dev.account, dev.region), (staging.account, staging.region)] == [
        ("111111111111", "us-east-1"),
        ("111111111111", "us-west-2"),
    ]
    assert "111111111111 is a placeholder account" in text
    assert tuple(dev.depends_on or ()) == () and tuple(staging.depends_on or ()) == ("dev",)
    for env in config.environments:
        assert [stack.name for stack in env.stacks] == ORDER
        assert env.tests is not None
        assert list(env.tests.commands) == [("python3", "-m", "pytest", "tests/post_deploy", "-q")]
    assert config.toolchain is not None
    assert list(config.toolchain.files) == ["requirements.txt", "requirements-test.txt"]
    assert list(config.build.commands) == [
        ("python3", "-m", "compileall", "-q", "app.py", "orders", "tests")
    ]
    assert "pytest" in (root / "requirements-test.txt").read_text()
    ignore = (root / ".gitignore").read_text().splitlines()
    assert ignore[:2] == ["node_modules", "/cdk.out"]
    assert ignore.count(".aphex/") == 1 and "cdk.out/" not in ignore  # /cdk.out covers it
    assert not list(root.rglob("*.aphex-init-*"))


def test_the_example_test_passes_against_the_deployed_stacks(
    initialized: tuple[Path, Outcome], tmp_path: Path, sample_venv: Path, cdk_cli: Path
) -> None:
    """Deploy dev's stacks into moto as the environment stage does, then run dev's test
    command with the stage's environment: it passes; without the outputs it fails."""
    root, outcome = initialized
    assert outcome.code == 0, outcome.err
    app = tmp_path / "app"
    shutil.copytree(root, app, ignore=shutil.ignore_patterns(".git"))
    dev = load_config(app / "aphex-config.yaml").environments[0]
    assert dev.tests is not None
    server = start_moto_server(log_dir=tmp_path / "moto")
    try:
        targets = harness.bootstrap_local(server, [(dev.account, dev.region)], cli=cdk_cli)
        target = targets[(dev.account, dev.region)]
        runner = CdkRunner(target=target, cli=cdk_cli, env=venv_env(sample_venv), timeout=300)
        context = {"account": dev.account, "region": dev.region, "environment": dev.name}
        assembly = runner.synth(app, tmp_path / "cdk.out", context)
        stacks = [stack.name for stack in dev.stacks]
        outputs = runner.deploy(assembly.directory, stacks, tmp_path / "outputs.json")
        assert outputs["ProducerStack"]["BucketName"]
        base = apply_environ(os.environ, target.environ())
        base.update(venv_env(sample_venv, base))
        command = list(dev.tests.commands[0])
        passed = subprocess.run(
            command,
            cwd=app,
            env={**base, **output_env_vars(outputs)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert "4 passed" in passed.stdout
        failed = subprocess.run(
            command, cwd=app, env=base, capture_output=True, text=True, timeout=300
        )
        assert failed.returncode == 1
        assert "PRODUCER_STACK_BUCKET_NAME is not set" in failed.stdout
    finally:
        server.stop()


def test_init_refuses_to_overwrite_and_changes_nothing(
    initialized: tuple[Path, Outcome], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = initialized
    before = snapshot(root)
    outcome = run(["init", str(root), "-o", "json"], capsys)
    assert outcome.code == 1
    assert len(outcome.err.splitlines()) == 1
    assert outcome.err.startswith(f"aphex init: {root / 'aphex-config.yaml'} exists;")
    assert "exists" in json.loads(outcome.out)["error"]
    assert snapshot(root) == before


def test_a_second_init_keeps_existing_files_and_appends_gitignore_once(
    tmp_path: Path, app_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app(tmp_path / "again")
    (root / "tests" / "post_deploy").mkdir(parents=True)
    (root / "tests" / "post_deploy" / "test_stacks.py").write_text("# mine\n")
    first = run(["init", str(root), "--account", "123456789012", "--region", "eu-west-1"], capsys)
    assert first.code == 0, first.err
    assert (root / "tests" / "post_deploy" / "test_stacks.py").read_text() == "# mine\n"
    assert "kept as they were: tests/post_deploy/test_stacks.py" in first.out
    config = load_config(root / "aphex-config.yaml")
    assert [(env.account, env.region) for env in config.environments] == [
        ("123456789012", "eu-west-1"),
        ("123456789012", "us-west-2"),
    ]
    assert "placeholder account" not in (root / "aphex-config.yaml").read_text()
    ignore = (root / ".gitignore").read_text()
    (root / "aphex-config.yaml").unlink()
    second = run(["init", str(root), "-o", "json"], capsys)
    assert second.code == 0, second.err
    result = json.loads(second.out)
    assert result["files"] == ["aphex-config.yaml"]
    assert sorted(result["kept"]) == sorted(
        ["aphex-config.schema.json", "tests/post_deploy/test_stacks.py", "requirements-test.txt"]
    )
    assert result["stacks"] == ORDER
    assert result["config"] == str(root / "aphex-config.yaml")
    assert (root / ".gitignore").read_text() == ignore  # appended once, not twice


def test_a_broken_app_fails_in_one_line_and_writes_nothing(
    tmp_path: Path, app_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app(tmp_path / "broken", BROKEN_APP)
    before = snapshot(root)
    scratch = Path(tempfile.gettempdir())
    others = set(scratch.glob("aphex-init-*"))  # another process's, not this run's
    outcome = run(["init", str(root), "-o", "json"], capsys)
    assert outcome.code == 1
    errors = [line for line in outcome.err.splitlines() if not line.endswith("...")]
    assert len(errors) == 1, outcome.err
    assert errors[0].startswith("aphex init: cdk synth of")
    assert "the app is broken here" in errors[0]
    assert errors[0].endswith(f"make `cdk synth` work in {root}, then run aphex init again")
    assert "the app is broken here" in json.loads(outcome.out)["error"]
    assert snapshot(root) == before
    assert not (root / "tests").exists()
    assert set(scratch.glob("aphex-init-*")) <= others  # its synth folder is gone


@pytest.mark.parametrize(
    ("option", "value"),
    [("--name", "Orders_App"), ("--account", "1234"), ("--region", "mars-north-1")],
)
def test_invalid_options_are_usage_errors_before_any_synth(
    tmp_path: Path, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app(tmp_path / "app")
    before = snapshot(root)
    outcome = run(["init", str(root), option, value], capsys)
    assert outcome.code == 2
    assert outcome.err.startswith(f"aphex init: {option}: ")
    assert "synthesizing" not in outcome.err
    assert snapshot(root) == before


def test_a_folder_without_cdk_json_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run(["init", str(tmp_path), "-o", "json"], capsys)
    assert outcome.code == 1
    assert "no cdk.json" in json.loads(outcome.out)["error"]
    assert list(tmp_path.iterdir()) == []


def write_manifest(directory: Path, artifacts: dict[str, object]) -> Path:
    directory.mkdir()
    manifest = {"version": "36.0.0", "artifacts": artifacts}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def stack(*dependencies: str, name: str | None = None) -> dict[str, object]:
    properties: dict[str, object] = {"templateFile": "t.json"}
    if name:
        properties["stackName"] = name
    return {
        "type": "aws:cloudformation:stack",
        "environment": "aws://unknown-account/unknown-region",
        "properties": properties,
        "dependencies": list(dependencies),
    }


def test_stacks_are_ordered_by_their_dependencies_through_other_artifacts(
    tmp_path: Path,
) -> None:
    assets = {"type": "cdk:asset-manifest", "properties": {"file": "x.assets.json"}}
    manifest = write_manifest(
        tmp_path / "assembly",
        {
            "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
            "Api.assets": assets,
            "Api": stack("Api.assets", "Db", name="orders-api"),
            "Web.assets": {**assets, "dependencies": ["Api"]},  # through a non-stack artifact
            "Web": stack("Web.assets"),
            "Db.assets": assets,
            "Db": stack("Db.assets"),
            "Alone": stack(),
        },
    )
    ordered = stacks_in_order(read_cloud_assembly(manifest))
    assert [s.name for s in ordered] == ["Db", "orders-api", "Web", "Alone"]


def test_a_dependency_cycle_or_no_stack_is_an_error(tmp_path: Path) -> None:
    cycle = write_manifest(tmp_path / "cycle", {"A": stack("B"), "B": stack("A"), "C": stack()})
    with pytest.raises(InitError, match="cycle: A, B"):
        stacks_in_order(read_cloud_assembly(cycle))
    empty = write_manifest(tmp_path / "empty", {"Tree": {"type": "cdk:tree"}})
    with pytest.raises(InitError, match="no stacks"):
        stacks_in_order(read_cloud_assembly(empty))


@pytest.mark.parametrize(("kind", "lock"), [(NODE, True), (NODE, False), (OTHER, False)])
def test_configs_of_other_kinds_of_app_validate(tmp_path: Path, kind: str, lock: bool) -> None:
    project = Project(tmp_path, kind, (), lock, None, None)
    text = render_config(
        name="web",
        repository="https://github.com/OWNER/web.git",
        repository_known=False,
        branch="main",
        project=project,
        stacks=[AppStack("Null", None, None), AppStack("web-2", None, None)],
        environments=[
            EnvironmentPlan("dev", "111111111111", "us-east-1", ()),
            EnvironmentPlan("staging", "111111111111", "us-west-2", ("dev",)),
        ],
        placeholder_account=True,
    )
    config = parse_config(text)
    assert [stack.name for stack in config.environments[1].stacks] == ["Null", "web-2"]
    assert config.toolchain is not None
    assert "requirements-test.txt" in config.toolchain.files
    if kind == NODE:
        assert ("package-lock.json" in config.toolchain.files) is lock
        assert config.toolchain.link == ("node_modules",)
        assert config.toolchain.install[0][:2] == ("npm", "ci" if lock else "install")


def test_pipeline_names_from_folder_names() -> None:
    assert pipeline_name("Orders_Service") == "orders-service"
    assert pipeline_name("__") == "app"
    assert len(pipeline_name("x" * 80)) == 40
