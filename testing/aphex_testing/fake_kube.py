"""A fake Kubernetes API server over real HTTP for Argo's `workflowtemplates` and `workflows`.

No real kube-apiserver can run here, so tests talk to this one through the official
`kubernetes` client. It answers the way the API server answers for these two custom
resources (`argoproj.io/v1alpha1`, namespaced):

- POST creates (201, sets `resourceVersion`, `uid`, `creationTimestamp`, `generation`);
  a taken name is 409 AlreadyExists; a `resourceVersion` in the body is 500, as in etcd3.
- GET reads (404 NotFound), lists (per namespace or across them, `labelSelector` k=v).
- PUT replaces: no `resourceVersion` is 422 Invalid, a stale one 409 Conflict, a missing
  object 404; `generation` moves only when more than metadata changed.
- DELETE removes (a `Status` of Success).
- `dryRun=All` does every check and stores nothing; `fieldValidation=Strict` turns unknown
  or duplicate fields into 400 BadRequest ("strict decoding error"); `Warn` (the default)
  and `Ignore` drop them (`Warn` says so in `Warning` headers), as structural pruning does;
  the schema's `default`s are filled in.
- Documents are checked against the pinned full WorkflowTemplate CRD schema and its CEL
  rules (`aphex_generator.validation`, layers `crd` and `cel`): 422 Invalid with causes.

Every error is a proper `Status` object. `resourceVersion` grows monotonically across
the server. Tests inspect and disturb the store through :class:`FakeKube`:
:meth:`FakeKube.get`, :meth:`FakeKube.stored_json`, :meth:`FakeKube.requests`,
:meth:`FakeKube.touch` (a concurrent writer), :meth:`FakeKube.conflict_after_get` and
:meth:`FakeKube.inject_fault` (403s, 503s, slow answers).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from aphex_generator import validate
from aphex_generator.problem import Problem, join_path
from aphex_generator.validation.schemas import strict_crd_schema

__all__ = ["FakeKube", "RecordedRequest", "fake_kube", "fake_kube_server"]

GROUP = "argoproj.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KINDS = {"workflowtemplates": "WorkflowTemplate", "workflows": "Workflow"}

_OBJECT_META = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_SERVER_META = ("uid", "creationTimestamp", "generation")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


class ApiError(Exception):
    """An error answer: HTTP code plus the `Status` fields."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class _Hook:
    plural: str
    namespace: str
    name: str
    remaining: int


@dataclass
class _Fault:
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
class _Store:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    version: int = 1000
    requests: list[RecordedRequest] = field(default_factory=list)
    hooks: list[_Hook] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def next_version(self) -> str:
        self.version += 1
        return str(self.version)


# ---------------------------------------------------------------------------
# decoding, pruning, validation


def _decode(raw: bytes, kind: str) -> tuple[dict[str, Any], list[str]]:
    """Parse a JSON body; return it and the duplicate fields (the last value wins)."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, ValueError) as error:
        raise _bad_request(kind, f"json: {error}") from error
    if not isinstance(doc, dict):
        raise _bad_request(kind, "json: cannot unmarshal into Go value of type map")
    return doc, duplicates


def _bad_request(kind: str, cause: str) -> ApiError:
    return ApiError(
        400,
        "BadRequest",
        f'{kind} in version "{VERSION}" cannot be handled as a {kind}: {cause}',
    )


def _prune(value: Any, schema: Any, path: str, unknown: list[str]) -> Any:
    """Drop fields the structural schema does not declare, recording their paths, and
    fill in the schema's defaults, as the API server does for custom resources."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        keep = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        out: dict[str, Any] = {}
        for key, item in value.items():
            child = join_path(path, key)
            if isinstance(props, dict) and key in props:
                out[key] = _prune(item, props[key], child, unknown)
            elif isinstance(extra, dict):
                out[key] = _prune(item, extra, child, unknown)
            elif keep or extra is True:
                out[key] = item
            else:
                unknown.append(child)
        for key, sub in (props or {}).items():
            if key not in out and isinstance(sub, dict) and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])  # structural defaulting
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune(v, schema["items"], f"{path}[{i}]", unknown) for i, v in enumerate(value)]
    return value


