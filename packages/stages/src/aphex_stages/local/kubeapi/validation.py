"""The API server's checks and defaults of a decoded document, each failure a 422 Invalid
with its causes: object names, the pinned Argo CRD schema and its CEL rules (workflow
kinds), RBAC roles and bindings, and a Secret's `stringData`/`data`/`type`."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from aphex_generator import Problem, validate
from aphex_stages.local.kubeapi.resources import RBAC, Resource
from aphex_stages.local.kubeapi.status import bad_request, field_error, invalid

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PATH_SEGMENT_KINDS = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})
_SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def _required(field: str, detail: str = "") -> dict[str, str]:
    message = f"Required value: {detail}" if detail else "Required value"
    return field_error(field, message, "FieldValueRequired")


def _unsupported(field: str, value: Any, supported: tuple[str, ...]) -> dict[str, str]:
    listed = ", ".join(f'"{s}"' for s in supported)
    return field_error(
        field,
        f'Unsupported value: "{value}": supported values: {listed}',
        "FieldValueNotSupported",
    )


def _name_problem(kind: str, name: str) -> str | None:
    if kind in _PATH_SEGMENT_KINDS:
        if name in (".", ".."):
            return f'may not be "{name}"'
        bad = next((c for c in ("/", "%") if c in name), None)
        return f"may not contain '{bad}'" if bad else None
    if kind == "Namespace":
        if len(name) > 63 or not _LABEL.fullmatch(name):
            return (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character"
            )
        return None
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.'"
        )
    return None


def check_name(resource: Resource, name: str) -> None:
    """422 Invalid unless ``name`` is given and valid for the kind (an RFC 1123 subdomain,
    a label for namespaces, a path segment for RBAC objects)."""
    if not name:
        cause = _required("metadata.name", "name or generateName is required")
        raise invalid(resource, name, [cause])
    problem = _name_problem(resource.kind, name)
    if problem:
        cause = field_error("metadata.name", f'Invalid value: "{name}": {problem}')
        raise invalid(resource, name, [cause])


def _cause(problem: Problem) -> dict[str, str]:
    message = problem.message
    if message == "required field is missing":
        return _required(problem.path)
    if " is not one of " in message:
        return field_error(problem.path, f"Unsupported value: {message}", "FieldValueNotSupported")
    return field_error(problem.path, f"Invalid value: {message}")


def check_document(
    resource: Resource, doc: dict[str, Any], name: str, old: dict[str, Any] | None = None
) -> None:
    """422 Invalid with every problem the kind's checks find (``old``: the stored object,
    for an update)."""
    if resource.crd:
        problems = [p for p in validate(doc) if p.layer in ("crd", "cel")]
        causes = [_cause(p) for p in problems]
    elif resource.kind in ("Role", "ClusterRole"):
        causes = _rules_causes(resource, doc)
    elif resource.kind in ("RoleBinding", "ClusterRoleBinding"):
        causes = _binding_causes(resource, doc, old)
    else:
        causes = []
    if causes:
        raise invalid(resource, name, causes)


def _strings(resource: Resource, value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(
            resource, f"json: cannot unmarshal {field} into Go value of type []string"
        )
    return value


def _rules_causes(resource: Resource, doc: dict[str, Any]) -> list[dict[str, str]]:
    causes = []
    for i, rule in enumerate(doc.get("rules") or []):
        at = f"rules[{i}]"
        if not isinstance(rule, dict):
            raise bad_request(resource, f"json: cannot unmarshal {at} into an object")
        got = {
            f: _strings(resource, rule.get(f), f"{at}.{f}")
            for f in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
        }
        if not got["verbs"]:
            causes.append(_required(f"{at}.verbs", "verbs must contain at least one value"))
        if got["nonResourceURLs"]:
            urls = got["nonResourceURLs"]
            if resource.namespaced:
                causes.append(
                    field_error(
                        f"{at}.nonResourceURLs",
                        f"Invalid value: {urls}: namespaced rules cannot apply to "
                        "non-resource URLs",
                    )
                )
            if got["apiGroups"] or got["resources"] or got["resourceNames"]:
                causes.append(
                    field_error(
                        f"{at}.nonResourceURLs",
                        f"Invalid value: {urls}: rules cannot apply to both regular "
                        "resources and non-resource URLs",
                    )
                )
            continue
        if not got["apiGroups"]:
            detail = "resource rules must supply at least one api group"
            causes.append(_required(f"{at}.apiGroups", detail))
        if not got["resources"]:
            detail = "resource rules must supply at least one resource"
            causes.append(_required(f"{at}.resources", detail))
    return causes


def _binding_causes(
    resource: Resource, doc: dict[str, Any], old: dict[str, Any] | None
) -> list[dict[str, str]]:
    causes = []
    ref = doc.get("roleRef") or {}
    kinds = ("Role", "ClusterRole") if resource.namespaced else ("ClusterRole",)
    if ref.get("apiGroup") != RBAC:
        causes.append(_unsupported("roleRef.apiGroup", ref.get("apiGroup", ""), (RBAC,)))
    if ref.get("kind") not in kinds:
        causes.append(_unsupported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        causes.append(_required("roleRef.name"))
    if old is not None and ref != old.get("roleRef"):
        causes.append(field_error("roleRef", f"Invalid value: {ref}: cannot change roleRef"))
    for i, subject in enumerate(doc.get("subjects") or []):
        at = f"subjects[{i}]"
        kind = subject.get("kind")
        if kind not in _SUBJECT_KINDS:
            causes.append(_unsupported(f"{at}.kind", kind or "", _SUBJECT_KINDS))
        if not subject.get("name"):
            causes.append(_required(f"{at}.name"))
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                causes.append(_unsupported(f"{at}.apiGroup", subject["apiGroup"], ("",)))
            if not resource.namespaced and not subject.get("namespace"):
                causes.append(_required(f"{at}.namespace"))
        elif kind in ("User", "Group") and subject.get("apiGroup") != RBAC:
            causes.append(_unsupported(f"{at}.apiGroup", subject.get("apiGroup", ""), (RBAC,)))
    return causes


def apply_defaults(resource: Resource, doc: dict[str, Any]) -> None:
    """What the API server fills in: a Secret's `stringData` folded into base64 `data` and
    its `type` (Opaque); a Namespace's `kubernetes` finalizer and Active phase."""
    if resource.kind == "Secret":
        data = doc.get("data") or {}
        if not isinstance(data, dict):
            raise bad_request(resource, "json: cannot unmarshal data into map[string][]byte")
        for key, value in data.items():
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError) as error:
                raise bad_request(resource, f"illegal base64 data in data[{key!r}]") from error
        for key, value in (doc.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        if data:
            doc["data"] = data
        doc.setdefault("type", "Opaque")
    elif resource.kind == "Namespace":
        doc.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        doc["status"] = {"phase": "Active"}
