"""The pipeline stage deploys the pipeline's own CDK app (infra/) only when `cdk diff` shows
a change: the real app, the real CDK CLI and a moto server (the artifacts stack only)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import yaml

from aphex_stages.cdk import CdkRunner, LocalAws
from aphex_stages.errors import StageError
from aphex_stages.infra_deploy import deploy_pipeline_infra, infra_context
from aphex_stages.infra_state import InfraState
from aphex_testing.cdk import ensure_cdk_cli, infra_bin, repo_root, sample_app_dir
from aphex_testing.moto_server import start_moto_server

MOTO_ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def environ(tmp_path_factory: pytest.TempPathFactory):
    server = start_moto_server(log_dir=tmp_path_factory.mktemp("moto"))
    local = LocalAws(server.endpoint, region="us-east-1", server_log=server.log_path)
    CdkRunner(target=local, cli=ensure_cdk_cli()).bootstrap(MOTO_ACCOUNT, "us-east-1")
    env = {
        **os.environ,
        **{k: v for k, v in local.environ().items() if v is not None},
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "APHEX_CDK_CLI": str(ensure_cdk_cli()),
        "APHEX_INFRA_APP": str(repo_root() / "infra"),
        "APHEX_INFRA_BIN": str(infra_bin()),
        "APHEX_INFRA_CONTEXT": "aphex:stacks=artifacts",
    }
    yield env
    server.stop()


def write_config(path: Path, accounts: list[str]) -> Path:
    data = yaml.safe_load((sample_app_dir() / "aphex-config.yaml").read_text())
    for environment, account in zip(data["environments"], accounts, strict=False):
        environment["account"] = account
    path.write_text(yaml.safe_dump(data))
    return path


def test_context_is_the_config_file_plus_extra_pairs(tmp_path: Path) -> None:
    config = tmp_path / "aphex-config.yaml"
    assert infra_context(config, {"APHEX_INFRA_CONTEXT": "aphex:stacks=artifacts"}) == {
        "aphex:configFile": str(config),
        "aphex:stacks": "artifacts",
    }
    with pytest.raises(StageError, match="expected aphex:KEY=VALUE"):
        infra_context(config, {"APHEX_INFRA_CONTEXT": "stacks"})


def test_deploys_once_then_only_on_change(environ, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    log = logging.getLogger("test.infra")
    config = write_config(tmp_path / "aphex-config.yaml", ["111111111111"] * 3)
    assert deploy_pipeline_infra(config, log, environ) is True
    assert deploy_pipeline_infra(config, log, environ) is False
    assert "pipeline infrastructure unchanged (AphexArtifactsStack)" in caplog.text
    # A new target account changes the execution role's permissions: deployed again.
    write_config(config, ["111111111111", "111111111111", "333333333333"])
    assert deploy_pipeline_infra(config, log, environ) is True


def test_the_record_skips_synth_until_inputs_or_stacks_change(
    environ, tmp_path: Path, caplog, monkeypatch
) -> None:
    caplog.set_level(logging.INFO)
    log = logging.getLogger("test.infra.state")
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, environ[name])
    state = InfraState.connect("aphex-state-test", "aphex-sample", "us-east-1")
    state.s3.create_bucket(Bucket="aphex-state-test")
    config = write_config(tmp_path / "aphex-config.yaml", ["444444444444"] * 3)
    # Someone else's record (another fingerprint) is never trusted: synth and diff.
    state.s3.put_object(Bucket=state.bucket, Key=state.key, Body=b'{"fingerprint": "x"}')
    assert deploy_pipeline_infra(config, log, environ, state=state) is True
    record = json.loads(state.s3.get_object(Bucket=state.bucket, Key=state.key)["Body"].read())
    assert list(record["stacks"]) == ["aphex-aphex-sample-artifacts"]
    caplog.clear()
    assert deploy_pipeline_infra(config, log, environ, state=state) is False
    assert "not synthesized" in caplog.text
    assert "Synthesis" not in caplog.text and "synth" not in caplog.text.replace("synthesized", "")
    # The stack updated behind the pipeline's back: synthesized and diffed again.
    state.cloudformation.update_stack(
        StackName="aphex-aphex-sample-artifacts",
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        Tags=[{"Key": "touched", "Value": "by-hand"}],
    )
    caplog.clear()
    assert deploy_pipeline_infra(config, log, environ, state=state) is False
    assert "pipeline infrastructure unchanged (AphexArtifactsStack)" in caplog.text
    caplog.clear()
    assert deploy_pipeline_infra(config, log, environ, state=state) is False
    assert "not synthesized" in caplog.text
    # A config change that changes the template: deployed; one that does not: diffed only.
    write_config(config, ["444444444444", "444444444444", "555555555555"])
    assert deploy_pipeline_infra(config, log, environ, state=state) is True
    with config.open("a") as handle:
        handle.write("# a comment changes the inputs, not the template\n")
    caplog.clear()
    assert deploy_pipeline_infra(config, log, environ, state=state) is False
    assert "pipeline infrastructure unchanged (AphexArtifactsStack)" in caplog.text
    assert deploy_pipeline_infra(config, log, environ, state=state) is False
    assert "not synthesized" in caplog.text


def test_a_missing_app_is_a_clear_error(environ, tmp_path: Path) -> None:
    with pytest.raises(StageError, match="holds no cdk.json"):
        deploy_pipeline_infra(
            tmp_path / "aphex-config.yaml",
            logging.getLogger("test"),
            {**environ, "APHEX_INFRA_APP": str(tmp_path)},
        )