def _prune_document(doc: dict[str, Any], kind: str, unknown: list[str]) -> dict[str, Any]:
    """Prune like the API server: ObjectMeta by its Go type, `spec` by the CRD schema.

    A Workflow's `status` is kept as sent (the controller owns it)."""
    schema = strict_crd_schema()
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("apiVersion", "kind"):
            out[key] = value
        elif key == "metadata":
            out[key] = _prune_metadata(value, kind, unknown)
        elif key == "spec":
            out[key] = _prune(value, schema["properties"]["spec"], "spec", unknown)
        elif key == "status" and kind == "Workflow":
            out[key] = value
        else:
            unknown.append(key)
    return out


def _prune_metadata(meta: Any, kind: str, unknown: list[str]) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise _bad_request(kind, "json: cannot unmarshal into Go struct field .metadata")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            raise _bad_request(
                kind,
                f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{key} "
                "of type map[string]string",
            )
    kept = {k: v for k, v in meta.items() if k in _OBJECT_META}
    unknown.extend(join_path("metadata", k) for k in meta if k not in _OBJECT_META)
    return kept


def _cause(problem: Problem) -> dict[str, str]:
    message = problem.message
    if message == "required field is missing":
        return {"reason": "FieldValueRequired", "message": "Required value", "field": problem.path}
    if " is not one of " in message:
        return {
            "reason": "FieldValueNotSupported",
            "message": f"Unsupported value: {message}",
            "field": problem.path,
        }
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {message}",
        "field": problem.path,
    }


def _invalid(kind: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{kind}.{GROUP} "{name}" is invalid: {joined}',
        {"name": name, "group": GROUP, "kind": kind, "causes": causes},
    )


def _check_name(kind: str, name: str) -> None:
    if not name:
        raise _invalid(
            kind,
            name,
            [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: name or generateName is required",
                    "field": "metadata.name",
                }
            ],
        )
    if len(name) > 253 or not _NAME.fullmatch(name):
        raise _invalid(
            kind,
            name,
            [
                {
                    "reason": "FieldValueInvalid",
                    "message": f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                    "consist of lower case alphanumeric characters, '-' or '.'",
                    "field": "metadata.name",
                }
            ],
        )


def _check_schema(doc: dict[str, Any], kind: str, name: str) -> None:
    problems = [p for p in validate(doc) if p.layer in ("crd", "cel")]
    if problems:
        raise _invalid(kind, name, [_cause(p) for p in problems])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# the resource handlers


