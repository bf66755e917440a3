"""A local run's Secrets: files under .aphex/local/secrets become Secrets of the local API
server (over HTTP, through the official client), and a task's secretKeyRef reads them
when it starts, as a pod's does; a missing one stops the task with the file to write."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import CoreV1Api

from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.local.executor import LocalWorkflow
from aphex_stages.local.secrets import install_local_secrets, secret_reader
from aphex_stages.local.workflow import plan_from_template
from aphex_testing.fake_kube import fake_kube_server

NS = "argo"


@pytest.fixture()
def admin() -> Iterator[KubeCluster]:
    with fake_kube_server() as server:
        cluster = KubeCluster.with_token(server.url, server.admin_token, NS)
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
        CoreV1Api(cluster.api_client).create_namespace(body)
        yield cluster


def _template(env: list[dict[str, Any]]) -> dict[str, Any]:
    code = "import os; open(os.environ['OUT'], 'w').write(os.environ['HOOK'])"
    task = {
        "name": "notify",
        "container": {"image": "x", "command": [sys.executable], "args": ["-c", code], "env": env},
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "demo"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "dag": {"tasks": [{"name": "notify", "template": "notify"}]}}, task],
        },
    }  # fmt: skip


def _execute(admin: KubeCluster, doc: dict[str, Any], folder: Path, out: Path) -> Any:
    """Run `doc` locally, its Secrets read from the API server (errors naming `folder`);
    its tasks get `OUT`, and the run's folders are beside it."""
    return LocalWorkflow(
        plan_from_template(doc),
        workflow_name="demo-1",
        parameters={},
        run_dir=out.parent / "run",
        lock_dir=out.parent / "locks",
        base_env={"OUT": str(out)},
        secrets=secret_reader(admin, NS, folder),
    ).run()


def _run(admin: KubeCluster, folder: Path, out: Path, env: list[dict[str, Any]]) -> Any:
    return _execute(admin, _template(env), folder, out)


def test_a_secret_key_ref_reads_the_installed_secret(admin: KubeCluster, tmp_path: Path) -> None:
    folder = tmp_path / ".aphex" / "local" / "secrets"
    (folder / "slack").mkdir(parents=True)
    (folder / "slack" / "url").write_text("http://127.0.0.1:9/hook\n")
    assert install_local_secrets(admin, NS, folder, "demo") == ["slack"]
    assert install_local_secrets(admin, NS, folder, "demo") == ["slack"]  # replaced, not 409
    ref = {"secretKeyRef": {"name": "slack", "key": "url"}}
    out = tmp_path / "out.txt"
    result = _run(admin, folder, out, [{"name": "HOOK", "valueFrom": ref}])
    assert result.phase == "Succeeded"
    assert out.read_text() == "http://127.0.0.1:9/hook"
    # The value is in no record or log of the run.
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert "127.0.0.1:9/hook" not in path.read_text(errors="replace"), path


@pytest.mark.parametrize(("name", "key"), [("absent", "url"), ("slack", "token")])
def test_a_missing_secret_or_key_stops_the_task_naming_the_file(
    admin: KubeCluster, tmp_path: Path, name: str, key: str
) -> None:
    folder = tmp_path / "secrets"
    (folder / "slack").mkdir(parents=True)
    (folder / "slack" / "url").write_text("x")
    install_local_secrets(admin, NS, folder, "demo")
    ref = {"secretKeyRef": {"name": name, "key": key}}
    out = tmp_path / "out.txt"
    result = _run(admin, folder, out, [{"name": "HOOK", "valueFrom": ref}])
    assert result.phase != "Succeeded" and not out.exists()
    (task,) = result.failed_tasks()
    assert task.phase == "Errored"
    assert f"put the value in {folder / name / key}" in str(task.cause)


