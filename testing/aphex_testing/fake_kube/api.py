"""The API verbs on the store (create, replace, get, list, delete), with the API server's
answers: names, conflicts, generations, dry runs, label selectors."""

from __future__ import annotations

import copy
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from aphex_testing.fake_kube.decode import decode, prune_document
from aphex_testing.fake_kube.schema import check_name, check_schema
from aphex_testing.fake_kube.status import (
    API_VERSION,
    GROUP,
    KINDS,
    ApiError,
    bad_request,
    invalid,
)
from aphex_testing.fake_kube.store import Store, concurrent_write

_SERVER_META = ("uid", "creationTimestamp", "generation")
_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    """The request semantics, independent of HTTP plumbing."""

    def __init__(self, store: Store) -> None:
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
        doc, duplicates = decode(raw, kind)
        if doc.get("apiVersion") != API_VERSION or doc.get("kind") != kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version and kind in the data ({doc.get('apiVersion')}, "
                f"{doc.get('kind')}) do not match the expected ({API_VERSION}, {kind})",
            )
        unknown: list[str] = []
        doc = prune_document(doc, kind, unknown)
        findings = [f'unknown field "{p}"' for p in unknown]
        findings += [f'duplicate field "{d}"' for d in duplicates]
        if findings and strict == "Strict":
            raise bad_request(kind, "strict decoding error: " + ", ".join(findings))
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
        check_name(kind, name)
        for server_field in _SERVER_META:
            meta.pop(server_field, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        check_schema(doc, kind, name)
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
                raise invalid(
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
            check_schema(doc, kind, name)
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
                concurrent_write(self.store, (plural, namespace, name))


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
