"""The fake's state: stored objects with a server-wide ``resourceVersion``, the requests
answered, and the pending disturbances (concurrent writers after a GET, injected faults)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class Hook:
    """After each of the next ``remaining`` GETs of the object, a concurrent write."""

    plural: str
    namespace: str
    name: str
    remaining: int


@dataclass
class Fault:
    """An injected error and/or delay for the next ``remaining`` matching requests."""

    status: int | None
    reason: str
    delay: float
    remaining: int
    method: str | None
    dry_run: bool | None

    def applies(self, method: str, query: dict[str, str]) -> bool:
        return (
            self.remaining > 0
            and self.method in (None, method)
            and self.dry_run in (None, query.get("dryRun") == "All")
        )


@dataclass
class Store:
    """Everything the server knows, under ``lock``."""

    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    version: int = 1000
    requests: list[RecordedRequest] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def next_version(self) -> str:
        self.version += 1
        return str(self.version)


def concurrent_write(store: Store, key: tuple[str, str, str]) -> str:
    """What another writer does: change the object (an annotation) and bump its version."""
    doc = store.objects[key]
    annotations = doc["metadata"].setdefault("annotations", {})
    count = int(annotations.get("fake-kube.aphex.io/concurrent-writes", "0")) + 1
    annotations["fake-kube.aphex.io/concurrent-writes"] = str(count)
    version = store.next_version()
    doc["metadata"]["resourceVersion"] = version
    return version
