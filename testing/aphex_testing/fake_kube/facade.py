"""The test-facing side: :class:`FakeKube` (a running server, its store to inspect and
disturb), :func:`fake_kube_server` and the ``fake_kube`` pytest fixture."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from aphex_testing.fake_kube.server import Server
from aphex_testing.fake_kube.store import Fault, Hook, RecordedRequest, Store, concurrent_write


class FakeKube:
    """A running fake API server: its `url`, and ways to inspect and disturb its store."""

    def __init__(self) -> None:
        self._store = Store()
        self._server = Server(self._store)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-kube", daemon=True
        )

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, for `kubernetes.client.Configuration(host=...)`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeKube:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # inspection -----------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of a stored object, or None."""
        with self._store.lock:
            doc = self._store.objects.get((plural, namespace, name))
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
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, in order."""
        with self._store.lock:
            return list(self._store.requests)

    def writes(self, plural: str | None = None) -> list[RecordedRequest]:
        """The POST/PUT/DELETE requests that were not dry runs (optionally of one resource)."""
        return [
            r
            for r in self.requests
            if r.method in ("POST", "PUT", "DELETE")
            and r.query.get("dryRun") != "All"
            and (plural is None or f"/{plural}" in r.path)
        ]

    @property
    def resource_version(self) -> int:
        """The server's latest resourceVersion."""
        with self._store.lock:
            return self._store.version

    # disturbance ----------------------------------------------------------

    def touch(self, plural: str, namespace: str, name: str) -> str:
        """Modify a stored object as another writer would; return its new resourceVersion."""
        with self._store.lock:
            return concurrent_write(self._store, (plural, namespace, name))

    def inject_fault(
        self,
        status: int | None = None,
        reason: str = "",
        *,
        delay: float = 0.0,
        times: int = 1,
        method: str | None = None,
        dry_run: bool | None = None,
    ) -> None:
        """Answer the next `times` matching requests (any, or only `method`, only dry runs
        or only real ones) with an error `Status` (`status`, `reason`) and/or only after
        `delay` seconds: a slow or broken server, an RBAC refusal, an admission webhook."""
        with self._store.lock:
            self._store.faults.append(Fault(status, reason, delay, times, method, dry_run))

    def conflict_after_get(self, plural: str, namespace: str, name: str, times: int = 1) -> None:
        """After each of the next `times` GETs of the object, another writer modifies it,
        so an update based on what was read meets a 409 Conflict."""
        with self._store.lock:
            self._store.hooks.append(Hook(plural, namespace, name, times))


@contextmanager
def fake_kube_server() -> Iterator[FakeKube]:
    """Start a fake API server for the duration of the `with` block."""
    with FakeKube() as server:
        yield server


@pytest.fixture()
def fake_kube() -> Iterator[FakeKube]:
    """A fresh fake API server for one test."""
    with fake_kube_server() as server:
        yield server
