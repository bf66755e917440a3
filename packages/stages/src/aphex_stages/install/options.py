"""What `aphex install` was asked to do, checked before anything is touched."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aphex_generator import (
    CONFIG_FILE,
    INFRA_CONFIG_FILE_CONTEXT,
    EnvVar,
    SecretRef,
    SettingsError,
)
from aphex_stages.local.infra_install import EXTERNAL_ID_CONTEXT, PIPELINE_ACCOUNT_CONTEXT

__all__ = [
    "SERVICE_ACCOUNT_CONTEXT",
    "InstallError",
    "InstallOptions",
    "UsageError",
    "account_profiles",
    "config_path",
    "git_token_secret",
    "infra_pairs",
    "region_of",
]

#: The pipeline app's key naming the base ServiceAccount (infra/aphex_infra/context.py);
#: the template must then name the same one.
SERVICE_ACCOUNT_CONTEXT = "aphex:serviceAccount"
#: Keys the install sets itself: never from --infra-context (the ExternalId is a secret,
#: the other two are derived).
_DERIVED = (EXTERNAL_ID_CONTEXT, PIPELINE_ACCOUNT_CONTEXT, INFRA_CONFIG_FILE_CONTEXT)
_ACCOUNT = re.compile(r"^\d{12}$")


class InstallError(Exception):
    """A step could not be done; the message says what to do (exit 1)."""


class UsageError(InstallError):
    """The command line is wrong (exit 2)."""


@dataclass(frozen=True)
class InstallOptions:
    """The command line of `aphex install`, as given (checked by the install, so that
    every error is reported the same way)."""

    path: str = "."
    region: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    infra_context: str = ""
    webhook_secret_file: Path | None = None
    aws_endpoint: str | None = None
    account_profiles: tuple[str, ...] = ()
    git_token_secret: str | None = None
    github_api_url: str | None = None
    output: str = "text"


def region_of(given: str | None, environ: Mapping[str, str]) -> str:
    """--region, else AWS_REGION, else AWS_DEFAULT_REGION."""
    region = given or environ.get(EnvVar.REGION) or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise UsageError(f"no AWS region: pass --region (or set {EnvVar.REGION})")
    return region


def config_path(path: str) -> Path:
    """The aphex-config.yaml of `path`: the file itself, or the one at a repository's root."""
    given = Path(path)
    found = given / CONFIG_FILE if given.is_dir() else given
    if not found.is_file():
        raise UsageError(f"no {CONFIG_FILE} at {found}: name the repository or its config file")
    return found.resolve()


def infra_pairs(text: str) -> dict[str, str]:
    """The `aphex:KEY=VALUE,...` pairs of --infra-context, in order."""
    pairs: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, separator, value = pair.partition("=")
        if not separator or not key.startswith("aphex:") or not value:
            raise UsageError(f"--infra-context: expected aphex:KEY=VALUE pairs, got {pair!r}")
        if key in _DERIVED:
            raise UsageError(
                f"--infra-context: {key} is set by the install itself; leave it out"
                + (
                    " (the ExternalId lives in its Secret only)"
                    if key == EXTERNAL_ID_CONTEXT
                    else ""
                )
            )
        pairs[key] = value
    return pairs


def git_token_secret(text: str | None) -> SecretRef | None:
    """--git-token-secret NAME:KEY, checked."""
    if not text:
        return None
    try:
        return SecretRef.parse(text)
    except SettingsError as error:
        raise UsageError(f"--git-token-secret: {error}") from None


def account_profiles(entries: Iterable[str]) -> dict[str, str]:
    """--account-profile ACCOUNT=PROFILE entries as {account: profile}."""
    profiles: dict[str, str] = {}
    for entry in entries:
        account, _, profile = entry.partition("=")
        if not _ACCOUNT.fullmatch(account) or not profile:
            raise UsageError(f"--account-profile: expected ACCOUNT=PROFILE, got {entry!r}")
        profiles[account] = profile
    return profiles
