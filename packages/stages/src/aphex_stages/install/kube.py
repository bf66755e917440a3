"""The cluster side of an install: objects created, or replaced only when they differ.

An object whose live version already holds every field of the desired one (the server
may add defaults) is left alone and reported "unchanged", so a second install writes
nothing. A replace keeps the live object's other labels and annotations.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import config as kube_config
from kubernetes.client import (
    ApiClient,
    Configuration,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
)
from kubernetes.client.exceptions import ApiException

from aphex_stages.cluster.kube import GROUP, VERSION
from aphex_stages.install.options import InstallError

__all__ = ["Cluster", "connect", "contains"]

#: The Argo kinds an install applies, by their plural.
ARGO_PLURALS = {
    "EventBus": "eventbus",
    "EventSource": "eventsources",
    "Sensor": "sensors",
    "WorkflowTemplate": "workflowtemplates",
}
TIMEOUT = (5.0, 30.0)
#: The client's method suffix of each namespaced built-in kind.
_SUFFIXES = {
    "ServiceAccount": "service_account",
    "Secret": "secret",
    "Role": "role",
    "RoleBinding": "role_binding",
}


def connect(kubeconfig: str | None, context: str | None) -> ApiClient:
    """A client of the cluster `kubeconfig` (default: $KUBECONFIG, ~/.kube/config) names,
    as its `context` (default: the current one)."""
    configuration = Configuration()
    try:
        kube_config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (kube_config.ConfigException, OSError, ValueError) as error:
        where = kubeconfig or "the default kubeconfig"
        raise InstallError(
            f"cannot use {where}{f' (context {context})' if context else ''}: "
            f"{' '.join(str(error).split())}; pass --kubeconfig and --context of the pipeline's"
            " cluster (for the cluster stack's: aws eks update-kubeconfig --name <its"
            " ClusterName output>)"
        ) from None
    configuration.retries = 2
    return ApiClient(configuration)


def contains(live: Any, desired: Any) -> bool:
    """Whether `live` holds every field of `desired` (lists element by element)."""
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            key in live and contains(live[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired)


class Cluster:
    """The objects of one cluster, as plain manifests (`apiVersion`, `kind`, ...)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.host = str(client.configuration.host)
        self.core = CoreV1Api(client)
        self.rbac = RbacAuthorizationV1Api(client)
        self.custom = CustomObjectsApi(client)

    # reading and writing one object -----------------------------------------------------

    def _verbs(self, doc: Mapping[str, Any]) -> tuple[Callable[..., Any], ...]:
        """(read, create, replace) of `doc`'s kind: read(name), create(body),
        replace(name, body), each with the client's keyword options."""
        kind = doc["kind"]
        ns = doc["metadata"].get("namespace")
        if kind in ARGO_PLURALS:
            custom = self.custom
            at = {"group": GROUP, "version": VERSION, "namespace": ns}
            at["plural"] = ARGO_PLURALS[kind]
            return (
                lambda name, **kw: custom.get_namespaced_custom_object(name=name, **at, **kw),
                lambda body, **kw: custom.create_namespaced_custom_object(body=body, **at, **kw),
                lambda name, body, **kw: custom.replace_namespaced_custom_object(
                    name=name, body=body, **at, **kw
                ),
            )
        if kind == "Namespace":
            core = self.core
            return (core.read_namespace, core.create_namespace, core.replace_namespace)
        suffix = _SUFFIXES[kind]
        api: Any = self.rbac if kind.startswith("Role") else self.core
        read = getattr(api, f"read_namespaced_{suffix}")
        create = getattr(api, f"create_namespaced_{suffix}")
        replace = getattr(api, f"replace_namespaced_{suffix}")
        return (
            lambda name, **kw: read(name, ns, **kw),
            lambda body, **kw: create(ns, body, **kw),
            lambda name, body, **kw: replace(name, ns, body, **kw),
        )

    def _call(
        self, what: str, call: Callable[..., Any], *args: Any, missing_ok: bool = False, **kw: Any
    ) -> Any:
        """`call` as a plain manifest; a failure as one InstallError line naming the API
        and what to check (None for a 404 when `missing_ok`)."""
        try:
            result = call(*args, _request_timeout=TIMEOUT, **kw)
        except ApiException as error:
            if missing_ok and error.status == 404:
                return None
            raise InstallError(
                f"the Kubernetes API at {self.host} refused to {what} ({error.status}"
                f" {error.reason}): {' '.join(str(error.body or '').split())[:400]}"
            ) from None
        except Exception as error:  # urllib3's and the socket's many kinds
            raise InstallError(
                f"cannot reach the Kubernetes API at {self.host} to {what}"
                f" ({type(error).__name__}); check --kubeconfig/--context and the network path"
                " to the cluster"
            ) from None
        return self.client.sanitize_for_serialization(result)

    def read(self, doc: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live object of `doc`'s kind and name, or None."""
        name = doc["metadata"]["name"]
        live = self._call(f"read {doc['kind']} {name}", self._verbs(doc)[0], name, missing_ok=True)
        return None if live is None else dict(live)

    def apply(self, doc: Mapping[str, Any], *, dry_run: bool = False) -> str:
        """Create `doc`, or replace the live object when it differs: "created", "updated"
        or "unchanged". With `dry_run` the server checks the write and stores nothing."""
        _read, create, replace = self._verbs(doc)
        name = doc["metadata"]["name"]
        extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        label = f"{'dry-run ' if dry_run else ''}%s {doc['kind']} {name}"
        live = self.read(doc)
        if live is None:
            self._call(label % "create", create, body=dict(doc), **extra)
            return "created"
        if contains(live, doc):
            return "unchanged"
        self._call(label % "replace", replace, name=name, body=_over(live, doc), **extra)
        return "updated"

    # Secrets ----------------------------------------------------------------------------

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """Key `key` of Secret `name` (None: no such Secret); InstallError if it lacks it."""
        live = self.read({"kind": "Secret", "metadata": {"name": name, "namespace": namespace}})
        if live is None:
            return None
        data = live.get("data") or {}
        if key not in data:
            raise InstallError(
                f"Secret {name} in namespace {namespace} has no key {key}: add it, or delete"
                " the Secret to have a new one made"
            )
        return base64.b64decode(data[key]).decode("utf-8")


def _over(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """`desired` at the live object's resourceVersion, keeping its other labels and
    annotations."""
    body = dict(desired)
    meta = dict(desired["metadata"])
    live_meta = live.get("metadata") or {}
    for key in ("labels", "annotations"):
        merged = {**(live_meta.get(key) or {}), **(meta.get(key) or {})}
        if merged:
            meta[key] = merged
    if live_meta.get("resourceVersion"):
        meta["resourceVersion"] = live_meta["resourceVersion"]
    body["metadata"] = meta
    return body
