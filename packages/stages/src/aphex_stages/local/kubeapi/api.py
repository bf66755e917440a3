"""The API verbs on the store (create, replace, patch, get, list, delete, deletecollection)
with the API server's answers: names, conflicts, generations, dry runs, label selectors,
the admission checks, and saving the state after every successful write."""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from aphex_stages.local.kubeapi.admission import require_namespace, require_template_access
from aphex_stages.local.kubeapi.auth import Identity, issue_token
from aphex_stages.local.kubeapi.decode import decode, merge_patch, prune_document
from aphex_stages.local.kubeapi.resources import Resource, by_plural, object_key
from aphex_stages.local.kubeapi.status import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    details,
    field_error,
    invalid,
    not_found,
)
from aphex_stages.local.kubeapi.store import Store
from aphex_stages.local.kubeapi.validation import apply_defaults, check_document, check_name

#: (status code, body, warnings) of an answer.
Answer = tuple[int, dict[str, Any], list[str]]
#: Stored objects with their keys.
_Stored = list[tuple[tuple[str, str, str], dict[str, Any]]]

_SERVER_META = ("uid", "creationTimestamp", "generation")
_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_MERGE_PATCHES = frozenset(
    {"application/merge-patch+json", "application/strategic-merge-patch+json"}
)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> str:
    """The current time as the API server writes timestamps."""
    return _timestamp(datetime.now(UTC))


