"""Who each local task is: its service account, the IAM role that account names, and that
role's credentials, as IRSA gives them to a pod on EKS.

A cluster install makes one service account per kind of work (:class:`aphex_generator.Identity`)
annotated with its IAM role (``eks.amazonaws.com/role-arn``); EKS's webhook then gives each
pod that role's web identity. A local run makes the same accounts in its API server and,
for each task, assumes the role its service account names with the run's admin
credentials: a task holds exactly its own role, and a container the pod's
``eks.amazonaws.com/skip-containers`` names holds none.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from aphex_config import AphexConfig
from aphex_generator import (
    EXTERNAL_ID_KEY,
    EXTERNAL_ID_SECRET,
    IRSA_ROLE_ANNOTATION,
    Identity,
    identities,
    identity_role_name,
    identity_rules,
    identity_service_account,
)
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.local.aws import LocalAwsEndpoint

__all__ = [
    "IdentityError",
    "LocalIdentity",
    "RoleCredentials",
    "ensure_external_id",
    "identities_of",
]


class IdentityError(Exception):
    """A task's service account or role could not give it credentials."""


@dataclass(frozen=True)
class LocalIdentity:
    """One kind of work's service account, IAM role and RBAC rules."""

    identity: Identity
    environment: str | None
    service_account: str
    role_arn: str
    rules: tuple[Mapping[str, Any], ...]


def identities_of(
    config: AphexConfig, base_service_account: str, account: str
) -> list[LocalIdentity]:
    """Every identity a pipeline's pods run as, with roles in the pipeline's `account`."""
    pipeline = config.pipeline.name
    kinds = identities([env.name for env in config.environments])
    return [
        LocalIdentity(
            identity=kind,
            environment=env,
            service_account=identity_service_account(base_service_account, kind, env),
            role_arn=f"arn:aws:iam::{account}:role/{identity_role_name(pipeline, kind, env)}",
            rules=tuple(identity_rules(pipeline, kind)),
        )
        for kind, env in kinds
    ]


def ensure_external_id(secrets_dir: Path) -> Path:
    """The local install's ExternalId file (a Secret of the local cluster): made once with
    a random value, kept between runs, readable by its owner only."""
    path = secrets_dir / EXTERNAL_ID_SECRET / EXTERNAL_ID_KEY
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path


class RoleCredentials:
    """Credentials of the role each service account names, assumed once per run with the
    admin credentials of the local AWS (as EKS's webhook and STS do for a pod)."""

    def __init__(self, aws: LocalAwsEndpoint, cluster: KubeCluster, namespace: str) -> None:
        self.aws = aws
        self.core = CoreV1Api(cluster.api_client)
        self.namespace = namespace
        self._cache: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def role_of(self, service_account: str) -> str | None:
        """The IAM role `service_account` is annotated with (None: it has none)."""
        try:
            account = self.core.read_namespaced_service_account(service_account, self.namespace)
        except ApiException as error:
            raise IdentityError(
                f"service account {service_account} is not in namespace {self.namespace}"
                f" ({error.reason}); the local install makes one per kind of work"
            ) from None
        annotations = (account.metadata.annotations if account.metadata else None) or {}
        return annotations.get(IRSA_ROLE_ANNOTATION)

    def environ(self, service_account: str) -> dict[str, str]:
        """The AWS credential variables of `service_account`'s role (empty: no role)."""
        with self._lock:
            if service_account in self._cache:
                return self._cache[service_account]
            role = self.role_of(service_account)
            env: dict[str, str] = {}
            if role is not None:
                try:
                    issued = self.aws.client("sts").assume_role(
                        RoleArn=role, RoleSessionName=service_account[:64]
                    )["Credentials"]
                except Exception as error:  # - botocore's many kinds
                    raise IdentityError(
                        f"service account {service_account}: cannot assume {role}: {error}"
                    ) from None
                env = {
                    "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
                    "AWS_SESSION_TOKEN": issued["SessionToken"],
                }
            self._cache[service_account] = env
            return env
