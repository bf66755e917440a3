"""The test-facing side: :class:`FakeKube` (the product's API server with every request
recorded, injected faults and concurrent writers), :func:`fake_kube_server` and the
``fake_kube`` pytest fixture."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from aphex_stages.local.kubeapi import ApiError, KubeApiServer, Request

CONCURRENT_WRITES = "fake-kube.aphex.io/concurrent-writes"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Fault:
    """An injected error and/or delay for the next ``remaining`` matching requests."""

    status: int | None
    reason: str
    delay: float
    remaining: int
    method: str | None
    dry_run: bool | None

    def applies(self, request: Request) -> bool:
        return (
            self.remaining > 0
            and self.method in (None, request.method)
            and self.dry_run in (None, request.query.get("dryRun") == "All")
        )


@dataclass
class _RaceAfterGet:
    """After each of the next ``remaining`` GETs of the object, a concurrent write."""

    plural: str
    namespace: str
    name: str
    remaining: int


class FakeKube(KubeApiServer):
    """A running API server for tests: its `url`, and ways to inspect and disturb it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._races: list[_RaceAfterGet] = []
        self._lost: list[_Fault] = []
        self.request_hooks.append(self._fault)
        self.response_hooks.append(self._after)

    # inspection (get, stored_json, objects, resource_version: KubeApiServer's) ----------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, in order."""
        with self._lock:
            return list(self._requests)

    def writes(self, plural: str | None = None) -> list[RecordedRequest]:
        """The POST/PUT/DELETE requests that were not dry runs (optionally of one resource)."""
        return [
            r
            for r in self.requests
            if r.method in ("POST", "PUT", "DELETE")
            and r.query.get("dryRun") != "All"
            and (plural is None or f"/{plural}" in r.path)
        ]

    # disturbance --------------------------------------------------------------------------

    def touch(self, plural: str, namespace: str, name: str) -> str:
        """Modify a stored object as another writer would; return its new resourceVersion."""

        def count(doc: dict[str, Any]) -> None:
            annotations = doc["metadata"].setdefault("annotations", {})
            annotations[CONCURRENT_WRITES] = str(int(annotations.get(CONCURRENT_WRITES, "0")) + 1)

        return self.update_object(plural, namespace, name, count)

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
        with self._lock:
            self._faults.append(_Fault(status, reason, delay, times, method, dry_run))

    def lose_response(self, status: int, reason: str, *, method: str, times: int = 1) -> None:
        """The next `times` real (not dry-run) `method` requests take effect, then are
        answered with an error (`status`, `reason`): a gateway timeout after the write."""
        with self._lock:
            self._lost.append(_Fault(status, reason, 0.0, times, method, False))

    def conflict_after_get(self, plural: str, namespace: str, name: str, times: int = 1) -> None:
        """After each of the next `times` GETs of the object, another writer modifies it,
        so an update based on what was read meets a 409 Conflict."""
        with self._lock:
            self._races.append(_RaceAfterGet(plural, namespace, name, times))

    # the hooks ------------------------------------------------------------------------------

    def _fault(self, request: Request) -> None:
        with self._lock:
            fault = next((f for f in self._faults if f.applies(request)), None)
            if fault is not None:
                fault.remaining -= 1
        if fault is None:
            return
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is not None:
            raise ApiError(fault.status, fault.reason, f"injected fault: {fault.reason}")

    def _after(self, request: Request, status: int, body: dict[str, Any]) -> None:
        try:
            recorded: Any = json.loads(request.body) if request.body else None
        except ValueError:
            recorded = request.body.decode("utf-8", "replace")
        info = request.info
        with self._lock:
            self._requests.append(
                RecordedRequest(request.method, request.path, request.query, recorded, status)
            )
            race = next(
                (
                    r
                    for r in self._races
                    if info is not None
                    and request.method == "GET"
                    and status == 200
                    and r.remaining > 0
                    and (r.plural, r.namespace, r.name)
                    == (info.resource, info.namespace, info.name)
                ),
                None,
            )
            if race is not None:
                race.remaining -= 1
        if race is not None:
            self.touch(race.plural, race.namespace, race.name)
        with self._lock:
            lost = next((f for f in self._lost if f.applies(request)), None)
            if lost is not None and status < 300:
                lost.remaining -= 1
            else:
                lost = None
        if lost is not None and lost.status is not None:
            raise ApiError(lost.status, lost.reason, f"injected lost response: {lost.reason}")


@contextmanager
def fake_kube_server(**options: Any) -> Iterator[FakeKube]:
    """Start a fake API server (options: :class:`KubeApiServer`'s) for the `with` block."""
    with FakeKube(**options) as server:
        yield server


@pytest.fixture()
def fake_kube() -> Iterator[FakeKube]:
    """A fresh fake API server for one test."""
    with fake_kube_server() as server:
        yield server
