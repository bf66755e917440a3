"""`KubeCluster`: the `Cluster` protocol over the Kubernetes API, with the official client.

Every request carries a timeout; connection errors and 429/502/503/504 answers are
retried with backoff. Answers map to the protocol's errors: 400/422 are
`ClusterRejected` (with the `Status` causes as problems), 409 Conflict (and a create
that meets AlreadyExists, or a replace whose object vanished) is `ClusterConflict`,
401/403 a one-line `ClusterError` naming the verb, the resource and the identity refused
and pointing at the service account's Role, anything else a one-line `ClusterError`
naming the API host and what to check.

Besides the `Cluster` protocol it offers what a local Argo controller needs: reading and
listing Workflows and setting a Workflow's `status`.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from aphex_generator import EnvVar
from aphex_monitoring import register_secret
from aphex_stages.cluster.base import (
    ClusterConflict,
    ClusterError,
    ClusterForbidden,
    ClusterRejected,
    LiveTemplate,
)

__all__ = ["HOST_ENV", "TOKEN_ENV", "KubeCluster"]

GROUP = "argoproj.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
TEMPLATES = "workflowtemplates"
WORKFLOWS = "workflows"
#: Overrides the API server address (tests, port-forwards, a local run's API server).
HOST_ENV = EnvVar.KUBE_HOST
#: The bearer token sent to `HOST_ENV` (a local run gives each task its service account's).
TOKEN_ENV = EnvVar.KUBE_TOKEN
#: (connect, read) seconds for every request.
TIMEOUT = (5.0, 30.0)
#: Sleeps between attempts after a connection error or a 429/5xx "try again" answer.
BACKOFF = (0.5, 1.0, 2.0)
#: Attempts of `set_workflow_status` when another writer changed the workflow meanwhile.
STATUS_ATTEMPTS = 5
_RETRY_STATUS = frozenset({429, 502, 503, 504})
_STRICT_SPLIT = re.compile(r", (?=(?:unknown|duplicate) field )")
_OBJECT_REPR = re.compile(r"<[^>]*>: ")
# What a 403's message says was refused: the user, the verb and the resource.
_REFUSED = re.compile(r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]*)"')


class KubeCluster:
    """WorkflowTemplates and Workflows of one namespace, through `CustomObjectsApi`."""

    def __init__(
        self,
        api: CustomObjectsApi,
        namespace: str,
        *,
        timeout: tuple[float, float] = TIMEOUT,
        backoff: Sequence[float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        credentials: str = "the configured credentials",
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.timeout = timeout
        self.backoff = tuple(BACKOFF if backoff is None else backoff)
        self._sleep = sleep
        #: Who the requests are made as, for error messages (never the secret itself).
        self.credentials = credentials

    @classmethod
    def from_environment(cls, namespace: str) -> KubeCluster:
        """`APHEX_KUBE_HOST` (with the bearer token `APHEX_KUBE_TOKEN`, if set) if set, else
        the in-cluster service account, else the kubeconfig."""
        configuration = Configuration()
        host = os.environ.get(HOST_ENV)
        token = (os.environ.get(TOKEN_ENV) or "").strip()
        if token and not host:
            raise ClusterError(
                f"{TOKEN_ENV} is set but {HOST_ENV} is not: the token is only sent to the API "
                f"server {HOST_ENV} names; set both, or neither"
            )
        if host:
            configuration.host = host
            credentials = "an anonymous client (no token)"
            if token:
                register_secret(token)
                configuration.api_key = {"authorization": token}
                configuration.api_key_prefix = {"authorization": "Bearer"}
                credentials = f"the token in {TOKEN_ENV}"
        else:
            try:
                kube_config.load_incluster_config(client_configuration=configuration)
                credentials = "this pod's service account"
            except kube_config.ConfigException:
                try:
                    kube_config.load_kube_config(
                        config_file=os.environ.get("KUBECONFIG") or None,
                        client_configuration=configuration,
                    )
                    credentials = "the kubeconfig's current user"
                except (kube_config.ConfigException, OSError) as error:
                    raise ClusterError(
                        "no Kubernetes API configured: not running in a pod with a service "
                        f"account and no usable kubeconfig ({_one_line(error)}); set KUBECONFIG "
                        f"or {HOST_ENV}"
                    ) from error
        configuration.retries = 0  # this class retries, with backoff
        return cls(CustomObjectsApi(ApiClient(configuration)), namespace, credentials=credentials)

    @classmethod
    def with_token(cls, host: str, token: str, namespace: str) -> KubeCluster:
        """A client of the API server at `host` that sends the bearer `token` (a local run's
        installer and controller use it with the admin token)."""
        configuration = Configuration()
        configuration.host = host
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.retries = 0
        register_secret(token)
        return cls(CustomObjectsApi(ApiClient(configuration)), namespace, credentials="a token")

    @property
    def api_client(self) -> ApiClient:
        """The underlying client (for the other APIs of the same server)."""
        client: ApiClient = self.api.api_client
        return client

    @property
    def host(self) -> str:
        """The API server address requests go to."""
        return str(self.api.api_client.configuration.host)

    # the protocol -----------------------------------------------------------

    def get_template(self, name: str) -> LiveTemplate | None:
        """The live template, or None when there is none."""
        doc = self._get(TEMPLATES, name)
        return None if doc is None else _live(doc)

    def dry_run_template(self, doc: Mapping[str, Any], resource_version: str | None) -> None:
        """Let the server check a create or replace (`dryRun=All`, strict fields)."""
        self._write_template(doc, resource_version, dry_run=True)

    def apply_template(self, doc: Mapping[str, Any], resource_version: str | None) -> LiveTemplate:
        """Create (version None) or replace the template at `resource_version`."""
        return _live(self._write_template(doc, resource_version, dry_run=False))

    def submit_workflow(
        self,
        name: str,
        template_name: str,
        parameters: Mapping[str, str],
        labels: Mapping[str, str],
    ) -> bool:
        """Create Workflow `name` from `template_name`; False if that name already exists."""
        body = {
            "apiVersion": API_VERSION,
            "kind": "Workflow",
            "metadata": {"name": name, "namespace": self.namespace, "labels": dict(labels)},
            "spec": {
                "workflowTemplateRef": {"name": template_name},
                "arguments": {
                    "parameters": [{"name": k, "value": v} for k, v in parameters.items()]
                },
            },
        }
        what = f"create {WORKFLOWS}/{name}"
        try:
            self._call(
                what,
                self.api.create_namespaced_custom_object,
                group=GROUP,
                version=VERSION,
                namespace=self.namespace,
                plural=WORKFLOWS,
                body=body,
                field_validation="Strict",
            )
        except ApiException as error:
            if error.status == 409 and _status(error).get("reason") == "AlreadyExists":
                return False
            raise self._error(what, error, "create", WORKFLOWS) from error
        return True

    # what a local Argo controller needs -------------------------------------------------

    def get_workflow(self, name: str) -> dict[str, Any] | None:
        """The Workflow named `name` as stored, or None when there is none."""
        return self._get(WORKFLOWS, name)

    def list_workflows(self, label_selector: str) -> list[dict[str, Any]]:
        """The namespace's Workflows whose labels match `label_selector` ("" for all)."""
        what = f"list {WORKFLOWS} matching {label_selector!r}"
        try:
            answer = self._call(
                what,
                self.api.list_namespaced_custom_object,
                group=GROUP,
                version=VERSION,
                namespace=self.namespace,
                plural=WORKFLOWS,
                label_selector=label_selector,
            )
        except ApiException as error:
            raise self._error(what, error, "list", WORKFLOWS) from error
        return [dict(item) for item in answer.get("items") or []]

    def set_workflow_status(self, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
        """Replace Workflow `name` with its `status` set to `status`, at the version just
        read; on a conflict (another writer) read again and retry. Returns the stored
        Workflow; ClusterError if it does not exist, ClusterConflict if it kept changing."""
        what = f"update {WORKFLOWS}/{name} (status)"
        for attempt in range(1, STATUS_ATTEMPTS + 1):
            current = self.get_workflow(name)
            if current is None:
                raise ClusterError(
                    f"cannot set the status of {WORKFLOWS}/{name}: it does not exist in "
                    f"namespace {self.namespace} (at {self.host})"
                )
            body = copy.deepcopy(current)
            body["status"] = copy.deepcopy(dict(status))
            try:
                return dict(
                    self._call(
                        what,
                        self.api.replace_namespaced_custom_object,
                        group=GROUP,
                        version=VERSION,
                        namespace=self.namespace,
                        plural=WORKFLOWS,
                        name=name,
                        body=body,
                        field_validation="Strict",
                    )
                )
            except ApiException as error:
                if error.status in (404, 409) and attempt < STATUS_ATTEMPTS:
                    continue  # changed or deleted meanwhile: read again
                raise self._error(what, error, "update", WORKFLOWS) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def merge_patch_workflow(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply the JSON merge patch `patch` to Workflow `name`; the stored Workflow. A
        ``metadata.resourceVersion`` in `patch` makes the write conditional: ClusterConflict
        when the Workflow changed since; ClusterError for any other refusal."""
        what = f"patch {WORKFLOWS}/{name}"
        try:
            answer = self._call(
                what,
                self.api.patch_namespaced_custom_object,
                group=GROUP,
                version=VERSION,
                namespace=self.namespace,
                plural=WORKFLOWS,
                name=name,
                body=dict(patch),
                _content_type="application/merge-patch+json",
            )
        except ApiException as error:
            raise self._error(what, error, "patch", WORKFLOWS) from error
        return dict(answer)

    # plumbing ---------------------------------------------------------------

    def _get(self, plural: str, name: str) -> dict[str, Any] | None:
        what = f"read {plural}/{name}"
        try:
            doc = self._call(
                what,
                self.api.get_namespaced_custom_object,
                group=GROUP,
                version=VERSION,
                namespace=self.namespace,
                plural=plural,
                name=name,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise self._error(what, error, "get", plural) from error
        return dict(doc)

    def _write_template(
        self, doc: Mapping[str, Any], resource_version: str | None, *, dry_run: bool
    ) -> dict[str, Any]:
        body = copy.deepcopy(dict(doc))
        meta = body.setdefault("metadata", {})
        meta.setdefault("namespace", self.namespace)
        name = str(meta.get("name", ""))
        extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        common = {"group": GROUP, "version": VERSION, "namespace": self.namespace}
        if resource_version is None:
            meta.pop("resourceVersion", None)
            what = f"create {TEMPLATES}/{name}"
            verb = "create"
            call: Callable[..., Any] = self.api.create_namespaced_custom_object
        else:
            meta["resourceVersion"] = resource_version
            what = f"replace {TEMPLATES}/{name} at resourceVersion {resource_version}"
            verb = "update"
            call = self.api.replace_namespaced_custom_object
            common["name"] = name
        if dry_run:
            what = f"dry-run {what}"
        try:
            result = self._call(
                what,
                call,
                plural=TEMPLATES,
                body=body,
                field_validation="Strict",
                **common,
                **extra,
            )
        except ApiException as error:
            if error.status == 404 and resource_version is not None:
                raise ClusterConflict(
                    f"{TEMPLATES}/{name} was deleted since it was read (at {self.host})"
                ) from error
            raise self._error(what, error, verb, TEMPLATES) from error
        return dict(result)

    def _call(self, what: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        """Call the API with a timeout; retry connection errors and 429/5xx with backoff."""
        attempts = len(self.backoff) + 1
        for attempt in range(1, attempts + 1):
            try:
                return method(_request_timeout=self.timeout, **kwargs)
            except ApiException as error:
                if error.status not in _RETRY_STATUS or attempt == attempts:
                    raise
            except Exception as error:
                if not _is_connection_error(error):
                    raise
                if attempt == attempts:
                    raise ClusterError(
                        f"cannot reach the Kubernetes API at {self.host} to {what} after "
                        f"{attempts} attempts: {_one_line(getattr(error, 'reason', error))}; "
                        "check the API address, the network path from this pod and that "
                        "the API server is up"
                    ) from error
            self._sleep(self.backoff[attempt - 1])
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, what: str, error: ApiException, verb: str, resource: str) -> ClusterError:
        status = _status(error)
        reason = status.get("reason") or error.reason or "error"
        message = _one_line(status.get("message") or error.body or "")
        where = f"the Kubernetes API at {self.host}"
        if error.status in (400, 422):
            return ClusterRejected(
                f"{where} rejected {what} ({error.status} {reason}): {message}", _problems(status)
            )
        if error.status == 409:
            return ClusterConflict(f"{where} refused {what} ({reason}): {message}")
        if error.status in (401, 403):
            return self._refused(what, error.status, reason, message, verb, resource)
        return ClusterError(
            f"{where} failed to {what} ({error.status} {reason}): {message}; "
            "check the API server and the Argo CRDs (argoproj.io/v1alpha1) are installed"
        )

    def _refused(
        self, what: str, code: int, reason: str, message: str, verb: str, resource: str
    ) -> ClusterForbidden:
        """401/403 in one line: who was refused what, and the Role to check."""
        where = f"the Kubernetes API at {self.host} refused {what} in namespace {self.namespace}"
        refused = _REFUSED.search(message)
        if refused:  # a 403 names the user and what it may not do (perhaps another request)
            verb, resource = refused["verb"], refused["resource"]
        grants = (
            f"check that the service account's Role (bound to it by a RoleBinding in namespace "
            f"{self.namespace}) grants {verb} on {resource}"
        )
        if code == 401:
            return ClusterForbidden(
                f"{where}: {self.credentials} was not accepted to {verb} {resource} "
                f"({code} {reason}: {message}); check that the token was issued for a service "
                f"account that still exists, and {grants}"
            )
        identity = refused["user"] if refused else self.credentials
        return ClusterForbidden(
            f"{where}: {identity} may not {verb} {resource} ({code} {reason}: {message}); {grants}"
        )


def _live(doc: Any) -> LiveTemplate:
    body = dict(doc)
    version = str(body.get("metadata", {}).get("resourceVersion", ""))
    return LiveTemplate(doc=body, resource_version=version)


def _status(error: ApiException) -> dict[str, Any]:
    """The `Status` object of an error answer ({} if the body is not one)."""
    try:
        data = json.loads(error.body or "")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _problems(status: Mapping[str, Any]) -> list[str]:
    """One line per cause; a strict-decoding message split per field."""
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    lines = [
        f"{c['field']}: {c.get('message', '')}" if c.get("field") else str(c.get("message", ""))
        for c in causes or ()
        if isinstance(c, dict)
    ]
    if lines:
        return lines
    message = str(status.get("message") or "")
    _, marker, fields = message.partition("strict decoding error: ")
    if marker:
        return _STRICT_SPLIT.split(fields)
    return [message] if message else []


def _is_connection_error(error: BaseException) -> bool:
    """urllib3's transport errors (connect, read timeout, protocol) and socket errors."""
    if isinstance(error, OSError):
        return True
    return any(cls.__module__.split(".")[0] == "urllib3" for cls in type(error).__mro__)


def _one_line(value: object) -> str:
    return _OBJECT_REPR.sub("", " ".join(str(value).split()))
