"""`KubeCluster`: the `Cluster` protocol over the Kubernetes API, with the official client.

Every request carries a timeout; connection errors and 429/502/503/504 answers are
retried with backoff. Answers map to the protocol's errors: 400/422 are
`ClusterRejected` (with the `Status` causes as problems), 409 Conflict (and a create
that meets AlreadyExists, or a replace whose object vanished) is `ClusterConflict`,
anything else a one-line `ClusterError` naming the API host and what to check.
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
from aphex_stages.cluster.base import ClusterConflict, ClusterError, ClusterRejected, LiveTemplate

__all__ = ["HOST_ENV", "KubeCluster"]

GROUP = "argoproj.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
TEMPLATES = "workflowtemplates"
WORKFLOWS = "workflows"
#: Overrides the API server address (tests, port-forwards); no credentials are added.
HOST_ENV = EnvVar.KUBE_HOST
#: (connect, read) seconds for every request.
TIMEOUT = (5.0, 30.0)
#: Sleeps between attempts after a connection error or a 429/5xx "try again" answer.
BACKOFF = (0.5, 1.0, 2.0)
_RETRY_STATUS = frozenset({429, 502, 503, 504})
_RBAC_HINT = (
    "check that the pipeline's service account may get, create and update "
    "workflowtemplates and create workflows in this namespace"
)
_STRICT_SPLIT = re.compile(r", (?=(?:unknown|duplicate) field )")
_OBJECT_REPR = re.compile(r"<[^>]*>: ")


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
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.timeout = timeout
        self.backoff = tuple(BACKOFF if backoff is None else backoff)
        self._sleep = sleep

    @classmethod
    def from_environment(cls, namespace: str) -> KubeCluster:
        """`APHEX_KUBE_HOST` if set, else the in-cluster service account, else the kubeconfig."""
        configuration = Configuration()
        host = os.environ.get(HOST_ENV)
        if host:
            configuration.host = host
        else:
            try:
                kube_config.load_incluster_config(client_configuration=configuration)
            except kube_config.ConfigException:
                try:
                    kube_config.load_kube_config(
                        config_file=os.environ.get("KUBECONFIG") or None,
                        client_configuration=configuration,
                    )
                except (kube_config.ConfigException, OSError) as error:
                    raise ClusterError(
                        "no Kubernetes API configured: not running in a pod with a service "
                        f"account and no usable kubeconfig ({_one_line(error)}); set KUBECONFIG "
                        f"or {HOST_ENV}"
                    ) from error
        configuration.retries = 0  # this class retries, with backoff
        return cls(CustomObjectsApi(ApiClient(configuration)), namespace)

    @property
    def host(self) -> str:
        """The API server address requests go to."""
        return str(self.api.api_client.configuration.host)

    # the protocol -----------------------------------------------------------

    def get_template(self, name: str) -> LiveTemplate | None:
        """The live template, or None when there is none."""
        what = f"read {TEMPLATES}/{name}"
        try:
            doc = self._call(
                what,
                self.api.get_namespaced_custom_object,
                group=GROUP,
                version=VERSION,
                namespace=self.namespace,
                plural=TEMPLATES,
                name=name,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise self._error(what, error) from error
        return _live(doc)

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
            raise self._error(what, error) from error
        return True

    # plumbing ---------------------------------------------------------------

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
            call: Callable[..., Any] = self.api.create_namespaced_custom_object
        else:
            meta["resourceVersion"] = resource_version
            what = f"replace {TEMPLATES}/{name} at resourceVersion {resource_version}"
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
            raise self._error(what, error) from error
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

    def _error(self, what: str, error: ApiException) -> ClusterError:
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
            return ClusterError(
                f"{where} refused {what} in namespace {self.namespace} "
                f"({error.status} {reason}): {message}; {_RBAC_HINT}"
            )
        return ClusterError(
            f"{where} failed to {what} ({error.status} {reason}): {message}; "
            "check the API server and the Argo CRDs (argoproj.io/v1alpha1) are installed"
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
