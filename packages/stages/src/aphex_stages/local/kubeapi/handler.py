"""The HTTP side: each request's attributes, the hooks, authentication and RBAC, routing
to the verbs by resource and scope, and every answer as JSON (errors as `Status`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aphex_stages.local.kubeapi import auth, rbac
from aphex_stages.local.kubeapi.api import Answer, Api
from aphex_stages.local.kubeapi.resources import find
from aphex_stages.local.kubeapi.routing import RequestInfo, parse_request
from aphex_stages.local.kubeapi.status import ApiError, no_route

LOG = logging.getLogger("aphex.kubeapi")


@dataclass(frozen=True)
class Request:
    """A request as the hooks see it: ``info`` is None for a path that names no resource."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    info: RequestInfo | None


#: Runs before a request is handled; it may wait, or raise :class:`ApiError` to answer it.
RequestHook = Callable[[Request], None]
#: Runs after a request was answered (status code, body), before the answer is sent; an
#: ApiError it raises replaces the answer (a response lost after the request took effect).
ResponseHook = Callable[[Request, int, dict[str, Any]], None]


class HttpServer(ThreadingHTTPServer):
    """The listening socket and what the handler needs: the verbs, the options, the hooks."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Api, *, authenticate: bool) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.authenticate = authenticate
        self.request_hooks: list[RequestHook] = []
        self.response_hooks: list[ResponseHook] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out and hung up is expected."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s " + format, self.address_string(), *args)

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
        request = Request(method, url.path, query, raw, parse_request(method, url.path, query))
        warnings: list[str] = []
        try:
            for hook in list(self.server.request_hooks):
                hook(request)
            code, body, warnings = self._dispatch(request)
        except ApiError as error:
            code, body = error.code, error.status()
        for after in list(self.server.response_hooks):
            try:
                after(request, code, body)
            except ApiError as error:  # the request took effect; its answer is replaced
                code, body, warnings = error.code, error.status(), []
        data = json.dumps(body).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for warning in warnings:
            escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{escaped}"')
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, request: Request) -> Answer:
        api, info = self.server.api, request.info
        identity = None
        if self.server.authenticate:
            identity = auth.authenticate(api.store, self.headers.get("Authorization"))
        if info is None:
            raise no_route()
        if identity is not None:
            rbac.authorize(api.store, identity, info)
        resource = find(info.api_group, info.api_version, info.resource)
        if resource is None or (
            not resource.namespaced and info.namespace and resource.plural != "namespaces"
        ):
            raise no_route()
        namespace = info.namespace if resource.namespaced else ""
        query, raw, method = request.query, request.body, request.method
        dry_run = _dry_run(query)
        strict = _field_validation(query)
        selector = query.get("labelSelector", "")
        if info.subresource:
            if (resource.plural, info.subresource, method) == ("serviceaccounts", "token", "POST"):
                return api.token_request(namespace, info.name, raw, dry_run=dry_run)
            raise no_route()
        if info.verb == "watch":
            raise ApiError(
                405, "MethodNotAllowed", "watch is not supported by the local API server"
            )
        if not info.name:
            if method == "GET":
                return 200, api.list(resource, namespace, selector), []
            if method == "POST" and (namespace or not resource.namespaced):
                return api.create(
                    resource, namespace, raw, dry_run=dry_run, strict=strict, identity=identity
                )
            if method == "DELETE" and (namespace or not resource.namespaced):
                answer = api.delete_collection(resource, namespace, selector, dry_run=dry_run)
                return 200, answer, []
        elif resource.namespaced and not namespace:
            raise no_route()  # only a collection spans namespaces
        elif method == "GET":
            return 200, api.get(resource, namespace, info.name), []
        elif method == "PUT":
            return api.replace(resource, namespace, info.name, raw, dry_run=dry_run, strict=strict)
        elif method == "PATCH":
            content_type = self.headers.get("Content-Type") or ""
            return api.patch(
                resource, namespace, info.name, raw, content_type, dry_run=dry_run, strict=strict
            )
        elif method == "DELETE":
            return 200, api.delete(resource, namespace, info.name, dry_run=dry_run), []
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
