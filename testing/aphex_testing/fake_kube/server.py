"""The HTTP side: routing `/apis/argoproj.io/v1alpha1/...` to the verbs, query options,
injected faults, recording every request, and errors as `Status` bodies."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aphex_testing.fake_kube.api import Api
from aphex_testing.fake_kube.status import GROUP, KINDS, VERSION, ApiError
from aphex_testing.fake_kube.store import RecordedRequest, Store


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


_PREFIX = ("apis", GROUP, VERSION)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

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


class Server(ThreadingHTTPServer):
    """The HTTP server on 127.0.0.1 (a free port), answering through :class:`Api`."""

    daemon_threads = True

    def __init__(self, store: Store) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = store
        self.api = Api(store)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out and hung up is expected in tests."""
