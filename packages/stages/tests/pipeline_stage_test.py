"""The pipeline stage's self-update against the fake API server (official client, real HTTP).

`update_template` and `restart_if_topology_changed` are driven directly with a
`KubeCluster`; the stage itself runs end to end through `stage.main([...])` on real git
repositories, with `APHEX_KUBE_HOST` pointing at the fake server.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from aphex_config import AphexConfig, parse_config
from aphex_generator import (
    EnvVar,
    GeneratorSettings,
    Label,
    Output,
    render_workflow_template,
    warm_up,
)
from aphex_monitoring import RunStore
from aphex_stages import selfupdate
from aphex_stages.cluster import kube
from aphex_stages.cluster.kube import HOST_ENV, KubeCluster
from aphex_stages.errors import ExitCode, StageError, StageSuperseded
from aphex_stages.generator_settings import generator_settings_from_env
from aphex_stages.inputs import StageInputs
from aphex_stages.selfupdate import (
    TemplateUpdate,
    is_restart,
    restart_if_topology_changed,
    restart_name,
    update_template,
)
from aphex_stages.stages import pipeline as pipeline_stage
from aphex_testing import pytest_plugin
from aphex_testing.fake_kube import FakeKube, fake_kube_server
from aphex_testing.gitrepos import RemoteRepo, config_yaml, make_remote, sample_files
from aphex_testing.moto_server import MotoServer

NS = "argo"
WT, WF = "workflowtemplates", "workflows"
SHA = "0123456789abcdef0123456789abcdef01234567"
SETTINGS = GeneratorSettings(artifact_bucket="acme-artifacts")
LOG = logging.getLogger("aphex.test.pipeline")

# moto for the stage records, by fixture name.
moto_server = pytest_plugin.moto_server
aws_env = pytest_plugin.aws_env


def environment(name: str, account: str = "111111111111") -> dict[str, Any]:
    return {"name": name, "account": account, "region": "us-east-1", "stacks": [{"name": "App"}]}


def config_data(*envs: str, builder: str | None = None, name: str = "demo") -> dict[str, Any]:
    pipeline: dict[str, Any] = {"name": name, "repository": "https://github.com/acme/demo.git"}
    if builder:
        pipeline["images"] = {"builder": builder}
    return {
        "version": 1,
        "pipeline": pipeline,
        "build": {"commands": ["make"]},
        "environments": [environment(env) for env in envs or ("dev",)],
    }


def config(*envs: str, builder: str | None = None) -> AphexConfig:
    return parse_config(yaml.safe_dump(config_data(*envs, builder=builder), sort_keys=False))


@pytest.fixture(scope="module", autouse=True)
def _compiled_validators() -> None:
    warm_up()


@pytest.fixture()
def server() -> Iterator[FakeKube]:
    with fake_kube_server() as fake:
        yield fake


@pytest.fixture()
def cluster(server: FakeKube) -> KubeCluster:
    from kubernetes.client import ApiClient, Configuration, CustomObjectsApi

    return KubeCluster(CustomObjectsApi(ApiClient(Configuration(host=server.url))), NS)


def no_sleep(_: float) -> None:
    """Conflict backoff without waiting."""


def update(cluster: KubeCluster, cfg: AphexConfig, **kw: Any) -> TemplateUpdate:
    return update_template(cluster, cfg, SETTINGS, log=LOG, sleep=no_sleep, **kw)


def inputs(workflow: str | None = f"demo-{SHA}") -> StageInputs:
    return StageInputs(
        pipeline="demo",
        commit=SHA,
        repository="https://github.com/acme/demo.git",
        workflow_name=workflow,
    )


# -- update_template ------------------------------------------------------------------


def test_first_apply_creates_the_template(cluster: KubeCluster, server: FakeKube) -> None:
    result = update(cluster, config("dev"))
    assert result.applied and not result.changed_topology
    stored = server.get(WT, NS, "demo")
    assert stored is not None
    rendered = render_workflow_template(config("dev"), SETTINGS)
    assert stored["spec"] == rendered["spec"]
    assert stored["metadata"]["annotations"] == rendered["metadata"]["annotations"]
    assert result.resource_version == stored["metadata"]["resourceVersion"]
    dry, real = (r for r in server.requests if r.method == "POST")
    assert dry.query == {"dryRun": "All", "fieldValidation": "Strict"}
    assert real.query == {"fieldValidation": "Strict"}


def test_an_unchanged_template_is_not_applied(cluster: KubeCluster, server: FakeKube) -> None:
    update(cluster, config("dev"))
    before = server.stored_json(WT, NS, "demo")
    writes = len(server.writes())
    result = update(cluster, config("dev"))
    assert not result.applied and not result.changed_topology
    assert len(server.writes()) == writes
    assert server.stored_json(WT, NS, "demo") == before


def test_a_changed_config_is_applied_with_the_fetched_version(
    cluster: KubeCluster, server: FakeKube
) -> None:
    first = update(cluster, config("dev"))
    result = update(cluster, config("dev", builder="registry.example.com/builder:2"))
    assert result.applied and not result.changed_topology
    assert result.diff_lines == ["no topology change"]
    put = [r for r in server.writes(WT) if r.method == "PUT"]
    assert len(put) == 1
    assert put[0].body["metadata"]["resourceVersion"] == first.resource_version
    stored = server.get(WT, NS, "demo")
    assert stored is not None and "registry.example.com/builder:2" in str(stored["spec"])
    assert stored["metadata"]["generation"] == 2


def test_an_invalid_regenerated_template_never_touches_the_live_one(
    cluster: KubeCluster, server: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    update(cluster, config("dev"))
    before = server.stored_json(WT, NS, "demo")
    requests = len(server.requests)

    def broken(cfg: AphexConfig, settings: GeneratorSettings) -> dict[str, Any]:
        doc = render_workflow_template(cfg, settings)
        doc["spec"]["templates"][0]["retryStrategyy"] = {"limit": 1}  # an unknown field
        doc["spec"]["templates"][1]["container"]["args"] = "not-a-list"
        return doc

    monkeypatch.setattr(selfupdate, "render_workflow_template", broken)
    with pytest.raises(StageError) as caught:
        update(cluster, config("dev", "prod"))
    error = caught.value
    assert error.code == ExitCode.TEMPLATE_REJECTED == 11
    assert error.cause.startswith("regenerated WorkflowTemplate failed validation: ")
    assert any("retryStrategyy: unknown field" in line for line in error.details)
    assert any("args: expected array" in line for line in error.details)
    assert server.stored_json(WT, NS, "demo") == before
    assert len(server.requests) == requests  # not even read


def test_a_server_dry_run_rejection_leaves_the_live_one_alone(
    cluster: KubeCluster, server: FakeKube
) -> None:
    update(cluster, config("dev"))
    before = server.stored_json(WT, NS, "demo")
    seen = len(server.requests)
    # An admission policy (say, a validating webhook) refuses the change in the dry run.
    server.inject_fault(422, "Invalid", method="PUT", dry_run=True)
    with pytest.raises(StageError) as caught:
        update(cluster, config("dev", "prod"))
    assert caught.value.code == ExitCode.TEMPLATE_REJECTED
    assert caught.value.cause.startswith(
        "the cluster rejected the regenerated WorkflowTemplate demo: "
    )
    assert caught.value.details == ("injected fault: Invalid",)
    assert server.stored_json(WT, NS, "demo") == before
    assert [(r.method, r.query.get("dryRun")) for r in server.requests[seen:]] == [
        ("GET", None),
        ("PUT", "All"),
    ]


def test_a_namespace_the_server_refuses_is_rejected_in_the_dry_run(
    cluster: KubeCluster, server: FakeKube
) -> None:
    update(cluster, config("dev"))
    before = server.stored_json(WT, NS, "demo")
    other = SETTINGS.with_changes(namespace="elsewhere")
    with pytest.raises(StageError) as caught:
        update_template(cluster, config("dev", "prod"), other, log=LOG, sleep=no_sleep)
    assert caught.value.code == ExitCode.TEMPLATE_REJECTED
    assert "400 BadRequest" in caught.value.cause
    assert server.stored_json(WT, NS, "demo") == before


def test_a_concurrent_update_is_retried_and_succeeds(
    cluster: KubeCluster, server: FakeKube, caplog: pytest.LogCaptureFixture
) -> None:
    update(cluster, config("dev"))
    server.conflict_after_get(WT, NS, "demo", times=2)
    with caplog.at_level(logging.INFO):
        result = update(cluster, config("dev", "prod"))
    assert result.applied and result.changed_topology
    assert result.diff_lines == ["environment added: prod"]
    stored = server.get(WT, NS, "demo")
    rendered = render_workflow_template(config("dev", "prod"), SETTINGS)
    assert stored is not None and stored["spec"] == rendered["spec"]
    assert stored["metadata"]["annotations"] == rendered["metadata"]["annotations"]
    conflicts = [r for r in caplog.records if "changed while updating it" in r.getMessage()]
    assert len(conflicts) == 2
    assert "topology: environment added: prod" in caplog.text


@pytest.mark.parametrize(("status", "reason"), [(504, "GatewayTimeout"), (500, "InternalError")])
def test_a_lost_answer_after_the_apply_still_reports_the_topology_change(
    cluster: KubeCluster, server: FakeKube, status: int, reason: str
) -> None:
    """The server applied the new template but its answer was lost (a 504 whose retry
    meets a 409, or a 500): the stage sees its own template live, reports the change it
    made (so the run restarts on the new topology) and does not fail."""
    update(cluster, config("dev"))
    server.lose_response(status, reason, method="PUT")
    result = update(cluster, config("dev", "prod"))
    assert result.applied and result.changed_topology
    assert result.diff_lines == ["environment added: prod"]
    stored = server.get(WT, NS, "demo")
    assert stored is not None and result.resource_version == stored["metadata"]["resourceVersion"]
    rendered = render_workflow_template(config("dev", "prod"), SETTINGS)
    assert stored["spec"] == rendered["spec"]
    assert len([r for r in server.writes(WT) if r.method == "PUT"]) >= 1


def test_a_failed_apply_that_did_not_land_still_fails(
    cluster: KubeCluster, server: FakeKube
) -> None:
    update(cluster, config("dev"))
    server.inject_fault(500, "InternalError", method="PUT", dry_run=False, times=10)
    with pytest.raises(StageError) as caught:
        update(cluster, config("dev", "prod"))
    assert caught.value.code == ExitCode.CLUSTER_FAILED
    stored = server.get(WT, NS, "demo")
    assert (
        stored is not None and "prod" not in stored["metadata"]["annotations"]["aphex.io/topology"]
    )


def test_a_persistent_conflict_fails_clearly(cluster: KubeCluster, server: FakeKube) -> None:
    update(cluster, config("dev"))
    server.conflict_after_get(WT, NS, "demo", times=100)
    with pytest.raises(StageError) as caught:
        update(cluster, config("dev", "prod"), attempts=3)
    assert caught.value.code == ExitCode.CLUSTER_FAILED
    assert "kept changing while it was being updated: 3 attempts" in caught.value.cause
    stored = server.get(WT, NS, "demo")
    assert (
        stored is not None and "prod" not in stored["metadata"]["annotations"]["aphex.io/topology"]
    )


def test_a_foreign_live_template_counts_as_a_topology_change(
    cluster: KubeCluster, server: FakeKube
) -> None:
    foreign = render_workflow_template(config("dev"), SETTINGS)
    del foreign["metadata"]["annotations"]
    cluster.apply_template(foreign, None)
    result = update(cluster, config("dev"))
    assert result.applied and result.changed_topology
    assert "no readable topology" in result.diff_lines[0]


# -- restart_if_topology_changed --------------------------------------------------------


def test_restart_names_are_short_dns_labels() -> None:
    assert restart_name("demo", SHA) == "demo-0123456789ab-r1"
    long = restart_name("p" * 40, SHA)
    assert len(long) <= 63 and long.endswith("-0123456789ab-r1")
    assert is_restart(restart_name("demo", SHA))
    assert not is_restart(f"demo-{SHA}")
    assert not is_restart("demo-x7k2p")


def test_a_topology_change_restarts_exactly_once(cluster: KubeCluster, server: FakeKube) -> None:
    update(cluster, config("dev"))
    result = update(cluster, config("dev", "prod"))
    assert result.changed_topology
    with pytest.raises(StageSuperseded) as caught:
        restart_if_topology_changed(cluster, result, inputs(), "demo", log=LOG)
    name = restart_name("demo", SHA)
    assert caught.value.reason == f"topology changed: environment added: prod; restarted as {name}"
    (workflow,) = server.objects(WF, NS)
    assert workflow["metadata"]["name"] == name
    assert workflow["metadata"]["labels"][Label.RESTART_OF] == f"demo-{SHA}"
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "demo"}
    params = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert params == {"commit-sha": SHA, "repo-url": "https://github.com/acme/demo.git"}

    # A duplicate delivery of the same run: AlreadyExists, still superseded, no second one.
    with pytest.raises(StageSuperseded):
        restart_if_topology_changed(cluster, result, inputs(), "demo", log=LOG)
    assert len(server.objects(WF, NS)) == 1

    # The restarted run itself never restarts again, even if the topology moved once more.
    restart_if_topology_changed(cluster, result, inputs(name), "demo", log=LOG)
    assert len(server.objects(WF, NS)) == 1


def test_no_topology_change_no_restart(cluster: KubeCluster, server: FakeKube) -> None:
    result = update(cluster, config("dev"))
    restart_if_topology_changed(cluster, result, inputs(), "demo", log=LOG)
    assert server.objects(WF, NS) == []


def test_without_a_workflow_name_there_is_nothing_to_restart(
    cluster: KubeCluster, server: FakeKube
) -> None:
    changed = TemplateUpdate(True, ["environment added: prod"], True)
    restart_if_topology_changed(cluster, changed, inputs(None), "demo", log=LOG)
    assert server.objects(WF, NS) == []


def test_a_failed_restart_submission_is_a_cluster_failure(
    cluster: KubeCluster, server: FakeKube
) -> None:
    changed = TemplateUpdate(True, ["environment added: prod"], True)
    server.inject_fault(403, "Forbidden")
    with pytest.raises(StageError) as caught:
        restart_if_topology_changed(cluster, changed, inputs(), "demo", log=LOG)
    assert caught.value.code == ExitCode.CLUSTER_FAILED
    assert "could not be submitted" in caught.value.cause


# -- the stage, end to end ----------------------------------------------------------------

BUCKET = "pipeline-stage-artifacts"


def env_entry(name: str) -> dict[str, Any]:
    return {**environment(name), "stacks": [{"name": "AppStack"}]}


def app_files(*envs: str, name: str = "demo") -> dict[str, str | bytes]:
    return sample_files(config_yaml(name=name, environments=[env_entry(e) for e in envs]))


@pytest.fixture()
def stage_env(
    server: FakeKube, aws_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeKube:
    """The pod's environment: the fake API server, the moto bucket, a work directory."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.delenv(EnvVar.INFRA_APP, raising=False)
    for name in (EnvVar.NAMESPACE, EnvVar.WORKFLOW_NAME):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(HOST_ENV, server.url)
    monkeypatch.setenv(EnvVar.ARTIFACT_BUCKET, BUCKET)
    monkeypatch.setenv(EnvVar.WORK_DIR, str(tmp_path / "work"))
    monkeypatch.setenv(EnvVar.OUTPUTS_DIR, str(tmp_path / "outputs"))
    return server


