"""The fake API server answers like kube-apiserver, driven only by the official client."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from aphex_testing.fake_kube import FakeKube, fake_kube_server

NS = "argo"
G, V, WT, WF = "argoproj.io", "v1alpha1", "workflowtemplates", "workflows"


def template(name: str = "demo", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "busybox", "args": ["true"]}}],
            **spec,
        },
    }


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKube]:
    with fake_kube_server() as fake:
        yield fake


@pytest.fixture(scope="module")
def api(server: FakeKube) -> CustomObjectsApi:
    return CustomObjectsApi(ApiClient(Configuration(host=server.url)))


_names = itertools.count(1)


@pytest.fixture()
def name(request: pytest.FixtureRequest) -> str:
    """A template name of this test's own (the server is shared by the module)."""
    readable = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.lower())[:40].strip("-")
    return f"{readable}-{next(_names)}"


def status_of(error: ApiException) -> dict[str, Any]:
    body = json.loads(error.body or "")
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure" and body["code"] == error.status
    return body


def as_dict(answer: object) -> dict[str, Any]:
    assert isinstance(answer, dict)
    return answer


def create(api: CustomObjectsApi, doc: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return as_dict(api.create_namespaced_custom_object(G, V, NS, WT, doc, **kw))


def replace(api: CustomObjectsApi, name: str, doc: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return as_dict(api.replace_namespaced_custom_object(G, V, NS, WT, name, doc, **kw))


def get(api: CustomObjectsApi, name: str) -> dict[str, Any]:
    return as_dict(api.get_namespaced_custom_object(G, V, NS, WT, name))


def test_create_sets_server_fields_and_get_returns_them(api: CustomObjectsApi, name: str) -> None:
    created = create(api, template(name), field_validation="Strict")
    meta = created["metadata"]
    assert meta["namespace"] == NS
    assert meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert get(api, name) == created


def test_create_answers_201(server: FakeKube, api: CustomObjectsApi, name: str) -> None:
    _, code, _ = api.create_namespaced_custom_object_with_http_info(G, V, NS, WT, template(name))
    assert code == 201
    assert server.requests[-1].status == 201


def test_duplicate_create_is_409_already_exists(api: CustomObjectsApi, name: str) -> None:
    create(api, template(name))
    with pytest.raises(ApiException) as caught:
        create(api, template(name))
    assert caught.value.status == 409
    status = status_of(caught.value)
    assert status["reason"] == "AlreadyExists"
    assert status["details"] == {"name": name, "group": G, "kind": WT}
    assert status["message"] == f'workflowtemplates.argoproj.io "{name}" already exists'


def test_get_missing_is_404_not_found(api: CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as caught:
        api.get_namespaced_custom_object(G, V, NS, WT, "nothing-here")
    assert caught.value.status == 404
    assert status_of(caught.value)["reason"] == "NotFound"


def test_put_without_resource_version_is_422(api: CustomObjectsApi, name: str) -> None:
    create(api, template(name))
    with pytest.raises(ApiException) as caught:
        replace(api, name, template(name))
    assert caught.value.status == 422
    status = status_of(caught.value)
    assert status["reason"] == "Invalid"
    assert status["message"].endswith(
        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    )
    assert status["details"]["causes"][0]["field"] == "metadata.resourceVersion"


def test_put_with_stale_version_is_409_conflict(api: CustomObjectsApi, name: str) -> None:
    first = create(api, template(name))
    second = copy.deepcopy(first)
    second["spec"]["entrypoint"] = "main"
    second["metadata"]["labels"]["v"] = "2"
    updated = replace(api, name, second)
    assert int(updated["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    with pytest.raises(ApiException) as caught:
        replace(api, name, first)  # the old version
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(caught.value)["message"]


def test_put_of_missing_object_is_404(api: CustomObjectsApi) -> None:
    doc = template("never-created")
    doc["metadata"]["resourceVersion"] = "5"
    with pytest.raises(ApiException) as caught:
        api.replace_namespaced_custom_object(G, V, NS, WT, "never-created", doc)
    assert caught.value.status == 404


def test_generation_moves_only_when_more_than_metadata_changes(
    api: CustomObjectsApi, name: str
) -> None:
    doc = create(api, template(name))
    doc["metadata"]["labels"]["extra"] = "yes"
    doc = replace(api, name, doc)
    assert doc["metadata"]["generation"] == 1
    doc["spec"]["entrypoint"] = "other"
    doc["spec"]["templates"][0]["name"] = "other"
    doc = replace(api, name, doc)
    assert doc["metadata"]["generation"] == 2


def test_resource_versions_increase_across_objects(api: CustomObjectsApi, name: str) -> None:
    versions = [
        int(create(api, template(f"{name}-{i}"))["metadata"]["resourceVersion"]) for i in range(3)
    ]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_dry_run_create_validates_without_storing(
    server: FakeKube, api: CustomObjectsApi, name: str
) -> None:
    before = server.resource_version
    answer = create(api, template(name), dry_run="All", field_validation="Strict")
    assert answer["metadata"]["name"] == name
    assert "resourceVersion" not in answer["metadata"]
    assert server.get(WT, NS, name) is None
    assert server.resource_version == before


def test_dry_run_update_neither_stores_nor_bumps(
    server: FakeKube, api: CustomObjectsApi, name: str
) -> None:
    doc = create(api, template(name))
    stored = server.stored_json(WT, NS, name)
    changed = copy.deepcopy(doc)
    changed["metadata"]["labels"]["new"] = "label"
    answer = replace(api, name, changed, dry_run="All")
    assert answer["metadata"]["labels"]["new"] == "label"
    assert answer["metadata"]["resourceVersion"] == doc["metadata"]["resourceVersion"]
    assert server.stored_json(WT, NS, name) == stored
    stale = copy.deepcopy(changed)
    server.touch(WT, NS, name)
    with pytest.raises(ApiException) as caught:  # a dry run checks the version too
        replace(api, name, stale, dry_run="All")
    assert caught.value.status == 409


def test_strict_field_validation_rejects_unknown_fields_with_400(
    server: FakeKube, api: CustomObjectsApi, name: str
) -> None:
    doc = template(name, entrypointt="typo")
    doc["spec"]["templates"][0]["container"]["imagee"] = "x"
    with pytest.raises(ApiException) as caught:
        create(api, doc, field_validation="Strict")
    assert caught.value.status == 400
    status = status_of(caught.value)
    assert status["reason"] == "BadRequest"
    assert "cannot be handled as a WorkflowTemplate: strict decoding error: " in status["message"]
    assert 'unknown field "spec.entrypointt"' in status["message"]
    assert 'unknown field "spec.templates[0].container.imagee"' in status["message"]
    assert server.get(WT, NS, name) is None


@pytest.mark.parametrize("mode", [None, "Warn", "Ignore"])
def test_default_warn_and_ignore_silently_drop_unknown_fields(
    server: FakeKube, api: CustomObjectsApi, name: str, mode: str | None
) -> None:
    doc = template(name, entrypointt="typo")
    doc["metadata"]["labelz"] = {"a": "b"}
    kwargs = {"field_validation": mode} if mode else {}
    created = create(api, doc, **kwargs)
    assert "entrypointt" not in created["spec"]
    assert "labelz" not in created["metadata"]
    stored = server.get(WT, NS, name)
    assert stored is not None and "entrypointt" not in stored["spec"]


def test_warn_sends_warning_headers(api: CustomObjectsApi, name: str) -> None:
    _, _, headers = api.create_namespaced_custom_object_with_http_info(
        G, V, NS, WT, template(name, entrypointt="typo")
    )
    assert headers["Warning"] == '299 - "unknown field \\"spec.entrypointt\\""'


def test_schema_defaults_are_filled_in(api: CustomObjectsApi, name: str) -> None:
    doc = template(name)
    doc["spec"]["templates"][0]["container"]["ports"] = [{"containerPort": 8080}]
    created = create(api, doc, field_validation="Strict")
    ports = created["spec"]["templates"][0]["container"]["ports"]
    assert ports == [{"containerPort": 8080, "protocol": "TCP"}]


def test_crd_schema_violation_is_422_with_causes(
    server: FakeKube, api: CustomObjectsApi, name: str
) -> None:
    doc = template(name)
    doc["spec"]["templates"][0]["retryStrategy"] = {"retryPolicy": "Sometimes"}
    with pytest.raises(ApiException) as caught:
        create(api, doc, field_validation="Strict")
    assert caught.value.status == 422
    status = status_of(caught.value)
    assert status["reason"] == "Invalid"
    assert status["message"].startswith(f'WorkflowTemplate.argoproj.io "{name}" is invalid: ')
    (cause,) = status["details"]["causes"]
    assert cause["field"] == "spec.templates[0].retryStrategy.retryPolicy"
    assert cause["reason"] == "FieldValueNotSupported"
    assert server.get(WT, NS, name) is None


def test_cel_rule_violation_is_422(api: CustomObjectsApi, name: str) -> None:
    doc = template(name)
    doc["spec"]["templates"].append(
        {
            "name": "dag",
            "dag": {
                "tasks": [
                    {"name": "a", "template": "main"},
                    {"name": "b", "template": "main", "depends": "a", "dependencies": ["a"]},
                ]
            },
        }
    )
    with pytest.raises(ApiException) as caught:
        create(api, doc, field_validation="Strict")
    assert caught.value.status == 422
    assert "depends" in status_of(caught.value)["message"]


def test_list_delete_and_label_selector(server: FakeKube, api: CustomObjectsApi, name: str) -> None:
    other = "list-other-ns"
    api.create_namespaced_custom_object(G, V, other, WT, template(f"{name}-a"))
    b = template(f"{name}-b")
    b["metadata"]["labels"]["pick"] = "me"
    api.create_namespaced_custom_object(G, V, other, WT, b)
    listed = as_dict(api.list_namespaced_custom_object(G, V, other, WT))
    assert listed["kind"] == "WorkflowTemplateList"
    assert [i["metadata"]["name"] for i in listed["items"]] == [f"{name}-a", f"{name}-b"]
    picked = as_dict(api.list_namespaced_custom_object(G, V, other, WT, label_selector="pick=me"))
    assert [i["metadata"]["name"] for i in picked["items"]] == [f"{name}-b"]
    everywhere = as_dict(api.list_cluster_custom_object(G, V, WT))
    assert {i["metadata"]["namespace"] for i in everywhere["items"]} >= {NS, other}
    gone = as_dict(api.delete_namespaced_custom_object(G, V, other, WT, f"{name}-a"))
    assert gone["status"] == "Success"
    assert server.get(WT, other, f"{name}-a") is None
    with pytest.raises(ApiException) as caught:
        api.delete_namespaced_custom_object(G, V, other, WT, f"{name}-a")
    assert caught.value.status == 404


def test_namespace_and_name_mismatches_are_400(api: CustomObjectsApi, name: str) -> None:
    doc = template(name)
    doc["metadata"]["namespace"] = "elsewhere"
    with pytest.raises(ApiException) as caught:
        create(api, doc)
    assert caught.value.status == 400
    created = create(api, template(name))
    created["metadata"]["name"] = "renamed"
    with pytest.raises(ApiException) as caught:
        replace(api, name, created)
    assert caught.value.status == 400
    assert "does not match the name on the URL" in status_of(caught.value)["message"]


def test_invalid_name_is_422(api: CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as caught:
        create(api, template("Not_A_Name"))
    assert caught.value.status == 422
    assert status_of(caught.value)["details"]["causes"][0]["field"] == "metadata.name"


def test_workflows_are_stored_with_their_template_ref(
    server: FakeKube, api: CustomObjectsApi
) -> None:
    workflow: dict[str, Any] = {
        "apiVersion": f"{G}/{V}",
        "kind": "Workflow",
        "metadata": {"name": "demo-abc", "labels": {"aphex.io/restart-of": "demo-x"}},
        "spec": {
            "workflowTemplateRef": {"name": "demo"},
            "arguments": {"parameters": [{"name": "commit-sha", "value": "a" * 40}]},
        },
    }
    api.create_namespaced_custom_object(G, V, NS, WF, workflow, field_validation="Strict")
    stored = server.get(WF, NS, "demo-abc")
    assert stored is not None
    assert stored["spec"]["workflowTemplateRef"] == {"name": "demo"}
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_custom_object(G, V, NS, WF, workflow)
    assert status_of(caught.value)["reason"] == "AlreadyExists"
    workflow["metadata"]["name"] = "demo-typo"
    workflow["spec"]["workflowTemplateReff"] = {"name": "demo"}
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_custom_object(G, V, NS, WF, workflow, field_validation="Strict")
    assert caught.value.status == 400


def test_conflict_hook_bumps_the_version_between_get_and_put(
    server: FakeKube, api: CustomObjectsApi, name: str
) -> None:
    create(api, template(name))
    server.conflict_after_get(WT, NS, name, times=1)
    read = get(api, name)
    with pytest.raises(ApiException) as caught:
        replace(api, name, read)
    assert caught.value.status == 409
    again = get(api, name)  # the hook is used up
    assert int(again["metadata"]["resourceVersion"]) > int(read["metadata"]["resourceVersion"])
    replace(api, name, again)


def test_duplicate_json_fields_are_rejected_only_when_strict(server: FakeKube, name: str) -> None:
    import urllib.request

    raw = json.dumps(template(name))[:-1] + ', "kind": "WorkflowTemplate"}'
    url = f"{server.url}/apis/{G}/{V}/namespaces/{NS}/{WT}?fieldValidation=Strict"
    request = urllib.request.Request(
        url, data=raw.encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    assert 'duplicate field "kind"' in json.loads(caught.value.read())["message"]


def test_a_context_manager_server_is_independent() -> None:
    with fake_kube_server() as one, fake_kube_server() as two:
        assert one.url != two.url
        api = CustomObjectsApi(ApiClient(Configuration(host=one.url)))
        api.create_namespaced_custom_object(G, V, NS, WT, template("solo"))
        assert one.get(WT, NS, "solo") is not None
        assert two.get(WT, NS, "solo") is None
