"""KubeCluster against the fake API server over HTTP, through the official client."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aphex_stages.cluster import (
    ClusterConflict,
    ClusterError,
    ClusterRejected,
    cluster_from_env,
)
from aphex_stages.cluster.kube import HOST_ENV, KubeCluster
from aphex_testing.fake_kube import FakeKube, fake_kube_server

NS = "argo"
WT, WF = "workflowtemplates", "workflows"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKube]:
    with fake_kube_server() as fake:
        yield fake


@pytest.fixture()
def cluster(server: FakeKube, monkeypatch: pytest.MonkeyPatch) -> KubeCluster:
    monkeypatch.setenv(HOST_ENV, server.url)
    made = cluster_from_env(NS)
    assert isinstance(made, KubeCluster)
    return made


def template(name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name or f"tpl-{next(_names)}", "labels": {"app": "demo"}},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "busybox"}}],
        },
    }


def name_of(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["name"])


def test_get_of_a_missing_template_is_none(cluster: KubeCluster) -> None:
    assert cluster.get_template("absent") is None


def test_create_then_replace_with_the_fetched_version(
    cluster: KubeCluster, server: FakeKube
) -> None:
    doc = template()
    created = cluster.apply_template(doc, None)
    assert created.resource_version == created.doc["metadata"]["resourceVersion"]
    live = cluster.get_template(name_of(doc))
    assert live is not None and live.resource_version == created.resource_version
    changed = copy.deepcopy(doc)
    changed["metadata"]["labels"]["v"] = "2"
    replaced = cluster.apply_template(changed, live.resource_version)
    assert int(replaced.resource_version) > int(created.resource_version)
    stored = server.get(WT, NS, name_of(doc))
    assert stored is not None and stored["metadata"]["labels"]["v"] == "2"
    puts = [
        r for r in server.requests if r.method in ("POST", "PUT") and name_of(doc) in str(r.body)
    ]
    assert all(r.query.get("fieldValidation") == "Strict" for r in puts)
    assert doc["metadata"] == {"name": name_of(doc), "labels": {"app": "demo"}}  # not mutated


def test_stale_version_is_a_conflict(cluster: KubeCluster, server: FakeKube) -> None:
    doc = template()
    created = cluster.apply_template(doc, None)
    server.touch(WT, NS, name_of(doc))
    with pytest.raises(ClusterConflict, match="has been modified"):
        cluster.apply_template(doc, created.resource_version)


def test_create_over_an_existing_template_is_a_conflict(cluster: KubeCluster) -> None:
    doc = template()
    cluster.apply_template(doc, None)
    with pytest.raises(ClusterConflict, match="already exists"):
        cluster.apply_template(doc, None)


def test_replace_of_a_deleted_template_is_a_conflict(cluster: KubeCluster) -> None:
    with pytest.raises(ClusterConflict, match="deleted since it was read"):
        cluster.apply_template(template(), "12345")


def test_dry_run_is_strict_and_stores_nothing(cluster: KubeCluster, server: FakeKube) -> None:
    doc = template()
    before = server.resource_version
    cluster.dry_run_template(doc, None)
    assert server.get(WT, NS, name_of(doc)) is None
    assert server.resource_version == before
    request = server.requests[-1]
    assert request.query == {"dryRun": "All", "fieldValidation": "Strict"}
    typo = copy.deepcopy(doc)
    typo["spec"]["entrypointt"] = "main"
    with pytest.raises(ClusterRejected) as caught:
        cluster.dry_run_template(typo, None)
    assert caught.value.problems == ('unknown field "spec.entrypointt"',)
    assert server.url in str(caught.value)


def test_dry_run_of_a_replace_checks_the_version(cluster: KubeCluster, server: FakeKube) -> None:
    doc = template()
    created = cluster.apply_template(doc, None)
    cluster.dry_run_template(doc, created.resource_version)
    server.touch(WT, NS, name_of(doc))
    with pytest.raises(ClusterConflict):
        cluster.dry_run_template(doc, created.resource_version)


def test_schema_violations_become_problems(cluster: KubeCluster, server: FakeKube) -> None:
    doc = template()
    doc["spec"]["templates"][0]["retryStrategy"] = {"retryPolicy": "Sometimes", "limit": "x"}
    with pytest.raises(ClusterRejected) as caught:
        cluster.apply_template(doc, None)
    assert "422 Invalid" in str(caught.value)
    assert any(
        p.startswith("spec.templates[0].retryStrategy.retryPolicy: Unsupported value")
        for p in caught.value.problems
    )
    assert server.get(WT, NS, name_of(doc)) is None


def test_submit_workflow_once(cluster: KubeCluster, server: FakeKube) -> None:
    params = {"commit-sha": "a" * 40, "repo-url": "https://example.com/acme/demo.git"}
    labels = {"aphex.io/restart-of": "demo-" + "a" * 40}
    assert cluster.submit_workflow("demo-aaaa-r1", "demo", params, labels) is True
    stored = server.get(WF, NS, "demo-aaaa-r1")
    assert stored is not None
    assert stored["spec"]["workflowTemplateRef"] == {"name": "demo"}
    assert stored["spec"]["arguments"]["parameters"] == [
        {"name": "commit-sha", "value": "a" * 40},
        {"name": "repo-url", "value": "https://example.com/acme/demo.git"},
    ]
    assert stored["metadata"]["labels"] == labels
    assert cluster.submit_workflow("demo-aaaa-r1", "demo", params, labels) is False
    assert len(server.objects(WF, NS)) == 1


def test_forbidden_names_the_host_and_the_fix(cluster: KubeCluster, server: FakeKube) -> None:
    server.inject_fault(403, "Forbidden")
    with pytest.raises(ClusterError) as caught:
        cluster.get_template("demo")
    message = str(caught.value)
    assert not isinstance(caught.value, ClusterRejected | ClusterConflict)
    assert server.url in message and "403 Forbidden" in message
    assert "service account" in message and "\n" not in message


def test_unavailable_answers_are_retried(server: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOST_ENV, server.url)
    cluster = KubeCluster.from_environment(NS)
    sleeps: list[float] = []
    cluster._sleep = sleeps.append
    server.inject_fault(503, "ServiceUnavailable", times=2)
    assert cluster.get_template("absent-after-retries") is None
    assert sleeps == [0.5, 1.0]


def test_connection_refused_is_retried_then_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_kube_server() as gone:
        url = gone.url
    monkeypatch.setenv(HOST_ENV, url)
    cluster = KubeCluster.from_environment(NS)
    sleeps: list[float] = []
    cluster._sleep = sleeps.append
    with pytest.raises(ClusterError) as caught:
        cluster.get_template("demo")
    message = str(caught.value)
    assert message.startswith(f"cannot reach the Kubernetes API at {url} to read")
    assert "after 4 attempts" in message and "Connection refused" in message
    assert "\n" not in message and "<" not in message
    assert sleeps == [0.5, 1.0, 2.0]


def test_every_request_has_a_timeout(server: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOST_ENV, server.url)
    cluster = KubeCluster.from_environment(NS)
    cluster.timeout = (1.0, 0.3)
    cluster.backoff = (0.0,)
    server.inject_fault(delay=1.0, times=2)
    started = time.monotonic()
    with pytest.raises(ClusterError, match="after 2 attempts: .*[Tt]imed out"):
        cluster.get_template("slow")
    assert time.monotonic() - started < 1.5


def test_kubeconfig_is_used_without_the_override(
    server: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server.url}}],
                "users": [{"name": "me", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
                "current-context": "fake",
            }
        )
    )
    monkeypatch.delenv(HOST_ENV, raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    cluster = KubeCluster.from_environment(NS)
    assert cluster.host == server.url
    assert cluster.get_template("absent") is None


def test_no_configuration_at_all_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(HOST_ENV, raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ClusterError, match="no Kubernetes API configured.*KUBECONFIG"):
        KubeCluster.from_environment(NS)


def test_workflows_read_listed_and_given_a_status(cluster: KubeCluster, server: FakeKube) -> None:
    labels = {"aphex.io/pipeline": "listed", "aphex.io/run": "1"}
    assert cluster.submit_workflow("listed-1", "demo", {}, labels)
    assert cluster.submit_workflow("listed-2", "demo", {}, {"aphex.io/pipeline": "listed"})
    assert cluster.get_workflow("absent") is None
    first = cluster.get_workflow("listed-1")
    assert first is not None and first["metadata"]["labels"] == labels
    names = [w["metadata"]["name"] for w in cluster.list_workflows("aphex.io/pipeline=listed")]
    assert names == ["listed-1", "listed-2"]
    assert [w["metadata"]["name"] for w in cluster.list_workflows("aphex.io/run=1")] == ["listed-1"]
    server.conflict_after_get(WF, NS, "listed-1", times=2)  # two lost races, then it lands
    stored = cluster.set_workflow_status("listed-1", {"phase": "Running"})
    assert stored["status"] == {"phase": "Running"}
    live = server.get(WF, NS, "listed-1")
    assert live is not None and live["status"] == {"phase": "Running"}
    assert live["metadata"]["annotations"]["fake-kube.aphex.io/concurrent-writes"] == "2"
    puts = [r for r in server.writes(WF) if r.method == "PUT"]
    assert [r.status for r in puts] == [409, 409, 200]


def test_a_status_for_a_missing_or_ever_changing_workflow_fails_clearly(
    cluster: KubeCluster, server: FakeKube
) -> None:
    with pytest.raises(ClusterError, match="workflows/ghost: it does not exist"):
        cluster.set_workflow_status("ghost", {"phase": "Failed"})
    assert cluster.submit_workflow("busy-1", "demo", {}, {})
    server.conflict_after_get(WF, NS, "busy-1", times=10)
    with pytest.raises(ClusterConflict, match="the object has been modified"):
        cluster.set_workflow_status("busy-1", {"phase": "Failed"})
