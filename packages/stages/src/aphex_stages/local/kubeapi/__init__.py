"""The embedded Kubernetes API server of a local run.

`aphex run --local` runs each task in its container, which reaches its cluster only
through the Kubernetes API over HTTP with its service account's token; this server is that
API, embedded the way the moto server embeds AWS. It answers like kube-apiserver, for:

- ``argoproj.io/v1alpha1``: ``workflowtemplates`` and ``workflows`` (checked against the
  pinned full CRD schema and its CEL rules, pruned and defaulted by it), ``eventsources``,
  ``sensors`` and ``eventbus`` (stored as sent: the Events CRDs do not check ``spec``);
- core ``v1``: ``namespaces`` (cluster-scoped), ``serviceaccounts`` (and their ``token``
  subresource), ``secrets`` and ``configmaps``;
- ``rbac.authorization.k8s.io/v1``: ``roles``, ``rolebindings``, and the cluster-scoped
  ``clusterroles`` and ``clusterrolebindings``;

at the API server's paths, so the official client's CoreV1Api, RbacAuthorizationV1Api and
CustomObjectsApi work against it. POST creates (201; 409 AlreadyExists), GET reads (404)
and lists (``labelSelector`` k=v), PUT replaces (a custom resource must name its
``resourceVersion``: 422 without, 409 when stale), PATCH takes a JSON merge patch, DELETE
removes one object or a collection. ``dryRun=All`` checks everything and stores nothing;
``fieldValidation=Strict`` turns unknown or duplicate fields into 400, ``Warn`` (the
default) drops them with ``Warning`` headers. Every error is a ``Status``; the
``resourceVersion`` grows across the server. Watches are not served (405).

Options (:class:`KubeApiServer`): a state file that survives between runs, bearer-token
authentication with RBAC (:mod:`.rbac`, and the Argo rule of :mod:`.admission`), and
enforced namespaces. Usage::

    with KubeApiServer(state_file=path, authenticate=True, enforce_namespaces=True) as api:
        admin = ApiClient(Configuration(host=api.url, api_key={"authorization": api.admin_token},
                                        api_key_prefix={"authorization": "Bearer"}))
        ...  # create the namespace, service account, roles and templates as admin
        token = api.issue_token("argo", "aphex-build")  # for a task's pod

Modules: ``server`` (:class:`KubeApiServer`), ``handler`` (HTTP, routing, hooks), ``api``
(the verbs), ``admission`` (namespaces, the Argo rule), ``auth`` (tokens), ``rbac``
(authorization), ``routing`` (request attributes), ``store`` (objects, state file),
``decode`` (decoding, pruning, merge patches), ``validation`` (names, schemas, RBAC
objects), ``resources`` (what is served), ``status`` (error answers).
"""

from aphex_stages.local.kubeapi.auth import Identity
from aphex_stages.local.kubeapi.handler import Request, RequestHook, ResponseHook
from aphex_stages.local.kubeapi.routing import RequestInfo
from aphex_stages.local.kubeapi.server import KubeApiServer
from aphex_stages.local.kubeapi.status import ApiError
from aphex_stages.local.kubeapi.store import StateFileError

__all__ = [
    "ApiError",
    "Identity",
    "KubeApiServer",
    "Request",
    "RequestHook",
    "RequestInfo",
    "ResponseHook",
    "StateFileError",
]
