"""Stage failures and the exit codes they map to.

Every stage exits with one of these codes and prints a one-line cause. Argo shows the
code; `aphex run --local` and the monitoring record show the cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """Distinct exit codes shared by every stage."""

    OK = 0
    FAILED = 1  # an unexpected error inside the stage
    USAGE = 2  # bad arguments or stage inputs
    # 3 is not used: a superseded run (the pipeline stage restarted it on a new topology)
    # exits 0 with the output `superseded=true`, and its later tasks are skipped.
    CONFIG_INVALID = 4  # aphex-config.yaml at the commit does not validate
    GIT_FAILED = 5  # clone or checkout of the commit failed
    COMMAND_FAILED = 6  # a build or test command exited non-zero
    TIMEOUT = 7  # a command or deploy ran past its timeout
    AWS_FAILED = 8  # an AWS call failed after its retries
    ARTIFACT_INVALID = 9  # the artifact is missing or fails its checksums
    DEPLOY_FAILED = 10  # CDK synth or CloudFormation deploy failed
    TEMPLATE_REJECTED = 11  # the regenerated WorkflowTemplate failed validation or dry run
    PRECONDITION_FAILED = 12  # validation stage: credentials, roles, CDK context or tools
    CLUSTER_FAILED = 13  # the Kubernetes API (or local cluster) refused an apply or submit
    STALE_COMMIT = 14  # environment stage: a newer commit is deployed there already
    INTERRUPTED = 130  # SIGINT


class StageError(Exception):
    """A stage failure with its exit code, a one-line cause and optional detail lines."""

    def __init__(self, code: ExitCode, cause: str, details: Sequence[str] = ()) -> None:
        super().__init__(cause)
        self.code = code
        self.cause = " ".join(cause.split())
        self.details = tuple(details)


class StageSuperseded(Exception):
    """The run was replaced by a new one on a new topology; nothing more to deploy here.
    The stage still succeeds (exit 0): its record says Superseded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
