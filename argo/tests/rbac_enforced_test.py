"""argo/rbac.yaml as the API server enforces it: applied to the fake API server over HTTP,
then each service account acts with its own token through the official client."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from kubernetes.client import (
    ApiClient,
    Configuration,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
)
from kubernetes.client.exceptions import ApiException

from aphex_testing.fake_kube import FakeKube, fake_kube_server

NS = "argo"
PIPELINE = "aphex-sample"
GROUP, VERSION = "argoproj.io", "v1alpha1"


def _client(server: FakeKube, token: str) -> ApiClient:
    configuration = Configuration()
    configuration.host = server.url
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return ApiClient(configuration)


def _template(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "busybox"}}],
        },
    }


def _workflow(template: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Workflow",
        "metadata": {"generateName": f"{template}-", "namespace": NS},
        "spec": {"workflowTemplateRef": {"name": template}},
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[FakeKube, CustomObjectsApi]]:
    """The fake API server with argo/rbac.yaml applied by the admin, and two templates."""
    with fake_kube_server(authenticate=True, enforce_namespaces=True) as server:
        admin = _client(server, server.admin_token)
        core, rbac = CoreV1Api(admin), RbacAuthorizationV1Api(admin)
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        text = Path("argo/rbac.yaml").read_text(encoding="utf-8")
        for doc in (d for d in yaml.safe_load_all(text) if d):
            create = {
                "ServiceAccount": core.create_namespaced_service_account,
                "Role": rbac.create_namespaced_role,
                "RoleBinding": rbac.create_namespaced_role_binding,
            }[doc["kind"]]
            create(NS, doc)
        objects = CustomObjectsApi(admin)
        for name in (PIPELINE, "another-team"):
            objects.create_namespaced_custom_object(
                GROUP, VERSION, NS, "workflowtemplates", _template(name)
            )
        yield server, objects


def _as(server: FakeKube, account: str) -> CustomObjectsApi:
    return CustomObjectsApi(_client(server, server.issue_token(NS, account)))


def test_the_sensor_submits_from_the_pipelines_template_only(
    cluster: tuple[FakeKube, CustomObjectsApi],
) -> None:
    server, _admin = cluster
    sensor = _as(server, "aphex-sensor")
    created = sensor.create_namespaced_custom_object(
        GROUP, VERSION, NS, "workflows", _workflow(PIPELINE)
    )
    assert created["spec"]["workflowTemplateRef"] == {"name": PIPELINE}
    with pytest.raises(ApiException) as caught:  # reading another template is refused
        sensor.create_namespaced_custom_object(
            GROUP, VERSION, NS, "workflows", _workflow("another-team")
        )
    assert caught.value.status == 403
    with pytest.raises(ApiException) as caught:  # and it cannot change templates
        sensor.replace_namespaced_custom_object(
            GROUP, VERSION, NS, "workflowtemplates", PIPELINE, _template(PIPELINE)
        )
    assert caught.value.status == 403


def test_the_pipeline_replaces_its_own_template_and_no_other(
    cluster: tuple[FakeKube, CustomObjectsApi],
) -> None:
    server, admin = cluster
    pipeline = _as(server, "aphex-pipeline")
    own = pipeline.get_namespaced_custom_object(GROUP, VERSION, NS, "workflowtemplates", PIPELINE)
    changed = copy.deepcopy(own)
    changed["spec"]["templates"][0]["container"]["image"] = "busybox:1.36"
    pipeline.replace_namespaced_custom_object(
        GROUP, VERSION, NS, "workflowtemplates", PIPELINE, changed
    )
    other = admin.get_namespaced_custom_object(
        GROUP, VERSION, NS, "workflowtemplates", "another-team"
    )
    for call in (
        lambda: pipeline.get_namespaced_custom_object(
            GROUP, VERSION, NS, "workflowtemplates", "another-team"
        ),
        lambda: pipeline.replace_namespaced_custom_object(
            GROUP, VERSION, NS, "workflowtemplates", "another-team", other
        ),
        lambda: pipeline.create_namespaced_custom_object(
            GROUP, VERSION, NS, "workflowtemplates", _template("sneaky")
        ),
        lambda: pipeline.delete_namespaced_custom_object(
            GROUP, VERSION, NS, "workflowtemplates", PIPELINE
        ),
    ):
        with pytest.raises(ApiException) as caught:
            call()
        assert caught.value.status == 403
    # A restart: the pipeline's pods submit a run of their own template.
    pipeline.create_namespaced_custom_object(GROUP, VERSION, NS, "workflows", _workflow(PIPELINE))