class _Api:
    """The request semantics, independent of HTTP plumbing."""

    def __init__(self, store: _Store) -> None:
        self.store = store

    def _key(self, plural: str, namespace: str, name: str) -> tuple[str, str, str]:
        return (plural, namespace, name)

    def _not_found(self, plural: str, name: str) -> ApiError:
        return ApiError(
            404,
            "NotFound",
            f'{plural}.{GROUP} "{name}" not found',
            {"name": name, "group": GROUP, "kind": plural},
        )

    def _incoming(
        self, plural: str, namespace: str, raw: bytes, strict: str
    ) -> tuple[dict[str, Any], list[str]]:
        """Decode, check type and namespace, prune; return the document and warnings."""
        kind = KINDS[plural]
        doc, duplicates = _decode(raw, kind)
        if doc.get("apiVersion") != API_VERSION or doc.get("kind") != kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version and kind in the data ({doc.get('apiVersion')}, "
                f"{doc.get('kind')}) do not match the expected ({API_VERSION}, {kind})",
            )
        unknown: list[str] = []
        doc = _prune_document(doc, kind, unknown)
        findings = [f'unknown field "{p}"' for p in unknown]
        findings += [f'duplicate field "{d}"' for d in duplicates]
        if findings and strict == "Strict":
            raise _bad_request(kind, "strict decoding error: " + ", ".join(findings))
        meta = doc.setdefault("metadata", {})
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent "
                "on the request",
            )
        meta["namespace"] = namespace
        return doc, findings if strict == "Warn" else []

    def create(
        self, plural: str, namespace: str, raw: bytes, dry_run: bool, strict: str
    ) -> tuple[int, dict[str, Any], list[str]]:
        kind = KINDS[plural]
        doc, warnings = self._incoming(plural, namespace, raw, strict)
        meta = doc["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(secrets.choice(_GENERATE_CHARS) for _ in range(5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        name = str(meta.get("name") or "")
        _check_name(kind, name)
        for server_field in _SERVER_META:
            meta.pop(server_field, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        _check_schema(doc, kind, name)
        with self.store.lock:
            key = self._key(plural, namespace, name)
            if key in self.store.objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{plural}.{GROUP} "{name}" already exists',
                    {"name": name, "group": GROUP, "kind": plural},
                )
            if dry_run:
                meta.pop("resourceVersion", None)
                return 201, doc, warnings
            if meta.get("resourceVersion"):
                raise ApiError(
                    500,
                    "InternalError",
                    "resourceVersion should not be set on objects to be created",
                )
            meta["resourceVersion"] = self.store.next_version()
            self.store.objects[key] = copy.deepcopy(doc)
        return 201, doc, warnings

    def replace(
        self, plural: str, namespace: str, name: str, raw: bytes, dry_run: bool, strict: str
    ) -> tuple[int, dict[str, Any], list[str]]:
        kind = KINDS[plural]
        doc, warnings = self._incoming(plural, namespace, raw, strict)
        meta = doc["metadata"]
        if meta.get("name") != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta.get('name', '')}) does not match the name "
                f"on the URL ({name})",
            )
        with self.store.lock:
            key = self._key(plural, namespace, name)
            existing = self.store.objects.get(key)
            if existing is None:
                raise self._not_found(plural, name)
            sent = str(meta.get("resourceVersion") or "")
            if not sent:
                raise _invalid(
                    kind,
                    name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "message": "Invalid value: 0x0: must be specified for an update",
                            "field": "metadata.resourceVersion",
                        }
                    ],
                )
            current = existing["metadata"]["resourceVersion"]
            if sent != current:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {plural}.{GROUP} "{name}": the object '
                    "has been modified; please apply your changes to the latest version "
                    "and try again",
                    {"name": name, "group": GROUP, "kind": plural},
                )
            old_meta = existing["metadata"]
            for server_field in _SERVER_META:
                meta[server_field] = old_meta[server_field]
            _check_schema(doc, kind, name)
            body_changed = {k: v for k, v in doc.items() if k != "metadata"} != {
                k: v for k, v in existing.items() if k != "metadata"
            }
            if body_changed:
                meta["generation"] = int(old_meta["generation"]) + 1
            if dry_run:
                return 200, doc, warnings
            if doc != existing:
                meta["resourceVersion"] = self.store.next_version()
                self.store.objects[key] = copy.deepcopy(doc)
            else:
                meta["resourceVersion"] = current
        return 200, doc, warnings

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        with self.store.lock:
            doc = self.store.objects.get(self._key(plural, namespace, name))
            if doc is None:
                raise self._not_found(plural, name)
            answer = copy.deepcopy(doc)
            self._run_hooks(plural, namespace, name)
            return answer

    def list(self, plural: str, namespace: str | None, selector: str) -> dict[str, Any]:
        wanted = _parse_selector(selector)
        with self.store.lock:
            items = [
                copy.deepcopy(doc)
                for (p, ns, _), doc in sorted(self.store.objects.items())
                if p == plural and (namespace is None or ns == namespace) and _matches(doc, wanted)
            ]
            version = str(self.store.version)
        return {
            "apiVersion": API_VERSION,
            "kind": f"{KINDS[plural]}List",
            "metadata": {"resourceVersion": version},
            "items": items,
        }

    def delete(self, plural: str, namespace: str, name: str, dry_run: bool) -> dict[str, Any]:
        with self.store.lock:
            key = self._key(plural, namespace, name)
            doc = self.store.objects.get(key)
            if doc is None:
                raise self._not_found(plural, name)
            if not dry_run:
                del self.store.objects[key]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": GROUP,
                "kind": plural,
                "uid": doc["metadata"]["uid"],
            },
        }

    def _run_hooks(self, plural: str, namespace: str, name: str) -> None:
        for hook in self.store.hooks:
            if (hook.plural, hook.namespace, hook.name) == (plural, namespace, name) and (
                hook.remaining > 0
            ):
                hook.remaining -= 1
                _concurrent_write(self.store, (plural, namespace, name))


def _concurrent_write(store: _Store, key: tuple[str, str, str]) -> str:
    """What another writer does: change the object (an annotation) and bump its version."""
    doc = store.objects[key]
    annotations = doc["metadata"].setdefault("annotations", {})
    count = int(annotations.get("fake-kube.aphex.io/concurrent-writes", "0")) + 1
    annotations["fake-kube.aphex.io/concurrent-writes"] = str(count)
    version = store.next_version()
    doc["metadata"]["resourceVersion"] = version
    return version