class Api:
    """The request semantics, independent of HTTP. ``enforce_namespaces``: creates need
    their namespace; ``template_refs``: the Argo rule of :mod:`.admission` applies."""

    def __init__(
        self, store: Store, *, enforce_namespaces: bool = False, template_refs: bool = False
    ) -> None:
        self.store = store
        self.enforce_namespaces = enforce_namespaces
        self.template_refs = template_refs

    def _incoming(
        self, resource: Resource, namespace: str, doc: dict[str, Any], strict: str, dups: list[str]
    ) -> tuple[dict[str, Any], list[str]]:
        """Check type and namespace, prune; return the document and the warnings."""
        if doc.get("apiVersion") != resource.api_version or doc.get("kind") != resource.kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version and kind in the data ({doc.get('apiVersion')}, "
                f"{doc.get('kind')}) do not match the expected ({resource.api_version}, "
                f"{resource.kind})",
            )
        unknown: list[str] = []
        doc = prune_document(doc, resource, unknown)
        findings = [f'unknown field "{p}"' for p in unknown]
        findings += [f'duplicate field "{d}"' for d in dups]
        if findings and strict == "Strict":
            raise bad_request(resource, "strict decoding error: " + ", ".join(findings))
        meta = doc.setdefault("metadata", {})
        if resource.namespaced:
            if meta.get("namespace", namespace) != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return doc, findings if strict == "Warn" else []

    def create(
        self,
        resource: Resource,
        namespace: str,
        raw: bytes,
        *,
        dry_run: bool,
        strict: str,
        identity: Identity | None = None,
    ) -> Answer:
        """POST: store a new object (201)."""
        sent, dups = decode(raw, resource)
        doc, warnings = self._incoming(resource, namespace, sent, strict, dups)
        meta = doc["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(secrets.choice(_GENERATE_CHARS) for _ in range(5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        name = str(meta.get("name") or "")
        check_name(resource, name)
        for server_field in _SERVER_META:
            meta.pop(server_field, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())
        if resource.custom:
            meta["generation"] = 1
        with self.store.lock:  # admission, checks and storing see one state
            if self.enforce_namespaces:
                require_namespace(self.store, resource, namespace)
            if self.template_refs and identity is not None and resource.kind == "Workflow":
                require_template_access(self.store, identity, namespace, doc)
            apply_defaults(resource, doc)
            check_document(resource, doc, name)
            key = object_key(resource, namespace, name)
            if key in self.store.objects:
                raise already_exists(resource, name)
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
            self.store.save()
        return 201, doc, warnings

    def replace(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        raw: bytes,
        *,
        dry_run: bool,
        strict: str,
    ) -> Answer:
        """PUT: replace an object at its current ``resourceVersion``."""
        doc, dups = decode(raw, resource)
        return self._update(resource, namespace, name, doc, dups, dry_run=dry_run, strict=strict)

    def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        raw: bytes,
        content_type: str,
        *,
        dry_run: bool,
        strict: str,
    ) -> Answer:
        """PATCH with a JSON merge patch (a strategic merge patch of a built-in kind is
        applied as one: lists are replaced, not merged by key)."""
        media = content_type.split(";")[0].strip()
        if media not in _MERGE_PATCHES or (resource.custom and "strategic" in media):
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/merge-patch+json (got {media or 'none'})",
            )
        patch, dups = decode(raw, resource)
        with self.store.lock:
            current = self.store.objects.get(object_key(resource, namespace, name))
            if current is None:
                raise not_found(resource, name)
            doc = merge_patch(current, patch)
            meta = doc.setdefault("metadata", {})
            if not (patch.get("metadata") or {}).get("resourceVersion"):
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            return self._update(
                resource, namespace, name, doc, dups, dry_run=dry_run, strict=strict
            )

    def _update(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        sent: dict[str, Any],
        dups: list[str],
        *,
        dry_run: bool,
        strict: str,
    ) -> Answer:
        doc, warnings = self._incoming(resource, namespace, sent, strict, dups)
        meta = doc["metadata"]
        if meta.get("name") != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta.get('name', '')}) does not match the name "
                f"on the URL ({name})",
            )
        with self.store.lock:
            key = object_key(resource, namespace, name)
            existing = self.store.objects.get(key)
            if existing is None:
                raise not_found(resource, name)
            current = existing["metadata"]["resourceVersion"]
            version = str(meta.get("resourceVersion") or "")
            if not version and resource.custom:
                cause = field_error(
                    "metadata.resourceVersion",
                    "Invalid value: 0x0: must be specified for an update",
                )
                raise invalid(resource, name, [cause])
            if version and version != current:
                raise conflict(resource, name)
            old_meta = existing["metadata"]
            for server_field in _SERVER_META:
                if server_field in old_meta:
                    meta[server_field] = old_meta[server_field]
            if resource.kind == "Namespace":
                doc["status"] = existing.get("status", {})
            apply_defaults(resource, doc)
            check_document(resource, doc, name, existing)
            body_changed = _body(doc) != _body(existing)
            if body_changed and resource.custom:
                meta["generation"] = int(old_meta["generation"]) + 1
            meta["resourceVersion"] = current
            if dry_run:
                return 200, doc, warnings
            if doc != existing:
                meta["resourceVersion"] = self.store.next_version()
                self.store.objects[key] = copy.deepcopy(doc)
                self.store.save()
        return 200, doc, warnings

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        """GET one object (404 if there is none)."""
        with self.store.lock:
            doc = self.store.objects.get(object_key(resource, namespace, name))
            if doc is None:
                raise not_found(resource, name)
            return copy.deepcopy(doc)

    def list(self, resource: Resource, namespace: str, selector: str) -> dict[str, Any]:
        """GET a collection: one namespace's, or every namespace's (``namespace`` "")."""
        with self.store.lock:
            items = [copy.deepcopy(doc) for _, doc in self._matching(resource, namespace, selector)]
            version = str(self.store.version)
        return {
            "apiVersion": resource.api_version,
            "kind": f"{resource.kind}List",
            "metadata": {"resourceVersion": version},
            "items": items,
        }

    def delete(
        self, resource: Resource, namespace: str, name: str, *, dry_run: bool
    ) -> dict[str, Any]:
        """DELETE one object; a namespace takes everything in it along."""
        with self.store.lock:
            key = object_key(resource, namespace, name)
            doc = self.store.objects.get(key)
            if doc is None:
                raise not_found(resource, name)
            if not dry_run:
                del self.store.objects[key]
                if resource.kind == "Namespace":
                    for inside in [k for k in self.store.objects if k[1] == name]:
                        del self.store.objects[inside]
                self.store.save()
        return _success(resource, name, str(doc["metadata"]["uid"]))

    def delete_collection(
        self, resource: Resource, namespace: str, selector: str, *, dry_run: bool
    ) -> dict[str, Any]:
        """DELETE a collection: the namespace's objects that match ``selector``."""
        with self.store.lock:
            keys = [key for key, _ in self._matching(resource, namespace, selector)]
            if not dry_run and keys:
                for key in keys:
                    del self.store.objects[key]
                self.store.save()
        return _success(resource, "", "")

    def token_request(self, namespace: str, name: str, raw: bytes, *, dry_run: bool) -> Answer:
        """POST serviceaccounts/<name>/token (a TokenRequest): a new token for the account
        (tokens of this server do not expire; the answer says they do, as asked)."""
        try:
            body = json.loads(raw or b"{}")
        except ValueError as error:
            raise ApiError(400, "BadRequest", f"json: {error}") from error
        spec = body.get("spec") if isinstance(body, dict) else None
        spec = spec if isinstance(spec, dict) else {}
        seconds = int(spec.get("expirationSeconds") or 3600)
        self.get(by_plural("serviceaccounts"), namespace, name)
        token = "" if dry_run else issue_token(self.store, namespace, name)
        expires = datetime.fromtimestamp(datetime.now(UTC).timestamp() + seconds, UTC)
        answer = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now()},
            "spec": {
                "audiences": spec.get("audiences") or ["https://kubernetes.default.svc"],
                "expirationSeconds": seconds,
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": {"token": token, "expirationTimestamp": _timestamp(expires)},
        }
        return 201, answer, []

    def _matching(self, resource: Resource, namespace: str, selector: str) -> _Stored:
        wanted = parse_selector(selector)
        return [
            (key, doc)
            for key, doc in sorted(self.store.objects.items())
            if key[0] == resource.plural
            and (not namespace or key[1] == namespace)
            and matches(doc, wanted)
        ]


def _body(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "metadata"}


def _success(resource: Resource, name: str, uid: str) -> dict[str, Any]:
    found = details(resource.group, resource.plural, name)
    if uid:
        found["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": found,
    }


def parse_selector(selector: str) -> list[tuple[str, str | None]]:
    """A label selector of ``key=value``, ``key==value`` and ``key`` terms (400 for others)."""
    wanted: list[tuple[str, str | None]] = []
    for part in filter(None, (p.strip() for p in selector.split(","))):
        if "!" in part or " in " in part or " notin " in part:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
        key, sep, value = part.replace("==", "=").partition("=")
        wanted.append((key.strip(), value.strip() if sep else None))
    return wanted


def matches(doc: dict[str, Any], wanted: list[tuple[str, str | None]]) -> bool:
    """Whether an object's labels satisfy a parsed selector."""
    labels = doc.get("metadata", {}).get("labels") or {}
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted)
