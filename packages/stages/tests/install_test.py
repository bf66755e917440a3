"""`aphex install` against a moto server and the fake Kubernetes API server, over HTTP.

The pipeline's own CDK app (infra/, `aphex:stacks=artifacts`: moto cannot hold EKS) is
synthesized and deployed by the real CDK CLI into moto: the artifacts stack into the
pipeline account, the deploy-role stack into the target account. CDK bootstrap, a manual
step of the install, is done by the fixture. The tests run in order, on one install:

1. an unreachable cluster stops the install after the stacks, with one line on stderr;
2. running it again with the cluster's kubeconfig completes it (-o json);
3. a third run changes nothing and says so;
4. a write the API server refuses (an admission webhook) leaves its step unapplied, and
   the next run completes it.

The ExternalId is never in what the command prints.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from kubernetes.client import CustomObjectsApi
from kubernetes.config import new_client_from_config

from aphex_generator import EXTERNAL_ID_KEY, EXTERNAL_ID_SECRET, IRSA_ROLE_ANNOTATION, EnvVar
from aphex_stages.cdk import AwsTarget
from aphex_stages.cdk.aws import boto3_client
from aphex_stages.cli import main
from aphex_testing.cdk import account_target, bootstrap_local, ensure_cdk_cli, infra_app_env
from aphex_testing.fake_kube import FakeKube
from aphex_testing.moto_server import MotoServer, free_port, start_moto_server

#: The prefix of the temporary folders of `aphex install` (aphex_stages.install.stacks).
SCRATCH_PREFIX = "aphex-install-stacks-"
PIPELINE = "shop"
NAMESPACE = "argo"
PIPELINE_ACCOUNT = "123456789012"  # moto's account of its default credentials
TARGET_ACCOUNT = "111111111111"
REGION = "us-east-1"
CONFIG = {
    "version": 1,
    "pipeline": {
        "name": PIPELINE,
        "repository": "https://github.com/example/shop.git",
        "branch": "main",
    },
    "build": {"commands": [["true"]]},
    "environments": [
        {"name": "dev", "account": TARGET_ACCOUNT, "region": REGION, "stacks": [{"name": "App"}]}
    ],
}
EVENT_SOURCE, SENSOR = f"{PIPELINE}-github", f"{PIPELINE}-push"
ARTIFACTS_STACK = f"aphex-{PIPELINE}-artifacts"
DEPLOY_ROLE_STACK = f"aphex-{PIPELINE}-deploy-role"
SERVICE_ACCOUNTS = [
    "aphex-pipeline-build",
    "aphex-pipeline",
    "aphex-pipeline-deploy-dev",
    "aphex-pipeline-notify",
]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the pipeline's app and the CDK CLI are; no AWS settings of this machine."""
    monkeypatch.setenv(EnvVar.CDK_CLI, str(ensure_cdk_cli()))
    for name, value in infra_app_env().items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto server with the CDK bootstrapped in both accounts (docs step 2, by hand)."""
    with start_moto_server(log_dir=tmp_path_factory.mktemp("moto")) as running:
        pairs = [(PIPELINE_ACCOUNT, REGION), (TARGET_ACCOUNT, REGION)]
        bootstrap_local(running, pairs, cli=ensure_cdk_cli())
        yield running


@pytest.fixture(scope="module")
def kube() -> Iterator[FakeKube]:
    with FakeKube(authenticate=True, enforce_namespaces=True) as running:
        yield running


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("repo")
    (path / "aphex-config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    return path


def _kubeconfig(folder: Path, url: str, token: str) -> Path:
    path = folder / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "install", "context": {"cluster": "fake", "user": "admin"}}],
        "current-context": "install",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory, kube: FakeKube) -> Path:
    return _kubeconfig(tmp_path_factory.mktemp("kube"), kube.url, kube.admin_token)


def _install(
    capfd: pytest.CaptureFixture[str],
    repo: Path,
    server: MotoServer,
    kubeconfig: Path,
    *extra: str,
) -> tuple[int, str, str]:
    """`aphex install` of the artifacts-only pipeline; (exit code, stdout, stderr)."""
    capfd.readouterr()
    code = main(
        [
            "install",
            str(repo),
            "--kubeconfig",
            str(kubeconfig),
            "--context",
            "install",
            "--region",
            REGION,
            "--aws-endpoint",
            server.endpoint,
            "--infra-context",
            "aphex:stacks=artifacts",
            "--git-token-secret",
            "repo-token:pat",
            *extra,
        ]
    )
    out, err = capfd.readouterr()
    return code, out, err


def _target(server: MotoServer, account: str) -> AwsTarget:
    return account_target(server, account, REGION)


def _stacks(server: MotoServer) -> dict[str, str]:
    """The pipeline's stacks in both accounts: name -> status and last change."""
    found = {}
    for account in (PIPELINE_ACCOUNT, TARGET_ACCOUNT):
        cloudformation = boto3_client(_target(server, account), "cloudformation")
        for stack in cloudformation.describe_stacks()["Stacks"]:
            if stack["StackName"].startswith(f"aphex-{PIPELINE}-"):
                changed = stack.get("LastUpdatedTime") or stack["CreationTime"]
                found[f"{account}/{stack['StackName']}"] = f"{stack['StackStatus']} {changed}"
    return found