def test_an_optional_secret_that_is_missing_leaves_the_variable_unset(
    admin: KubeCluster, tmp_path: Path
) -> None:
    """As the kubelet does: a notification's Secret is optional, so its absence never stops
    the exit handler (monitoring then skips that channel)."""
    code = "import os; open(os.environ['OUT'], 'w').write(repr(os.environ.get('HOOK')))"
    ref = {"secretKeyRef": {"name": "absent", "key": "url", "optional": True}}
    doc = _template([{"name": "HOOK", "valueFrom": ref}])
    doc["spec"]["templates"][1]["container"]["args"] = ["-c", code]
    out = tmp_path / "out.txt"
    result = _execute(admin, doc, tmp_path / "secrets", out)
    assert result.phase == "Succeeded"
    assert out.read_text() == "None"


def _secret_volume_pod(second_volume: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pod of two containers: `reader` mounts the token's Secret and reads it through
    the variable naming its file; `after` (no mount) looks for what `reader` saw."""
    reads = (
        "import os, pathlib; path = os.environ['TOKEN_FILE'];"
        " open(os.environ['OUT'], 'w').write(pathlib.Path(path).read_text() + '|' + path)"
    )
    looks = (
        "import os, pathlib; seen = open(os.environ['OUT']).read().split('|')[1];"
        " open(os.environ['OUT'], 'a').write('|gone' if not pathlib.Path(seen).exists() else '|left')"
    )
    mounts = [{"name": "token", "mountPath": "/var/run/secrets/demo", "readOnly": True}]
    volumes = [
        {
            "name": "token",
            "secret": {"secretName": "repo", "items": [{"key": "token", "path": "token"}]},
        }
    ]
    if second_volume is not None:
        mounts.append({"name": "other", "mountPath": "/var/run/secrets/other"})
        volumes.append({"name": "other", **second_volume})
    pod = {
        "name": "pod",
        "containerSet": {
            "containers": [
                {
                    "name": "reader",
                    "image": "x",
                    "command": [sys.executable],
                    "args": ["-c", reads],
                    "env": [{"name": "TOKEN_FILE", "value": "/var/run/secrets/demo/token"}],
                    "volumeMounts": mounts,
                },
                {
                    "name": "main",
                    "image": "x",
                    "command": [sys.executable],
                    "args": ["-c", looks],
                    "dependencies": ["reader"],
                },
            ]
        },
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "demo"},
        "spec": {
            "entrypoint": "main",
            "volumes": volumes,
            "templates": [{"name": "main", "dag": {"tasks": [{"name": "pod", "template": "pod"}]}}, pod],
        },
    }  # fmt: skip


def _run_pod(admin: KubeCluster, tmp_path: Path, doc: dict[str, Any]) -> Any:
    """Install the Secret `repo` (key `token`: s3cret), then run the pod `doc`."""
    folder = tmp_path / "secrets"
    (folder / "repo").mkdir(parents=True)
    (folder / "repo" / "token").write_text("s3cret\n")
    install_local_secrets(admin, NS, folder, "demo")
    return _execute(admin, doc, folder, tmp_path / "out.txt")


def test_a_secret_volume_exists_only_for_the_container_that_mounts_it(
    admin: KubeCluster, tmp_path: Path
) -> None:
    result = _run_pod(admin, tmp_path, _secret_volume_pod())
    assert result.phase == "Succeeded", result.tasks["pod"].cause
    value, path, after = (tmp_path / "out.txt").read_text().split("|")
    assert value == "s3cret"  # read through the API, at the path the variable names
    assert after == "gone"  # deleted when `reader` ended, before `main` started
    leftovers = [
        p
        for p in (tmp_path / "run").rglob("*")
        if "s3cret" in p.name or p.is_file() and "s3cret" in p.read_text(errors="ignore")
    ]
    assert leftovers == []


def test_a_secret_volume_that_cannot_be_read_stops_the_task_and_leaves_no_files(
    admin: KubeCluster, tmp_path: Path
) -> None:
    missing = {"secret": {"secretName": "absent", "items": [{"key": "k", "path": "k"}]}}
    result = _run_pod(admin, tmp_path, _secret_volume_pod(second_volume=missing))
    assert result.phase != "Succeeded"
    assert "secret absent is not in namespace argo" in (result.tasks["pod"].cause or "")
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert not [p for p in files if "s3cret" in p.read_text(errors="ignore")]
