"""Checks on the identifiers every stage receives on its command line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aphex_generator import Option
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.head import Redeploy

_SHA = re.compile(r"[0-9a-f]{40}")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_SSH_SCP = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._/~-]+")
_URL = re.compile(r"(https|ssh|file)://[^\s]+")
#: Plain http only to this machine: the git server of a local run (aphex_stages.local.gitserve).
_LOCAL_HTTP = re.compile(r"http://(localhost|127\.0\.0\.1)(:\d+)?/[^\s]*")
MAX_REDEPLOY_BY = 200
MAX_REDEPLOY_REASON = 1000
_WORKFLOW = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")


@dataclass(frozen=True)
class StageInputs:
    """The identifiers a stage runs for: nothing else comes from the template."""

    pipeline: str
    commit: str
    repository: str
    environment: str | None = None
    workflow_name: str | None = None
    #: Set by `aphex redeploy` only: this run may go back to an older commit.
    redeploy: Redeploy | None = None


def check_commit(value: str) -> str:
    """Return `value` if it is a full 40-hex-digit lower-case commit SHA."""
    if not _SHA.fullmatch(value):
        raise StageError(
            ExitCode.USAGE, f"{Option.COMMIT} must be 40 lower-case hex digits, got {value!r}"
        )
    return value


def check_repository(value: str) -> str:
    """Return `value` if it is an https, ssh (URL or scp-like) or file git URL (or the
    http URL of a local run's git server on this machine)."""
    if not (
        _URL.fullmatch(value) or _SSH_SCP.fullmatch(value) or _LOCAL_HTTP.fullmatch(value)
    ) or any(ord(ch) < 32 for ch in value):
        raise StageError(
            ExitCode.USAGE,
            f"{Option.REPOSITORY} must be an https://, ssh://, git@host:path or file:// URL, "
            f"got {value!r}",
        )
    return value


def check_label(option: str, value: str) -> str:
    """Return `value` if it is a DNS-1123 label (a-z, 0-9 and '-', at most 63 characters)."""
    if not _DNS_LABEL.fullmatch(value):
        raise StageError(ExitCode.USAGE, f"{option} must be a DNS label (a-z0-9-), got {value!r}")
    return value


def check_inputs(inputs: StageInputs) -> StageInputs:
    """Validate every identifier; raise StageError(USAGE) naming the first bad one."""
    check_label(Option.PIPELINE, inputs.pipeline)
    check_commit(inputs.commit)
    check_repository(inputs.repository)
    if inputs.environment is not None:
        check_label(Option.ENVIRONMENT, inputs.environment)
    if inputs.workflow_name is not None and not _WORKFLOW.fullmatch(inputs.workflow_name):
        raise StageError(
            ExitCode.USAGE,
            f"{Option.WORKFLOW_NAME} must be a Kubernetes name, got {inputs.workflow_name!r}",
        )
    if inputs.redeploy is not None:
        check_redeploy(inputs.redeploy)
    return inputs


def check_redeploy(redeploy: Redeploy) -> Redeploy:
    """Return `redeploy` if it names who asked (at most 200 characters) and why (at most
    1,000), on one line each."""
    for option, value, limit in (
        (Option.REDEPLOY_BY, redeploy.by, MAX_REDEPLOY_BY),
        (Option.REDEPLOY_REASON, redeploy.reason, MAX_REDEPLOY_REASON),
    ):
        if not value.strip() or len(value) > limit or any(ord(ch) < 32 for ch in value):
            raise StageError(
                ExitCode.USAGE,
                f"{option} must be one line of 1 to {limit} characters, got {value[:80]!r}",
            )
    return redeploy


def redeploy_from(by: str | None, reason: str | None) -> Redeploy | None:
    """The redeploy the two options ask for; None when both are empty (an ordinary run)."""
    by, reason = by or "", reason or ""
    if not by and not reason:
        return None
    if not (by and reason):
        raise StageError(
            ExitCode.USAGE,
            f"a redeploy needs both {Option.REDEPLOY_BY} and {Option.REDEPLOY_REASON}",
        )
    return check_redeploy(Redeploy(by=by, reason=reason))
