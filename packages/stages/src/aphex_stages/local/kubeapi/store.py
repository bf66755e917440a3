"""The server's state: stored objects keyed ``(plural, namespace, name)``, the server-wide
``resourceVersion`` counter, the tokens issued, and the optional state file that keeps them
between runs (rewritten atomically after every successful write, locked while in use)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aphex_stages.jsonfile import write_json_atomically

Key = tuple[str, str, str]
_FORMAT = 1
_FIRST_VERSION = 1000


class StateFileError(Exception):
    """The state file cannot be used: unreadable, not ours, or in use by another server."""


def lock_state_file(path: Path) -> IO[str]:
    """Take the lock of state file `path` (the file ``<path>.lock`` beside it): the open
    handle that holds it until closed. StateFileError when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(path.name + ".lock"), "a+", encoding="utf-8")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        handle.close()
        raise StateFileError(
            f"{path} is in use by another local API server; stop that run first"
        ) from error
    return handle


@dataclass(frozen=True)
class TokenRecord:
    """Whom a token stands for: a service account, by namespace, name and uid (a token of
    a deleted and recreated account is no longer valid)."""

    namespace: str
    service_account: str
    uid: str


class Store:
    """Everything the server knows, under ``lock`` (re-entrant)."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.version = _FIRST_VERSION
        self.tokens: dict[str, TokenRecord] = {}
        self.admin_token = ""
        self.lock = threading.RLock()
        self.state_file = state_file
        self._lock_handle: IO[str] | None = None
        if state_file is not None:
            self._lock_state_file(state_file)
            if state_file.exists():
                self._load(state_file)
        if not self.admin_token:
            self.admin_token = secrets.token_urlsafe(32)
            self.save()

    def next_version(self) -> str:
        """Move the server's ``resourceVersion`` on; return the new one."""
        self.version += 1
        return str(self.version)

    def save(self) -> None:
        """Write the state file (if any) atomically: temporary file, then rename."""
        if self.state_file is None:
            return
        with self.lock:
            data = {
                "format": _FORMAT,
                "resourceVersion": self.version,
                "adminToken": self.admin_token,
                "tokens": {
                    token: {
                        "namespace": r.namespace,
                        "serviceAccount": r.service_account,
                        "uid": r.uid,
                    }
                    for token, r in self.tokens.items()
                },
                "objects": [
                    {"resource": key[0], "object": doc} for key, doc in sorted(self.objects.items())
                ],
            }
            write_json_atomically(self.state_file, data, sort_keys=True)

    def close(self) -> None:
        """Release the state file for another server."""
        if self._lock_handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def _lock_state_file(self, path: Path) -> None:
        self._lock_handle = lock_state_file(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {_FORMAT}")
            self.version = int(data["resourceVersion"])
            self.admin_token = str(data["adminToken"])
            self.tokens = {
                token: TokenRecord(r["namespace"], r["serviceAccount"], r["uid"])
                for token, r in data["tokens"].items()
            }
            for entry in data["objects"]:
                doc = entry["object"]
                meta = doc["metadata"]
                key = (entry["resource"], meta.get("namespace", ""), meta["name"])
                self.objects[key] = doc
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            self.close()
            raise StateFileError(
                f"cannot read the local API server's state from {path}: {error}; "
                "remove the file to start from an empty cluster"
            ) from error
