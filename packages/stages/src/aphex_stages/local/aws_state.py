"""A moto server's resources kept in one file between local runs (inside the server process).

Every AWS resource moto holds lives in its services' ``BackendDict`` objects (module-level
singletons such as ``moto.s3.models.s3_backends``). :func:`save_state` pickles the
contents of every one in use, all in one pickle, so that a CloudFormation stack and the IAM
role or S3 bucket it made stay the same object; the ``BackendDict`` objects themselves are
written as references to the live ones (``module:attribute``), never as copies.
:func:`load_state` reads such a file into a fresh server before it serves its first request.

The file starts with a line naming the format and a JSON line naming the moto and Python
versions that wrote it: a file of any other version (or a corrupt one) raises
:class:`StateFileError` and the server starts empty. It is written to a temporary file in
the same folder and renamed, so a reader never sees half of it. The IAM authorization
switch (``/moto-api/reset-auth``) is not part of it: a restored server starts with
authorization off, as any new one does.

:class:`StateKeeper` is the WSGI layer :mod:`aphex_stages.local.moto_server` puts in front of
moto: ``POST /aphex-state/save`` saves, ``GET /aphex-state/`` says what was restored.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import json
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from aphex_stages.jsonfile import write_atomically

__all__ = [
    "SAVE_PATH",
    "STATUS_PATH",
    "StateFileError",
    "StateKeeper",
    "load_state",
    "remove_stale_temporaries",
    "save_state",
]

#: The first line of a state file.
MAGIC = b"aphex-moto-state 1\n"
#: ``POST`` here saves the state; ``GET`` :data:`STATUS_PATH` tells what was restored.
SAVE_PATH = "/aphex-state/save"
STATUS_PATH = "/aphex-state/"


class StateFileError(Exception):
    """The state file cannot be used (another moto or Python version, or corrupt)."""


def _versions() -> dict[str, str]:
    import moto  # pants: no-infer-dep

    return {"moto": str(moto.__version__), "python": "%d.%d" % sys.version_info[:2]}


def _live_backends() -> dict[str, Any]:
    """``module:attribute`` → every ``BackendDict`` in use (holding at least one account)."""
    from moto.core.base_backend import BackendDict  # pants: no-infer-dep

    found: dict[str, Any] = {}
    for backends in list(BackendDict._instances):  # type: ignore[misc]
        module = sys.modules.get(backends.backend.__module__)
        for name, value in vars(module or object()).items():
            if value is backends:
                found[f"{module.__name__}:{name}"] = backends  # type: ignore[union-attr]
                break
    return found


def _backend_dict(reference: str) -> Any:
    """The live ``BackendDict`` a ``module:attribute`` reference names."""
    from moto.core.base_backend import BackendDict  # pants: no-infer-dep

    module_name, _, attribute = reference.partition(":")
    if not module_name.startswith("moto."):
        raise StateFileError(f"not a moto backend: {reference}")
    value = getattr(importlib.import_module(module_name), attribute, None)
    if not isinstance(value, BackendDict):
        raise StateFileError(f"no backends {reference} in this moto")
    return value


_LOCK_TYPES: dict[type, Callable[[], Any]] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}


class _Pickler(pickle.Pickler):
    def __init__(self, file: IO[bytes], references: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._references = references

    def persistent_id(self, obj: Any) -> str | None:
        return self._references.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        # A lock some models hold (an S3 key's...) is saved as a new, released one.
        if type(obj) in _LOCK_TYPES:
            return _LOCK_TYPES[type(obj)], ()
        if isinstance(obj, dict) and (
            type(obj).__module__.startswith("moto.") or _is_local(_factory(obj))
        ):
            return _dict_reduction(obj)
        return NotImplemented


def _factory(obj: dict[Any, Any]) -> Any:
    return getattr(obj, "default_factory", None)


def _dict_reduction(obj: dict[Any, Any]) -> tuple[Any, ...]:
    """How to pickle one of moto's dict subclasses (or a defaultdict with a lambda): made
    without its ``__init__`` (which wants arguments), its raw items set without its own
    ``__setitem__`` (S3's key store appends a version there), after its attributes. A
    lambda factory (SSM's tags...) becomes a copy of what it makes, which pickles."""
    factory = _factory(obj)
    if _is_local(factory):
        factory = functools.partial(copy.deepcopy, factory())
    state = (dict(getattr(obj, "__dict__", {})), factory, dict(dict.items(obj)))
    return _new_instance, (type(obj),), state, None, None, _set_dict_state


def _new_instance(cls: Any) -> Any:
    return cls.__new__(cls)


def _set_dict_state(obj: Any, state: tuple[dict[str, Any], Any, dict[Any, Any]]) -> None:
    attributes, factory, items = state
    if attributes:
        obj.__dict__.update(attributes)
    if factory is not None:
        obj.default_factory = factory
    dict.update(obj, items)


def _is_local(function: Any) -> bool:
    """Whether `function` cannot be pickled by name (a lambda, a nested function)."""
    name = getattr(function, "__qualname__", "")
    return callable(function) and ("<lambda>" in name or "<locals>" in name)


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return _backend_dict(str(pid))


def save_state(path: Path) -> int:
    """Write every resource of this moto server to `path` (atomically); its size in bytes."""
    from moto.core.base_backend import backend_lock  # pants: no-infer-dep

    def write(handle: IO[bytes]) -> None:
        handle.write(MAGIC)
        handle.write(json.dumps(_versions()).encode() + b"\n")
        with backend_lock:
            live = _live_backends()
            references = {id(backends): name for name, backends in live.items()}
            payload = {name: dict(backends) for name, backends in live.items()}
            _Pickler(handle, references).dump(payload)

    write_atomically(path, write)
    return path.stat().st_size


def load_state(path: Path) -> int:
    """Put the resources saved in `path` into this (new) moto server; how many services.

    Raises :class:`StateFileError` when the file is of another version or unreadable;
    nothing is restored then."""
    from moto.core.base_backend import BackendDict, backend_lock  # pants: no-infer-dep

    try:
        with path.open("rb") as handle:
            if handle.readline() != MAGIC:
                raise StateFileError("not a local AWS state file")
            versions = json.loads(handle.readline())
            if versions != _versions():
                raise StateFileError(
                    f"saved by moto {versions.get('moto')} on Python {versions.get('python')},"
                    f" this is moto {_versions()['moto']} on Python {_versions()['python']}"
                )
            payload = _Unpickler(handle).load()
        if not isinstance(payload, dict):
            raise StateFileError("unexpected contents")
        restored = [(_backend_dict(name), accounts) for name, accounts in payload.items()]
    except StateFileError:
        raise
    except Exception as error:  # a corrupt file can raise anything while unpickling
        raise StateFileError(f"{type(error).__name__}: {error}") from None
    with backend_lock:
        for backends, accounts in restored:
            backends.clear()
            dict.update(backends, accounts)
            if backends not in BackendDict._instances:  # type: ignore[misc]
                BackendDict._instances.append(backends)  # type: ignore[misc]
    return len(restored)


def remove_stale_temporaries(path: Path) -> None:
    """Remove what a save cut short (a killed server) left beside `path`."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


class StateKeeper:
    """The WSGI app in front of moto's: restores `path` at start, saves it on request and
    (when anything was asked since the last save) on :meth:`save_if_changed`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], path: Path) -> None:
        self.app = app
        self.path = path
        self.restored = 0
        self.warning: str | None = None
        self._lock = threading.Lock()
        self._requests = 0
        self._saved_at = 0

    def restore(self) -> None:
        """Load the state file if there is one; a bad one is named in :attr:`warning`."""
        remove_stale_temporaries(self.path)
        if not self.path.exists():
            return
        try:
            self.restored = load_state(self.path)
        except StateFileError as error:
            self.warning = f"cannot restore the local AWS state from {self.path} ({error})"
            print(f"aphex: {self.warning}; starting empty", file=sys.stderr, flush=True)

    def save(self) -> dict[str, Any]:
        """Save now; what to answer (status, path, bytes, seconds)."""
        with self._lock:
            mark = self._requests
        started = time.monotonic()
        try:
            size = save_state(self.path)
        except Exception as error:  # - answered to the caller, never raised
            print(f"aphex: saving the state failed: {error!r}", file=sys.stderr, flush=True)
            return {"status": "error", "error": f"{type(error).__name__}: {error}"}
        with self._lock:
            self._saved_at = max(self._saved_at, mark)
        seconds = round(time.monotonic() - started, 3)
        print(
            f"aphex: state saved to {self.path} ({size} bytes, {seconds}s)",
            file=sys.stderr,
            flush=True,
        )
        return {"status": "ok", "path": str(self.path), "bytes": size, "seconds": seconds}

    def save_if_changed(self) -> None:
        """Save when a request came in since the last save (at shutdown)."""
        with self._lock:
            changed = self._requests > self._saved_at
        if changed:
            self.save()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == SAVE_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self._answer(start_response, self.save())
        if path == STATUS_PATH:
            status = {"path": str(self.path), "restored": self.restored, "warning": self.warning}
            return self._answer(start_response, status)
        with self._lock:
            self._requests += 1
        return self.app(environ, start_response)

    @staticmethod
    def _answer(start_response: Callable[..., Any], body: dict[str, Any]) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]