def _parse_selector(selector: str) -> list[tuple[str, str | None]]:
    wanted: list[tuple[str, str | None]] = []
    for part in filter(None, (p.strip() for p in selector.split(","))):
        if "!" in part or " in " in part or " notin " in part:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
        key, sep, value = part.replace("==", "=").partition("=")
        wanted.append((key.strip(), value.strip() if sep else None))
    return wanted


def _matches(doc: dict[str, Any], wanted: list[tuple[str, str | None]]) -> bool:
    labels = doc.get("metadata", {}).get("labels") or {}
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted)


def _status(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message,
        "reason": error.reason,
        "code": error.code,
    }
    if error.details is not None:
        body["details"] = error.details
    return body


# ---------------------------------------------------------------------------
# HTTP


_PREFIX = ("apis", GROUP, VERSION)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests inspect `FakeKube.requests` instead."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        warnings: list[str] = []
        try:
            self._fault(method, query)
            code, body, warnings = self._route(method, url.path, query, raw)
        except ApiError as error:
            code, body = error.code, _status(error)
        try:
            recorded: Any = json.loads(raw) if raw else None
        except ValueError:
            recorded = raw.decode("utf-8", "replace")
        with self.server.store.lock:
            self.server.store.requests.append(
                RecordedRequest(method, url.path, query, recorded, code)
            )
        data = json.dumps(body).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for warning in warnings:
            escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{escaped}"')
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, method: str, query: dict[str, str]) -> None:
        with self.server.store.lock:
            faults = self.server.store.faults
            fault = next((f for f in faults if f.applies(method, query)), None)
            if fault is not None:
                fault.remaining -= 1
        if fault is None:
            return
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is not None:
            raise ApiError(fault.status, fault.reason, f"injected fault: {fault.reason}")

    def _route(
        self, method: str, path: str, query: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], list[str]]:
        api = self.server.api
        parts = tuple(p for p in path.split("/") if p)
        if parts[:3] != _PREFIX:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rest = parts[3:]
        dry_run = _dry_run(query)
        strict = _field_validation(query)
        if len(rest) == 1 and rest[0] in KINDS and method == "GET":
            return 200, api.list(rest[0], None, query.get("labelSelector", "")), []
        if len(rest) < 3 or rest[0] != "namespaces" or rest[2] not in KINDS:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace, plural = rest[1], rest[2]
        if len(rest) == 3:
            if method == "GET":
                return 200, api.list(plural, namespace, query.get("labelSelector", "")), []
            if method == "POST":
                return api.create(plural, namespace, raw, dry_run, strict)
        elif len(rest) == 4:
            name = rest[3]
            if method == "GET":
                return 200, api.get(plural, namespace, name), []
            if method == "PUT":
                return api.replace(plural, namespace, name, raw, dry_run, strict)
            if method == "DELETE":
                return 200, api.delete(plural, namespace, name, dry_run), []
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method ({method})")


def _dry_run(query: dict[str, str]) -> bool:
    value = query.get("dryRun")
    if value not in (None, "All"):
        raise ApiError(400, "BadRequest", f'dryRun: Unsupported value: "{value}"')
    return value == "All"


def _field_validation(query: dict[str, str]) -> str:
    value = query.get("fieldValidation") or "Warn"
    if value not in ("Ignore", "Warn", "Strict"):
        raise ApiError(400, "BadRequest", f"fieldValidation: Unsupported value: {value!r}")
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: _Store) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = store
        self.api = _Api(store)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out and hung up is expected in tests."""


# ---------------------------------------------------------------------------
# the test-facing object


class FakeKube:
    """A running fake API server: its `url`, and ways to inspect and disturb its store."""

    def __init__(self) -> None:
        self._store = _Store()
        self._server = _Server(self._store)
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
            return _concurrent_write(self._store, (plural, namespace, name))

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
            self._store.faults.append(_Fault(status, reason, delay, times, method, dry_run))

    def conflict_after_get(self, plural: str, namespace: str, name: str, times: int = 1) -> None:
        """After each of the next `times` GETs of the object, another writer modifies it,
        so an update based on what was read meets a 409 Conflict."""
        with self._store.lock:
            self._store.hooks.append(_Hook(plural, namespace, name, times))


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