def run(remote: RemoteRepo, sha: str, workflow: str, pipeline: str = "demo") -> int:
    argv = ["--pipeline", pipeline, "--commit", sha, "--repository", remote.url]
    return pipeline_stage.main([*argv, "--workflow-name", workflow])


def superseded_output() -> str:
    """The pipeline stage's output parameter, as Argo reads it from the pod."""
    return (Path(os.environ[EnvVar.OUTPUTS_DIR]) / Output.SUPERSEDED).read_text().strip()


def stage_status(workflow: str) -> str:
    (record,) = RunStore(BUCKET, boto3.client("s3")).read_stages("demo", workflow)
    return str(record.status)


def test_stage_applies_restarts_once_and_the_restart_does_not_restart(
    stage_env: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = stage_env
    remote = make_remote(tmp_path, app_files("dev"))

    # The first run creates the template: nothing to compare, nothing to restart.
    first = f"demo-{remote.sha}"
    assert run(remote, remote.sha, first) == 0
    assert superseded_output() == "false"
    live = server.get(WT, NS, "demo")
    assert live is not None
    assert live["spec"]["arguments"]["parameters"][0]["name"] == "commit-sha"
    assert server.objects(WF, NS) == []
    assert stage_status(first) == "Succeeded"

    # A commit adds an environment: the template is updated and the run restarted once.
    sha = remote.push_commit(
        {"aphex-config.yaml": config_yaml(environments=[env_entry("dev"), env_entry("prod")])}
    )
    current = f"demo-{sha}"
    assert run(remote, sha, current) == 0  # superseded is an outcome, not a failure
    assert superseded_output() == "true"
    err = capsys.readouterr().err
    assert f"{EnvVar.INFRA_APP} is not set: not deploying the pipeline's own CDK app" in err
    assert "topology: environment added: prod" in err
    restart = restart_name("demo", sha)
    assert f"restarted as {restart}" in err
    (workflow,) = server.objects(WF, NS)
    assert workflow["metadata"]["name"] == restart
    assert workflow["metadata"]["labels"][Label.RESTART_OF] == current
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "demo"}
    assert stage_status(current) == "Superseded"
    topology = server.get(WT, NS, "demo")
    assert (
        topology is not None
        and '"prod"' in topology["metadata"]["annotations"]["aphex.io/topology"]
    )

    # Meanwhile a run of the older commit puts the old topology back (a race).
    cluster = KubeCluster.from_environment(NS)
    old_config = parse_config(config_yaml(environments=[env_entry("dev")]))
    old = render_workflow_template(old_config, generator_settings_from_env())
    live_now = cluster.get_template("demo")
    assert live_now is not None
    cluster.apply_template(old, live_now.resource_version)

    # The restarted run applies the topology again but never restarts a second time.
    assert run(remote, sha, restart) == 0
    err = capsys.readouterr().err
    assert "already restarted commit" in err
    assert len(server.objects(WF, NS)) == 1
    assert stage_status(restart) == "Succeeded"