def _secret(kube: FakeKube, name: str, key: str) -> str:
    stored = kube.get("secrets", NAMESPACE, name)
    assert stored is not None, f"no Secret {name}"
    return base64.b64decode(stored["data"][key]).decode("utf-8")


def _scratch() -> set[str]:
    """The install's temporary folders (it removes each)."""
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith(SCRATCH_PREFIX)}


def test_bad_input_is_one_line_and_valid_json(
    capfd: pytest.CaptureFixture[str], repo: Path, tmp_path: Path
) -> None:
    code = main(["install", str(repo), "--region", REGION, "--infra-context", "stacks=all"])
    out, err = capfd.readouterr()
    assert code == 2
    assert err.splitlines() == [
        "aphex install: --infra-context: expected aphex:KEY=VALUE pairs, got 'stacks=all'"
    ]
    code = main(
        ["install", str(tmp_path), "--region", REGION, "-o", "json"]  # no aphex-config.yaml
    )
    out, err = capfd.readouterr()
    assert code == 2
    result = json.loads(out)
    assert result["ok"] is False
    assert "no aphex-config.yaml" in result["error"]
    assert [step["status"] for step in result["steps"]] == ["not run"] * 7
    assert "Traceback" not in err
    code = main(["install", str(repo), "--region", REGION, "--git-token-secret", "name:"])
    out, err = capfd.readouterr()
    assert code == 2 and len(err.splitlines()) == 1 and "--git-token-secret" in err


def test_an_unreachable_cluster_stops_the_install_after_the_stacks(
    capfd: pytest.CaptureFixture[str],
    repo: Path,
    server: MotoServer,
    kube: FakeKube,
    tmp_path: Path,
) -> None:
    before = _scratch()
    dead = _kubeconfig(tmp_path, f"http://127.0.0.1:{free_port()}", "unused-token")
    code, out, err = _install(capfd, repo, server, dead)
    assert code == 1, out + err
    assert len(err.splitlines()) == 1, err
    assert "cannot reach the Kubernetes API" in err
    assert "run `aphex install` again to resume" in err
    assert f"{ARTIFACTS_STACK}: deployed" in out
    assert "[2/7] the namespace" in out and "[3/7]" not in out
    assert list(_stacks(server)) == [f"{PIPELINE_ACCOUNT}/{ARTIFACTS_STACK}"]
    assert kube.objects("namespaces") == []
    assert _scratch() <= before


