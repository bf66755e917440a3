"""The embedded API server of a local run, over real HTTP through the official client:
its state file, bearer tokens, RBAC, the Argo rule for Workflows from a template,
namespaces, the built-in kinds, and `KubeCluster` with a token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import (
    ApiClient,
    AuthenticationV1TokenRequest,
    Configuration,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
    V1TokenRequestSpec,
)
from kubernetes.client.exceptions import ApiException

from aphex_generator import EnvVar
from aphex_monitoring import redact
from aphex_stages.cluster import ClusterError, cluster_from_env
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.local.kubeapi import KubeApiServer, RequestInfo, StateFileError
from aphex_stages.local.kubeapi.rbac import rule_allows

NS, OTHER = "argo", "elsewhere"
SA = "aphex-build"
USER = f"system:serviceaccount:{NS}:{SA}"
G, V, WT, WF = "argoproj.io", "v1alpha1", "workflowtemplates", "workflows"
RBAC = "rbac.authorization.k8s.io"


def template(name: str = "demo") -> dict[str, Any]:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "busybox"}}],
        },
    }


def workflow(name: str, template_name: str | None = "demo") -> dict[str, Any]:
    spec: dict[str, Any] = {"arguments": {"parameters": [{"name": "p", "value": "v"}]}}
    if template_name:
        spec["workflowTemplateRef"] = {"name": template_name}
    else:
        spec["entrypoint"] = "main"
        spec["templates"] = [{"name": "main", "container": {"image": "busybox"}}]
    return {"apiVersion": f"{G}/{V}", "kind": "Workflow", "metadata": {"name": name}, "spec": spec}


def obj(kind: str, name: str, api_version: str = "v1", **fields: Any) -> Any:
    """A built-in object's body (the client's models are typed; a dict is sent as is)."""
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **fields}


def as_dict(answer: object) -> dict[str, Any]:
    assert isinstance(answer, dict)
    return answer


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def client(server: KubeApiServer, token: str | None) -> ApiClient:
    configuration = Configuration(host=server.url)
    if token is not None:
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    return ApiClient(configuration)


def status_of(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body or "")
    assert body["kind"] == "Status" and body["code"] == error.status
    return body


class Cluster:
    """An authenticating server with namespaces, seen as its admin."""

    def __init__(self, server: KubeApiServer) -> None:
        self.server = server
        admin = client(server, server.admin_token)
        self.core = CoreV1Api(admin)
        self.rbac = RbacAuthorizationV1Api(admin)
        self.custom = CustomObjectsApi(admin)

    def namespace(self, name: str) -> None:
        self.core.create_namespace(obj("Namespace", name))

    def account(self, namespace: str = NS, name: str = SA) -> str:
        """Create a service account; return a token the server issued for it."""
        self.core.create_namespaced_service_account(namespace, obj("ServiceAccount", name))
        return self.server.issue_token(namespace, name)

    def role(self, name: str, rules: list[dict[str, Any]], namespace: str | None = NS) -> None:
        kind = "Role" if namespace else "ClusterRole"
        body: Any = {
            "apiVersion": f"{RBAC}/v1",
            "kind": kind,
            "metadata": {"name": name},
            "rules": rules,
        }
        if namespace:
            self.rbac.create_namespaced_role(namespace, body)
        else:
            self.rbac.create_cluster_role(body)

    def bind(self, name: str, role: str, *, kind: str = "Role", namespace: str | None = NS) -> None:
        body: Any = {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
            "metadata": {"name": name},
            "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": NS}],
            "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
        }
        if namespace:
            self.rbac.create_namespaced_role_binding(namespace, body)
        else:
            self.rbac.create_cluster_role_binding(body)


@pytest.fixture()
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(authenticate=True, enforce_namespaces=True) as running:
        yield running


@pytest.fixture()
def cluster(server: KubeApiServer) -> Cluster:
    made = Cluster(server)
    made.namespace(NS)
    made.namespace(OTHER)
    return made


@pytest.fixture()
def token(cluster: Cluster) -> str:
    return cluster.account()


def as_sa(server: KubeApiServer, token: str) -> CustomObjectsApi:
    return CustomObjectsApi(client(server, token))


def forbidden(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 403, caught.value.body
    status = status_of(caught.value)
    assert status["reason"] == "Forbidden"
    return status


# the state file --------------------------------------------------------------------------


def test_a_second_server_on_the_same_file_continues_from_it(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with KubeApiServer(state_file=state, authenticate=True) as first:
        made = Cluster(first)
        made.namespace(NS)
        token = made.account()
        made.custom.create_namespaced_custom_object(G, V, NS, WT, template())
        admin_token, version = first.admin_token, first.resource_version
        stored = first.stored_json(WT, NS, "demo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.json", "cluster.json.lock"]
    with KubeApiServer(state_file=state, authenticate=True) as second:
        assert second.admin_token == admin_token
        assert second.resource_version == version
        assert second.stored_json(WT, NS, "demo") == stored
        # the service account's token still works, and the counter goes on from the file
        read = as_sa(second, token)
        with pytest.raises(ApiException) as caught:
            read.get_namespaced_custom_object(G, V, NS, WT, "demo")
        assert caught.value.status == 403  # authenticated, not authorized
        again = Cluster(second).custom.create_namespaced_custom_object(
            G, V, NS, WT, template("next")
        )
        assert int(as_dict(again)["metadata"]["resourceVersion"]) == version + 1
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert {o["object"]["metadata"]["name"] for o in saved["objects"]} >= {NS, SA, "demo", "next"}


def test_only_one_server_uses_a_state_file_and_a_broken_one_is_explained(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with KubeApiServer(state_file=state), pytest.raises(StateFileError, match="in use"):
        KubeApiServer(state_file=state)
    state.write_text("{not json", encoding="utf-8")
    with pytest.raises(StateFileError, match=f"{state}.*remove the file"):
        KubeApiServer(state_file=state)


def test_a_dry_run_or_a_refused_write_does_not_touch_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with KubeApiServer(state_file=state) as running:
        api = CustomObjectsApi(client(running, None))
        before = state.read_bytes()
        api.create_namespaced_custom_object(G, V, NS, WT, template(), dry_run="All")
        with pytest.raises(ApiException):
            api.create_namespaced_custom_object(G, V, NS, WT, template("Bad_Name"))
        assert state.read_bytes() == before
        api.create_namespaced_custom_object(G, V, NS, WT, template())
        assert state.read_bytes() != before


# authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize("bearer", [None, "not-a-token-of-this-server"])
def test_no_token_or_an_unknown_one_is_401(server: KubeApiServer, bearer: str | None) -> None:
    api = CoreV1Api(client(server, bearer))
    with pytest.raises(ApiException) as caught:
        api.list_namespace()
    assert caught.value.status == 401
    assert status_of(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_a_token_dies_with_its_service_account(cluster: Cluster, token: str) -> None:
    cluster.role("read", [rule([""], ["configmaps"], ["list"])])
    cluster.bind("read", "read")
    api = CoreV1Api(client(cluster.server, token))
    assert api.list_namespaced_config_map(NS).items == []
    cluster.core.delete_namespaced_service_account(SA, NS)
    cluster.account()  # the same name again: a new account, which the old token is not
    with pytest.raises(ApiException) as caught:
        api.list_namespaced_config_map(NS)
    assert caught.value.status == 401


def test_tokens_are_issued_only_for_existing_accounts(server: KubeApiServer) -> None:
    with pytest.raises(Exception, match='serviceaccounts "ghost" not found'):
        server.issue_token(NS, "ghost")


def test_the_admin_token_bypasses_rbac(cluster: Cluster) -> None:
    # no Role or binding exists at all
    created = cluster.custom.create_namespaced_custom_object(G, V, NS, WT, template())
    assert as_dict(created)["metadata"]["resourceVersion"]
    assert cluster.rbac.list_cluster_role().items == []
    namespaces = cluster.core.list_namespace().items
    assert [n.metadata.name for n in namespaces if n.metadata] == [NS, OTHER]


# RBAC -------------------------------------------------------------------------------------


def test_a_role_grants_its_verbs_in_its_namespace_only(cluster: Cluster, token: str) -> None:
    cluster.role("templates", [rule([G], [WT], ["get", "create"])])
    cluster.role("templates", [rule([G], [WT], ["*"])], namespace=OTHER)
    cluster.bind("templates", "templates")
    # a binding in another namespace grants nothing here, nor there to this account
    cluster.rbac.create_namespaced_role_binding(
        OTHER,
        obj(
            "RoleBinding",
            "other-account",
            f"{RBAC}/v1",
            subjects=[{"kind": "ServiceAccount", "name": SA}],  # means OTHER's account
            roleRef={"apiGroup": RBAC, "kind": "Role", "name": "templates"},
        ),
    )
    api = as_sa(cluster.server, token)
    created = api.create_namespaced_custom_object(G, V, NS, WT, template())
    assert api.get_namespaced_custom_object(G, V, NS, WT, "demo") == created
    status = forbidden(api.replace_namespaced_custom_object, G, V, NS, WT, "demo", created)
    assert status["message"] == (
        f'workflowtemplates.argoproj.io "demo" is forbidden: User "{USER}" cannot update '
        'resource "workflowtemplates" in API group "argoproj.io" in the namespace "argo"'
    )
    assert status["details"] == {"name": "demo", "group": G, "kind": WT}
    status = forbidden(api.list_namespaced_custom_object, G, V, OTHER, WT)
    assert status["message"] == (
        f'workflowtemplates.argoproj.io is forbidden: User "{USER}" cannot list resource '
        '"workflowtemplates" in API group "argoproj.io" in the namespace "elsewhere"'
    )


def test_a_cluster_role_grants_everywhere_through_a_cluster_binding_only(
    cluster: Cluster, token: str
) -> None:
    cluster.role("reader", [rule([""], ["configmaps"], ["list"])], namespace=None)
    cluster.bind("reader-here", "reader", kind="ClusterRole")  # a RoleBinding in NS
    api = CoreV1Api(client(cluster.server, token))
    assert api.list_namespaced_config_map(NS).items == []
    forbidden(api.list_namespaced_config_map, OTHER)
    forbidden(api.list_config_map_for_all_namespaces)
    cluster.bind("reader-everywhere", "reader", kind="ClusterRole", namespace=None)
    assert api.list_namespaced_config_map(OTHER).items == []
    assert api.list_config_map_for_all_namespaces().items == []
    status = forbidden(RbacAuthorizationV1Api(client(cluster.server, token)).list_cluster_role)
    assert status["message"].endswith(
        'cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" '
        "at the cluster scope"
    )


def test_resource_names_grant_only_the_named_objects_never_create_or_list(
    cluster: Cluster, token: str
) -> None:
    cluster.custom.create_namespaced_custom_object(G, V, NS, WT, template("demo"))
    cluster.custom.create_namespaced_custom_object(G, V, NS, WT, template("other"))
    cluster.role("one", [rule([G], [WT], ["get", "create", "list"], resourceNames=["demo"])])
    cluster.bind("one", "one")
    api = as_sa(cluster.server, token)
    read = as_dict(api.get_namespaced_custom_object(G, V, NS, WT, "demo"))
    assert read["metadata"]["name"] == "demo"
    forbidden(api.get_namespaced_custom_object, G, V, NS, WT, "other")
    forbidden(api.list_namespaced_custom_object, G, V, NS, WT)
    status = forbidden(api.create_namespaced_custom_object, G, V, NS, WT, template("demo-2"))
    assert 'cannot create resource "workflowtemplates"' in status["message"]


def test_wildcard_verbs_and_resources(cluster: Cluster, token: str) -> None:
    cluster.role("argo-all", [rule([G], ["*"], ["*"])])
    cluster.bind("argo-all", "argo-all")
    api = as_sa(cluster.server, token)
    sensor = {"apiVersion": f"{G}/{V}", "kind": "Sensor", "metadata": {"name": "s"}, "spec": {}}
    api.create_namespaced_custom_object(G, V, NS, "sensors", sensor)
    api.create_namespaced_custom_object(G, V, NS, WT, template())
    api.delete_namespaced_custom_object(G, V, NS, "sensors", "s")
    api.delete_collection_namespaced_custom_object(G, V, NS, WT)
    assert cluster.server.objects(WT) == [] and cluster.server.objects("sensors") == []
    forbidden(CoreV1Api(client(cluster.server, token)).list_namespaced_config_map, NS)


def test_subresources_need_their_own_rule(cluster: Cluster, token: str) -> None:
    core = CoreV1Api(client(cluster.server, token))
    request = AuthenticationV1TokenRequest(spec=V1TokenRequestSpec(audiences=["aphex"]))
    cluster.role("accounts", [rule([""], ["serviceaccounts"], ["*"])])
    cluster.bind("accounts", "accounts")
    status = forbidden(core.create_namespaced_service_account_token, SA, NS, request)
    assert 'cannot create resource "serviceaccounts/token" in API group ""' in status["message"]
    cluster.role("tokens", [rule([""], ["*/token"], ["create"])])
    cluster.bind("tokens", "tokens")
    issued = core.create_namespaced_service_account_token(SA, NS, request)
    assert issued.status and issued.status.token and issued.spec
    assert issued.spec.audiences == ["aphex"]
    assert CoreV1Api(client(cluster.server, issued.status.token)).list_namespaced_service_account(
        NS
    )


def test_rule_matching_of_subresources_and_wildcards() -> None:
    def info(verb: str, resource: str, subresource: str = "", name: str = "") -> RequestInfo:
        return RequestInfo(verb, G, V, resource, subresource, NS, name)

    status = rule([G], ["workflows/status"], ["update"])
    assert rule_allows(status, info("update", WF, "status"))
    assert not rule_allows(status, info("update", WF))
    assert rule_allows(rule([G], ["*/status"], ["update"]), info("update", WF, "status"))
    assert not rule_allows(rule([G], ["*/status"], ["update"]), info("update", WF, "scale"))
    assert rule_allows(rule([G], [WF], ["update"]), info("update", WF))
    assert not rule_allows(rule([G], [WF], ["update"]), info("update", WF, "status"))
    assert rule_allows(rule(["*"], ["*"], ["*"]), info("deletecollection", WF, "status"))
    assert not rule_allows(rule([""], ["*"], ["*"]), info("get", WF, name="x"))
    named = rule([G], [WF], ["*"], resourceNames=["x"])
    assert rule_allows(named, info("delete", WF, name="x"))
    assert not rule_allows(named, info("delete", WF, name="y"))
    assert not rule_allows(named, info("deletecollection", WF))


def test_a_dry_run_is_authorized_like_the_real_request(cluster: Cluster, token: str) -> None:
    cluster.role("get", [rule([G], [WT], ["get"])])
    cluster.bind("get", "get")
    api = as_sa(cluster.server, token)
    forbidden(api.create_namespaced_custom_object, G, V, NS, WT, template(), dry_run="All")
    assert cluster.server.objects(WT) == []


def test_a_binding_to_a_missing_role_says_so(cluster: Cluster, token: str) -> None:
    cluster.bind("dangling", "not-there")
    status = forbidden(CoreV1Api(client(cluster.server, token)).list_namespaced_secret, NS)
    assert status["message"].endswith(f': RBAC: role.{RBAC} "not-there" not found')


# the Argo rule: a Workflow from a template ---------------------------------------------


def test_submitting_from_a_template_needs_get_on_it(cluster: Cluster, token: str) -> None:
    cluster.custom.create_namespaced_custom_object(G, V, NS, WT, template("demo"))
    cluster.role("submit", [rule([G], [WF], ["create"])])
    cluster.bind("submit", "submit")
    api = as_sa(cluster.server, token)
    status = forbidden(api.create_namespaced_custom_object, G, V, NS, WF, workflow("run-1"))
    assert status["message"] == (
        f'workflowtemplates.argoproj.io "demo" is forbidden: User "{USER}" cannot get '
        'resource "workflowtemplates" in API group "argoproj.io" in the namespace "argo"'
    )
    assert cluster.server.objects(WF) == []
    # a Workflow that names no template needs only create
    api.create_namespaced_custom_object(G, V, NS, WF, workflow("inline", None))
    cluster.role("read-demo", [rule([G], [WT], ["get"], resourceNames=["demo"])])
    cluster.bind("read-demo", "read-demo")
    created = api.create_namespaced_custom_object(G, V, NS, WF, workflow("run-1"))
    assert as_dict(created)["spec"]["workflowTemplateRef"] == {"name": "demo"}
    assert cluster.server.get(WF, NS, "run-1") is not None


def test_submitting_from_a_missing_template_is_404(cluster: Cluster, token: str) -> None:
    cluster.role("submit", [rule([G], [WF], ["create"]), rule([G], [WT], ["get"])])
    cluster.bind("submit", "submit")
    for api in (as_sa(cluster.server, token), cluster.custom):  # the admin too
        with pytest.raises(ApiException) as caught:
            api.create_namespaced_custom_object(G, V, NS, WF, workflow("run-1", "missing"))
        assert caught.value.status == 404
        assert status_of(caught.value)["message"] == f'{WT}.{G} "missing" not found'
    assert cluster.server.objects(WF) == []


# namespaces and the built-in kinds ------------------------------------------------------


def test_namespaces_are_enforced_when_on(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        cluster.custom.create_namespaced_custom_object(G, V, "nowhere", WT, template())
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'namespaces "nowhere" not found'
    cluster.namespace("nowhere")
    cluster.custom.create_namespaced_custom_object(G, V, "nowhere", WT, template())
    namespace = cluster.core.read_namespace("nowhere")
    assert namespace.status and namespace.status.phase == "Active"
    cluster.core.delete_namespace("nowhere")
    assert cluster.server.objects(WT) == []


def test_namespaces_are_not_enforced_when_off() -> None:
    with KubeApiServer() as running:
        CoreV1Api(client(running, None)).create_namespaced_config_map(
            "nowhere", obj("ConfigMap", "c")
        )
        assert running.get("configmaps", "nowhere", "c") is not None


def test_built_in_kinds(cluster: Cluster) -> None:
    core, rbac = cluster.core, cluster.rbac
    secret = core.create_namespaced_secret(
        NS,
        obj("Secret", "s", stringData={"k": "v"}),
    )
    assert secret.data == {"k": "dg=="} and secret.type == "Opaque"
    core.create_namespaced_config_map(NS, obj("ConfigMap", "c", data={}))
    patched = core.patch_namespaced_config_map("c", NS, {"data": {"a": "1"}})
    assert patched.data == {"a": "1"}
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}}
    request = urllib.request.Request(
        f"{cluster.server.url}/api/v1/namespaces/{NS}/serviceaccounts?fieldValidation=Strict",
        data=json.dumps({**account, "spec": {}}).encode(),
        headers={"Authorization": f"Bearer {cluster.server.admin_token}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:  # the client's models refuse it
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400
    assert (
        'strict decoding error: unknown field "spec"' in json.loads(refused.value.read())["message"]
    )
    with pytest.raises(ApiException) as caught:
        cluster.role("no-verbs", [rule([""], ["secrets"], [])])
    assert caught.value.status == 422
    assert "rules[0].verbs: Required value" in status_of(caught.value)["message"]
    cluster.role("r", [rule([""], ["secrets"], ["get"])])
    cluster.bind("b", "r")
    binding = rbac.read_namespaced_role_binding("b", NS)
    binding.role_ref.name = "other"
    with pytest.raises(ApiException) as caught:
        rbac.replace_namespaced_role_binding("b", NS, binding)
    assert caught.value.status == 422
    assert "cannot change roleRef" in status_of(caught.value)["message"]
    source = {"apiVersion": f"{G}/{V}", "kind": "EventSource", "metadata": {"name": "gh"}}
    source["spec"] = {"github": {"anything": {"goes": True}}}  # the Events CRDs check no spec
    made = cluster.custom.create_namespaced_custom_object(G, V, NS, "eventsources", source)
    assert as_dict(made)["spec"] == source["spec"]


# KubeCluster with a token ----------------------------------------------------------------


@pytest.fixture()
def token_env(
    cluster: Cluster, token: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KubeCluster]:
    monkeypatch.setenv(EnvVar.KUBE_HOST, cluster.server.url)
    monkeypatch.setenv(EnvVar.KUBE_TOKEN, token)
    made = cluster_from_env(NS)
    assert isinstance(made, KubeCluster)
    yield made


def test_kube_cluster_sends_the_token(cluster: Cluster, token: str, token_env: KubeCluster) -> None:
    cluster.role("pipeline", [rule([G], [WT], ["get", "create"])])
    cluster.bind("pipeline", "pipeline")
    live = token_env.apply_template(template(), None)
    assert token_env.get_template("demo") == live
    with pytest.raises(ClusterError) as caught:
        token_env.apply_template(template(), live.resource_version)
    message = str(caught.value)
    assert "\n" not in message and token not in message
    assert f"{USER} may not update workflowtemplates (403 Forbidden" in message
    assert "check that the service account's Role" in message
    assert "grants update on workflowtemplates" in message
    assert redact(f"Authorization: {token}") == "Authorization: [REDACTED]"


def test_kube_cluster_names_the_refused_template_read_of_a_submit(
    cluster: Cluster, token_env: KubeCluster
) -> None:
    cluster.custom.create_namespaced_custom_object(G, V, NS, WT, template())
    cluster.role("submit", [rule([G], [WF], ["create"])])
    cluster.bind("submit", "submit")
    with pytest.raises(ClusterError, match=f"{USER} may not get workflowtemplates"):
        token_env.submit_workflow("run-1", "demo", {}, {})
    assert cluster.server.objects(WF) == []


def test_kube_cluster_with_a_bad_token_is_401(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EnvVar.KUBE_HOST, cluster.server.url)
    monkeypatch.setenv(EnvVar.KUBE_TOKEN, "revoked-token-value")
    with pytest.raises(ClusterError) as caught:
        KubeCluster.from_environment(NS).get_template("demo")
    message = str(caught.value)
    assert f"the token in {EnvVar.KUBE_TOKEN} was not accepted to get workflowtemplates" in message
    assert "(401 Unauthorized" in message and "revoked-token-value" not in message


def test_a_token_without_a_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EnvVar.KUBE_HOST, raising=False)
    monkeypatch.setenv(EnvVar.KUBE_TOKEN, "some-token-value")
    with pytest.raises(ClusterError, match=f"{EnvVar.KUBE_TOKEN} is set but {EnvVar.KUBE_HOST}"):
        KubeCluster.from_environment(NS)


def test_merge_patches_and_what_is_not_served(cluster: Cluster) -> None:
    api = cluster.custom
    api.create_namespaced_custom_object(G, V, NS, WF, workflow("inline", None))
    patched = as_dict(
        api.patch_namespaced_custom_object(
            G, V, NS, WF, "inline", {"metadata": {"labels": {"a": "b"}}, "status": {"phase": "X"}}
        )
    )
    assert patched["metadata"]["labels"] == {"a": "b"} and patched["status"] == {"phase": "X"}
    assert patched["metadata"]["generation"] == 2  # the status is part of a Workflow's body
    with pytest.raises(ApiException) as caught:
        api.patch_namespaced_custom_object(
            G, V, NS, WF, "inline", [{"op": "remove"}], _content_type="application/json-patch+json"
        )
    assert caught.value.status == 415
    with pytest.raises(ApiException) as caught:
        api.list_namespaced_custom_object(G, V, NS, "clusterworkflowtemplates")
    assert caught.value.status == 404
    with pytest.raises(ApiException) as caught:
        api.list_namespaced_custom_object(G, V, NS, WF, watch=True)
    assert caught.value.status == 405