def test_a_self_update_of_an_unchanged_config_is_a_no_op(
    stage_env: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed with every setting a pod sees (the region and the install-time context of
    the pipeline's own stacks included), the pipeline stage re-renders the very template it
    runs from, so it applies nothing."""
    server = stage_env
    remote = make_remote(tmp_path, app_files("dev"))
    installed = GeneratorSettings(
        artifact_bucket=BUCKET,
        aws_region="eu-west-1",
        service_account="aphex-demo",
        builder_image="registry.example/aphex-builder:7",
        deployer_image="registry.example/aphex-deployer:7",
        toolchain_cache_claim="aphex-toolchains",
        infra_context="aphex:adminRoleArn=arn:aws:iam::123456789012:role/ops",
    )
    template = render_workflow_template(
        parse_config(config_yaml(environments=[env_entry("dev")])), installed
    )
    KubeCluster.from_environment(NS).apply_template(template, None)
    # The pod's environment is what the template gives the pipeline-deployment container.
    (pipeline,) = (t for t in template["spec"]["templates"] if t["name"] == "pipeline-deployment")
    pod_env = {e["name"]: e["value"] for e in pipeline["container"]["env"]}
    assert pod_env[EnvVar.REGION] == "eu-west-1"
    # The pipeline's own app is synthesized with exactly the install's context.
    assert pod_env[EnvVar.INFRA_CONTEXT] == installed.infra_context
    for name, value in pod_env.items():
        monkeypatch.setenv(name, value.replace("{{workflow.name}}", f"demo-{remote.sha}"))
    writes = len(server.writes(WT))
    assert run(remote, remote.sha, f"demo-{remote.sha}") == 0
    assert len(server.writes(WT)) == writes
    assert server.get(WT, NS, "demo") is not None


def test_stage_with_an_invalid_config_exits_4_and_leaves_the_template(
    stage_env: FakeKube, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path, app_files("dev"))
    assert run(remote, remote.sha, f"demo-{remote.sha}") == 0
    before = stage_env.stored_json(WT, NS, "demo")
    sha = remote.push_commit({"aphex-config.yaml": "version: 1\npipeline: {name: demo}\n"})
    assert run(remote, sha, f"demo-{sha}") == ExitCode.CONFIG_INVALID
    assert stage_env.stored_json(WT, NS, "demo") == before


def test_the_deployer_tools_are_checked_before_anything_deploys(
    stage_env: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline stage is the first in the deployer image: it checks the CDK CLI against
    the app's pin and the test commands' programs there, and applies nothing on a problem."""
    env = {**env_entry("dev"), "tests": {"commands": [["absent-test-runner-aphex", "-q"]]}}
    files = sample_files(
        config_yaml(environments=[env]),
        **{"package.json": json.dumps({"devDependencies": {"aws-cdk": "2.0.0"}})},
    )
    remote = make_remote(tmp_path, files)
    assert run(remote, remote.sha, f"demo-{remote.sha}") == ExitCode.PRECONDITION_FAILED
    err = capsys.readouterr().err
    assert "the deployer cannot deploy this commit: 2 problems" in err
    assert "`absent-test-runner-aphex` is not on PATH" in err
    assert "does not match the aws-cdk pin '2.0.0' of package.json" in err
    assert stage_env.get(WT, NS, "demo") is None and not stage_env.writes(WT)


def test_stage_refuses_a_config_of_another_pipeline(stage_env: FakeKube, tmp_path: Path) -> None:
    remote = make_remote(tmp_path, app_files("dev", name="other"))
    assert run(remote, remote.sha, f"demo-{remote.sha}") == ExitCode.CONFIG_INVALID
    assert stage_env.objects(WT) == []


def test_stage_with_a_rejected_template_exits_11_and_keeps_the_live_one(
    stage_env: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    remote = make_remote(tmp_path, app_files("dev"))
    assert run(remote, remote.sha, f"demo-{remote.sha}") == 0
    before = stage_env.stored_json(WT, NS, "demo")
    real_render = selfupdate.render_workflow_template

    def with_typo(cfg: AphexConfig, settings: GeneratorSettings) -> dict[str, Any]:
        doc = real_render(cfg, settings)
        doc["spec"]["entrypointt"] = doc["spec"]["entrypoint"]
        return doc

    monkeypatch.setattr(selfupdate, "render_workflow_template", with_typo)
    sha = remote.push_commit(
        {"aphex-config.yaml": config_yaml(environments=[env_entry("dev"), env_entry("qa")])}
    )
    assert run(remote, sha, f"demo-{sha}") == ExitCode.TEMPLATE_REJECTED
    err = capsys.readouterr().err
    assert "regenerated WorkflowTemplate failed validation: 1 problems" in err
    assert "spec.entrypointt: unknown field" in err
    assert stage_env.stored_json(WT, NS, "demo") == before
    assert stage_env.objects(WF) == []


def test_stage_without_a_reachable_cluster_exits_13(
    stage_env: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with fake_kube_server() as gone:
        url = gone.url
    monkeypatch.setenv(HOST_ENV, url)
    monkeypatch.setattr(kube, "BACKOFF", (0.01,))
    remote = make_remote(tmp_path, app_files("dev"))
    assert run(remote, remote.sha, f"demo-{remote.sha}") == ExitCode.CLUSTER_FAILED
    assert f"cannot reach the Kubernetes API at {url}" in capsys.readouterr().err


def test_stage_without_the_bucket_is_a_usage_error(
    stage_env: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APHEX_ARTIFACT_BUCKET")
    remote = make_remote(tmp_path, app_files("dev"))
    assert run(remote, remote.sha, f"demo-{remote.sha}") == ExitCode.USAGE
    assert stage_env.requests == []


def test_a_run_of_an_older_commit_after_a_newer_one_deploys_nothing(
    stage_env: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A slow run of an older commit (or a replayed webhook) reaches the pipeline stage
    after a newer commit's: it never puts the older template back and deploys nothing."""
    server = stage_env
    remote = make_remote(tmp_path, app_files("dev"))
    older = remote.sha
    newer = remote.push_commit(
        {"aphex-config.yaml": config_yaml(environments=[env_entry("dev"), env_entry("prod")])},
        date="2030-01-01T00:00:00Z",
    )
    assert run(remote, newer, f"demo-{newer}") == 0
    live = server.get(WT, NS, "demo")
    assert live is not None and superseded_output() == "false"
    capsys.readouterr()

    assert run(remote, older, f"demo-{older}") == 0  # an outcome, not a failure
    assert superseded_output() == "true"
    err = capsys.readouterr().err
    assert f"commit {newer[:12]}" in err and "the pipeline only moves forward" in err
    after = server.get(WT, NS, "demo")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    assert stage_status(f"demo-{older}") == "Superseded"