def test_running_it_again_completes_the_install(
    capfd: pytest.CaptureFixture[str],
    repo: Path,
    server: MotoServer,
    kube: FakeKube,
    kubeconfig: Path,
) -> None:
    before = _scratch()
    code, out, err = _install(capfd, repo, server, kubeconfig, "-o", "json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] is True and result["error"] is None
    assert result["account"] == PIPELINE_ACCOUNT
    statuses = [step["status"] for step in result["steps"]]
    assert statuses == ["unchanged", "done", "done", "done", "done", "done", "done"]
    assert "[7/7] the webhook URL" in err  # progress on stderr with -o json
    assert result["webhook_url"] is None
    assert "no webhook endpoint" in result["steps"][6]["notes"][0]

    # (3) and (4): the stacks of both accounts.
    assert sorted(_stacks(server)) == [
        f"{TARGET_ACCOUNT}/{DEPLOY_ROLE_STACK}",
        f"{PIPELINE_ACCOUNT}/{ARTIFACTS_STACK}",
    ]
    # (2) the ExternalId: random, made once, trusted by the target account's deploy role,
    # and never printed.
    external_id = _secret(kube, EXTERNAL_ID_SECRET, EXTERNAL_ID_KEY)
    assert len(external_id) == 32
    assert external_id not in out and external_id not in err
    role = boto3_client(_target(server, TARGET_ACCOUNT), "iam").get_role(RoleName="aphex-deploy")
    trust = json.dumps(role["Role"]["AssumeRolePolicyDocument"])
    assert external_id in trust
    webhook = _secret(kube, "aphex-github-webhook", "secret")
    assert len(webhook) == 64 and webhook not in out and webhook not in err
    assert "kubectl -n argo get secret aphex-github-webhook" in out

    # (5) one ServiceAccount, Role and RoleBinding per identity, the Sensor's, the approvers'.
    for name in SERVICE_ACCOUNTS:
        account = kube.get("serviceaccounts", NAMESPACE, name)
        assert account is not None, name
        role_arn = account["metadata"]["annotations"][IRSA_ROLE_ANNOTATION]
        assert role_arn.startswith(f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/aphex-{PIPELINE}-")
        assert kube.get("roles", NAMESPACE, name) is not None
        assert kube.get("rolebindings", NAMESPACE, name) is not None
    assert kube.get("serviceaccounts", NAMESPACE, "aphex-sensor") is not None
    # The gate approvers' Role, bound to their group (people, not a service account).
    approvers = kube.get("rolebindings", NAMESPACE, f"{PIPELINE}-approvers")
    assert approvers is not None and kube.get("roles", NAMESPACE, f"{PIPELINE}-approvers")
    assert approvers["subjects"][0]["name"] == f"aphex:{PIPELINE}:approvers"

    # (6) the Events manifests and the template, with this install's settings.
    assert kube.get("eventbus", NAMESPACE, "default") is not None
    assert kube.get("eventsources", NAMESPACE, EVENT_SOURCE) is not None
    assert kube.get("sensors", NAMESPACE, SENSOR) is not None
    template = kube.stored_json("workflowtemplates", NAMESPACE, PIPELINE)
    assert template is not None
    assert f"aphex-{PIPELINE_ACCOUNT}-{PIPELINE}" in template  # the artifacts stack's bucket
    assert "aphex:stacks=artifacts" in template
    assert "repo-token" in template  # a private repository: the token's Secret is mounted
    assert external_id not in template
    assert _scratch() <= before


def _events(kube: FakeKube) -> list[dict[str, Any]]:
    return [
        *kube.objects("eventsources", NAMESPACE),
        *kube.objects("sensors", NAMESPACE),
    ]


def test_a_second_install_changes_nothing(
    capfd: pytest.CaptureFixture[str],
    repo: Path,
    server: MotoServer,
    kube: FakeKube,
    kubeconfig: Path,
) -> None:
    stacks = _stacks(server)
    external_id = _secret(kube, EXTERNAL_ID_SECRET, EXTERNAL_ID_KEY)
    version = kube.resource_version
    writes = len(kube.writes())
    code, out, err = _install(capfd, repo, server, kubeconfig)
    assert code == 0, out + err
    assert err == ""
    assert out.count("already done") == 6  # every step but the webhook URL's
    assert "deployed" not in out and "created" not in out and "updated" not in out
    assert _stacks(server) == stacks
    assert kube.resource_version == version and len(kube.writes()) == writes
    assert _secret(kube, EXTERNAL_ID_SECRET, EXTERNAL_ID_KEY) == external_id
    assert external_id not in out


def test_a_refused_step_applies_nothing_and_the_next_run_completes_it(
    capfd: pytest.CaptureFixture[str],
    repo: Path,
    server: MotoServer,
    kube: FakeKube,
    kubeconfig: Path,
) -> None:
    admin = CustomObjectsApi(new_client_from_config(str(kubeconfig)))
    for plural, name in (("eventsources", EVENT_SOURCE), ("sensors", SENSOR)):
        admin.delete_namespaced_custom_object("argoproj.io", "v1alpha1", NAMESPACE, plural, name)
    template = kube.stored_json("workflowtemplates", NAMESPACE, PIPELINE)
    # An admission webhook refuses the first write the step checks (a server dry run).
    kube.inject_fault(422, "Invalid", method="POST", dry_run=True)
    writes = len(kube.writes())
    code, out, err = _install(capfd, repo, server, kubeconfig)
    assert code == 1, out + err
    assert len(err.splitlines()) == 1 and "refused to dry-run create EventSource" in err
    assert "[6/7]" in out and "[7/7]" not in out
    assert _events(kube) == [] and len(kube.writes()) == writes
    assert kube.stored_json("workflowtemplates", NAMESPACE, PIPELINE) == template

    code, out, err = _install(capfd, repo, server, kubeconfig, "-o", "json")
    assert code == 0, out + err
    result = json.loads(out)
    statuses = [step["status"] for step in result["steps"]]
    assert statuses == ["unchanged"] * 5 + ["done", "done"]
    created = [item["name"] for item in result["steps"][5]["items"] if item["result"] == "created"]
    assert created == [f"EventSource {EVENT_SOURCE}", f"Sensor {SENSOR}"]
    assert len(_events(kube)) == 2
    external_id = _secret(kube, EXTERNAL_ID_SECRET, EXTERNAL_ID_KEY)
    assert external_id not in out and external_id not in err
