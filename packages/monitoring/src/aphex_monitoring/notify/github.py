"""GitHub commit statuses: ``POST {api}/repos/{owner}/{repo}/statuses/{sha}``.

The token comes from ``APHEX_GITHUB_TOKEN`` or the file named by
``APHEX_GITHUB_TOKEN_FILE``; the API base URL from ``APHEX_GITHUB_API_URL``
(default https://api.github.com; GitHub Enterprise: ``https://HOST/api/v3``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

import requests

from aphex_monitoring.http import RetryPolicy, send_json
from aphex_monitoring.records import RunRecord
from aphex_monitoring.render import format_duration
from aphex_monitoring.secrets import GITHUB_TOKEN_ENV, read_secret
from aphex_monitoring.version import __version__

__all__ = [
    "GitHubStatusClient",
    "github_state",
    "github_token",
    "parse_repository",
    "status_description",
]

TOKEN_ENV = GITHUB_TOKEN_ENV
TOKEN_FILE_ENV = "APHEX_GITHUB_TOKEN_FILE"
DEFAULT_API_URL = "https://api.github.com"
MAX_DESCRIPTION = 140

_SCP = re.compile(r"^(?:[^@/\s]+@)?[^:/\s]+:(?!//)(?P<path>[^\s]+)$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s]+/(?P<path>[^\s?#]+)", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
#: A superseded run stays pending: its restart, for the same commit, reports the outcome.
_STATES = {
    "Running": "pending",
    "Superseded": "pending",
    "Succeeded": "success",
    "Failed": "failure",
    "Error": "error",
}


def parse_repository(url: str | None) -> tuple[str, str] | None:
    """``(owner, repo)`` from an https, ssh (``ssh://`` or ``git@host:``) or git URL."""
    if not url:
        return None
    text = url.strip()
    match = _URL.match(text) or _SCP.match(text)
    if not match:
        return None
    parts = [p for p in match.group("path").strip("/").split("/") if p]
    if len(parts) < 2:
        return None
    owner, repo = parts[-2], parts[-1]
    if repo.endswith(".git"):
        repo = repo[: -len(".git")]
    if not (_NAME.match(owner) and _NAME.match(repo)) or repo in ("", ".", ".."):
        return None
    return owner, repo


def github_state(status: str) -> str:
    """Run status to commit-status state: pending / success / failure / error."""
    return _STATES.get(status, "error")


def status_description(record: RunRecord) -> str:
    """At most 140 characters: status, duration, and the error cause if any."""
    if record.status == "Running":
        text = "Deployment pipeline running"
    else:
        text = f"{record.status} in {format_duration(record.duration_seconds)}"
        if record.error:
            text += f": {record.error}"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def github_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The token from the environment or the mounted file (registered for redaction)."""
    return read_secret(TOKEN_ENV, TOKEN_FILE_ENV, environ=environ)


class GitHubStatusClient:
    """Posts commit statuses with bounded retries."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.policy = policy
        self.session = session

    def __repr__(self) -> str:
        return f"GitHubStatusClient(api_url={self.api_url!r})"

    def post_status(
        self,
        owner: str,
        repo: str,
        sha: str,
        *,
        state: str,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Create a commit status; raises ``DeliveryError`` or ``ValueError``."""
        if not _SHA.match(sha):
            raise ValueError("commit is not a hex SHA")
        payload: dict[str, str] = {
            "state": state,
            "context": context,
            "description": description[:MAX_DESCRIPTION],
        }
        if target_url and target_url.lower().startswith(("https://", "http://")):
            payload["target_url"] = target_url
        url = f"{self.api_url}/repos/{quote(owner)}/{quote(repo)}/statuses/{sha}"
        send_json(
            "POST",
            url,
            payload,
            label="github status",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"aphex-monitoring/{__version__}",
            },
            policy=self.policy,
            session=self.session,
        )

    def post_run_status(
        self, record: RunRecord, repository: str, *, target_url: str | None = None
    ) -> None:
        """Post the status for ``record`` (context ``aphex/<pipeline>``)."""
        parsed = parse_repository(repository)
        if parsed is None:
            raise ValueError("cannot parse owner/repo from the repository URL")
        if not record.commit_sha:
            raise ValueError("run has no commit SHA")
        self.post_status(
            parsed[0],
            parsed[1],
            record.commit_sha,
            state=github_state(record.status),
            context=f"aphex/{record.pipeline}",
            description=status_description(record),
            target_url=target_url or record.argo_url,
        )
