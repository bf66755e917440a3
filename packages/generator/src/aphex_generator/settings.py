"""Deployment settings of the generator: everything that is not in aphex-config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from aphex_generator.contract import EXTERNAL_ID_KEY, EXTERNAL_ID_SECRET

#: The project's published images, pinned. Used when neither settings nor config name one.
DEFAULT_BUILDER_IMAGE = "ghcr.io/aphex-pipeline/aphex-builder:0.1.0"
DEFAULT_DEPLOYER_IMAGE = "ghcr.io/aphex-pipeline/aphex-deployer:0.1.0"


class SettingsError(ValueError):
    """Settings are missing or inconsistent (e.g. no webhook secret for the EventSource)."""


@dataclass(frozen=True)
class SecretRef:
    """A key of a Kubernetes Secret."""

    name: str
    key: str = "secret"

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse ``NAME`` or ``NAME:KEY``."""
        name, _, key = text.partition(":")
        if not name or (":" in text and not key):
            raise SettingsError(f"expected NAME or NAME:KEY for a secret reference, got {text!r}")
        return cls(name, key or "secret")

    def __str__(self) -> str:
        """``NAME:KEY``, as :meth:`parse` reads it."""
        return f"{self.name}:{self.key}"


@dataclass(frozen=True)
class Resources:
    """Container resource requests and limits (Kubernetes quantities, as strings)."""

    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    memory_limit: str = "2Gi"

    def as_manifest(self) -> dict[str, Any]:
        """The ``resources`` block of a container."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"memory": self.memory_limit},
        }


@dataclass(frozen=True)
class Timeouts:
    """Deadlines, in seconds (``activeDeadlineSeconds``) and retention (``ttlStrategy``)."""

    workflow: int = 24 * 3600  # whole run, including time waiting at approval gates
    validation: int = 600
    pipeline: int = 1800
    environment: int = 3600
    exit_handler: int = 300
    ttl_after_success: int = 24 * 3600
    ttl_after_failure: int = 7 * 24 * 3600


@dataclass(frozen=True)
class Retry:
    """Retry policy of network-bound steps: transient errors only, with backoff."""

    limit: int = 3
    backoff: str = "10s"
    factor: int = 2
    max_duration: str = "5m"


@dataclass(frozen=True)
class GeneratorSettings:
    """Everything the generator needs besides the config. Immutable; build variants with
    :meth:`with_changes`.

    Images: an image set here wins; otherwise ``pipeline.images`` from the config;
    otherwise the project's published image (:data:`DEFAULT_BUILDER_IMAGE`,
    :data:`DEFAULT_DEPLOYER_IMAGE`). ``namespace`` None means the config's namespace.
    """

    builder_image: str | None = None
    deployer_image: str | None = None
    service_account: str = "aphex-pipeline"
    artifact_bucket: str = "aphex-artifacts"
    namespace: str | None = None
    aws_region: str | None = None
    #: A PersistentVolumeClaim the deploy and test pods share as their toolchain cache
    #: (config `toolchain`); None: each pod installs into its own emptyDir.
    toolchain_cache_claim: str | None = None
    #: The context the pipeline's own CDK app was installed with (``aphex:KEY=VALUE``
    #: pairs, comma-separated: admin role, certificate, public endpoint, ...). The pipeline
    #: stage synthesizes its app with exactly these, so a redeploy never reverts them.
    infra_context: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: Retry = field(default_factory=Retry)
    builder_resources: Resources = field(default_factory=lambda: Resources("500m", "1Gi", "4Gi"))
    deployer_resources: Resources = field(default_factory=Resources)
    # Argo Events
    webhook_secret: SecretRef | None = None
    webhook_port: int = 12000
    webhook_endpoint: str = "/push"
    webhook_url: str = ""
    github_api_token: SecretRef | None = None
    #: The token the exit handler reports commit statuses with (notifications.github_status).
    github_status_token: SecretRef = field(
        default_factory=lambda: SecretRef("aphex-github-token", "token")
    )
    #: A private repository's token (a Secret the install makes): mounted read-only only
    #: into what clones (validation, the build pod's checkout container, the pipeline
    #: deployment), never into the build commands' container. None: a public repository.
    git_token_secret: SecretRef | None = None
    #: The GitHub API of the commit statuses (GitHub Enterprise: ``https://HOST/api/v3``);
    #: None: api.github.com.
    github_api_url: str | None = None
    #: The install's ExternalId of the deploy roles (the deploy and test pods read it by
    #: secretKeyRef; `aphex install` creates it). Never the pipeline name, never in config.
    external_id_secret: SecretRef = field(
        default_factory=lambda: SecretRef(EXTERNAL_ID_SECRET, EXTERNAL_ID_KEY)
    )
    event_bus_name: str = "default"
    jetstream_version: str = "2.10.10"
    sensor_service_account: str = "aphex-sensor"

    def with_changes(self, **changes: Any) -> GeneratorSettings:
        """A copy with some fields replaced."""
        return replace(self, **changes)
