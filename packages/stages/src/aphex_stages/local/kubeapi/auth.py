"""Authentication: who a request's `Authorization: Bearer <token>` stands for.

The server issues random tokens for service accounts that exist (:func:`issue_token`,
kept in memory and in the state file); such a token is the user
``system:serviceaccount:<namespace>:<name>`` in the groups ``system:serviceaccounts``,
``system:serviceaccounts:<namespace>`` and ``system:authenticated``, for as long as that
service account (the same object, by uid) exists. The one admin token stands for
``system:admin`` in ``system:masters`` and bypasses RBAC. Anything else is 401.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from aphex_stages.local.kubeapi.resources import by_plural
from aphex_stages.local.kubeapi.status import not_found, unauthorized
from aphex_stages.local.kubeapi.store import Store, TokenRecord

ADMIN_USER = "system:admin"
_AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class Identity:
    """An authenticated user, its groups, and whether it bypasses RBAC."""

    user: str
    groups: tuple[str, ...] = ()
    admin: bool = False


ADMIN = Identity(ADMIN_USER, ("system:masters", _AUTHENTICATED), admin=True)


def service_account_user(namespace: str, name: str) -> str:
    """The user name of a service account: ``system:serviceaccount:<ns>:<name>``."""
    return f"system:serviceaccount:{namespace}:{name}"


def _service_account_uid(store: Store, namespace: str, name: str) -> str | None:
    account = store.objects.get(("serviceaccounts", namespace, name))
    return None if account is None else str(account["metadata"]["uid"])


def authenticate(store: Store, authorization: str | None) -> Identity:
    """The identity of an `Authorization` header's bearer token; 401 if there is none."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    with store.lock:
        if hmac.compare_digest(token.encode(), store.admin_token.encode()):
            return ADMIN
        record = store.tokens.get(token)
        if record is None:
            raise unauthorized()
        uid = _service_account_uid(store, record.namespace, record.service_account)
    if uid != record.uid:
        raise unauthorized()
    ns = record.namespace
    return Identity(
        service_account_user(ns, record.service_account),
        ("system:serviceaccounts", f"system:serviceaccounts:{ns}", _AUTHENTICATED),
    )


def issue_token(store: Store, namespace: str, service_account: str) -> str:
    """A new token for an existing service account (404 NotFound if it does not exist)."""
    with store.lock:
        uid = _service_account_uid(store, namespace, service_account)
        if uid is None:
            raise not_found(by_plural("serviceaccounts"), service_account)
        token = secrets.token_urlsafe(32)
        store.tokens[token] = TokenRecord(namespace, service_account, uid)
        store.save()
    return token
