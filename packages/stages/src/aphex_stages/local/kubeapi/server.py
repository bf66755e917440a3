""":class:`KubeApiServer`: the embedded API server, started and stopped around a local run,
with in-process access to its objects and tokens."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from aphex_stages.local.kubeapi import auth
from aphex_stages.local.kubeapi.api import Api
from aphex_stages.local.kubeapi.handler import HttpServer, RequestHook, ResponseHook
from aphex_stages.local.kubeapi.resources import by_plural, object_key
from aphex_stages.local.kubeapi.status import not_found
from aphex_stages.local.kubeapi.store import Store


class KubeApiServer:
    """A Kubernetes API server over HTTP for the resources a local run needs.

    ``state_file``: keep the objects, the resourceVersion counter and the tokens there
    (rewritten atomically after every successful write, reloaded by the next server on
    the same file, which only one server may use at a time). ``authenticate``: every
    request needs ``Authorization: Bearer <token>`` (401 otherwise), is authorized by
    RBAC (403), and Workflows from a template need ``get`` on it. ``enforce_namespaces``:
    namespaced objects can only be created in an existing namespace (404). The socket is
    bound on construction (``host``, ``port``; 0 picks a free port); :meth:`start` serves.
    """

    def __init__(
        self,
        *,
        state_file: Path | None = None,
        authenticate: bool = False,
        enforce_namespaces: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._store = Store(state_file)
        try:
            api = Api(
                self._store, enforce_namespaces=enforce_namespaces, template_refs=authenticate
            )
            self._http = HttpServer((host, port), api, authenticate=authenticate)
        except BaseException:
            self._store.close()
            raise
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="kubeapi", daemon=True
        )
        self._stopped = False

    # lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, for ``kubernetes.client.Configuration(host=...)``."""
        host, port = self._http.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        return f"http://{shown}:{port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and release the state file."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._http.shutdown()
            self._thread.join(timeout=5)
        self._http.server_close()
        self._store.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # tokens -----------------------------------------------------------------------------

    @property
    def admin_token(self) -> str:
        """The token that bypasses RBAC (the local runner, as installer and controller)."""
        return self._store.admin_token

    def issue_token(self, namespace: str, service_account: str) -> str:
        """A new bearer token for an existing service account (ApiError 404 if it is missing)."""
        return auth.issue_token(self._store, namespace, service_account)

    # in-process access --------------------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of a stored object, or None (namespace "" for a cluster-scoped one)."""
        key = object_key(by_plural(plural), namespace, name)
        with self._store.lock:
            doc = self._store.objects.get(key)
            return copy.deepcopy(doc) if doc is not None else None

    def stored_json(self, plural: str, namespace: str, name: str) -> str | None:
        """The stored object as canonical JSON (for byte-for-byte comparisons), or None."""
        doc = self.get(plural, namespace, name)
        return None if doc is None else json.dumps(doc, sort_keys=True)

    def objects(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Copies of the stored objects of one resource, by namespace and name."""
        with self._store.lock:
            return [
                copy.deepcopy(doc)
                for (p, ns, _), doc in sorted(self._store.objects.items())
                if p == plural and namespace in (None, ns)
            ]

    @property
    def resource_version(self) -> int:
        """The server's latest resourceVersion."""
        with self._store.lock:
            return self._store.version

    def update_object(
        self, plural: str, namespace: str, name: str, change: Callable[[dict[str, Any]], None]
    ) -> str:
        """Change a stored object in place, as another writer would (no checks); it gets a
        new resourceVersion (and generation, for a changed custom resource's body), and the
        state is saved. Returns the new resourceVersion (ApiError 404 if there is none)."""
        resource = by_plural(plural)
        with self._store.lock:
            key = object_key(resource, namespace, name)
            stored = self._store.objects.get(key)
            if stored is None:
                raise not_found(resource, name)
            doc = copy.deepcopy(stored)
            change(doc)
            meta = doc["metadata"]
            body = {k: v for k, v in doc.items() if k != "metadata"}
            if resource.custom and body != {k: v for k, v in stored.items() if k != "metadata"}:
                meta["generation"] = int(meta.get("generation", 1)) + 1
            meta["resourceVersion"] = self._store.next_version()
            self._store.objects[key] = doc
            self._store.save()
            return str(meta["resourceVersion"])

    # hooks ----------------------------------------------------------------------------------

    @property
    def request_hooks(self) -> list[RequestHook]:
        """Called before each request is handled; one may wait, or raise ``ApiError`` to
        answer instead (faults). Append to add one."""
        return self._http.request_hooks

    @property
    def response_hooks(self) -> list[ResponseHook]:
        """Called with each answer (code, body) before it is sent (recording, races)."""
        return self._http.response_hooks
