"""The errors the CDK wrapper raises. Every message is one line that names the cause."""

from __future__ import annotations

__all__ = [
    "CdkCliNotFoundError",
    "CdkCommandError",
    "CdkDeployError",
    "CdkError",
    "CdkTimeoutError",
    "MissingContextError",
]


class CdkError(RuntimeError):
    """Base class of every error of :mod:`aphex_stages.cdk`."""


class CdkCliNotFoundError(CdkError):
    """The pinned CDK CLI (``node_modules/.bin/cdk``) is not installed."""


class CdkCommandError(CdkError):
    """A ``cdk`` command exited non-zero. ``output`` holds its (ANSI-free) lines."""

    def __init__(self, message: str, *, output: tuple[str, ...] = (), returncode: int = 1):
        super().__init__(message)
        self.output = output
        self.returncode = returncode


class CdkTimeoutError(CdkCommandError):
    """A ``cdk`` command ran past its timeout and was killed."""

    def __init__(
        self, message: str, *, output: tuple[str, ...] = (), timeout: float, stack: str | None
    ):
        super().__init__(message, output=output, returncode=-9)
        self.timeout = timeout
        self.stack = stack


class CdkDeployError(CdkCommandError):
    """Deploying ``stack`` failed; ``outputs`` has the stacks deployed before it.

    ``timed_out`` is True when the deploy ran past its timeout and was killed.
    """

    def __init__(
        self,
        message: str,
        *,
        stack: str,
        reason: str | None,
        outputs: dict[str, dict[str, str]],
        output: tuple[str, ...] = (),
        returncode: int = 1,
        timed_out: bool = False,
    ):
        super().__init__(message, output=output, returncode=returncode)
        self.stack = stack
        self.reason = reason
        self.outputs = outputs
        self.timed_out = timed_out


class MissingContextError(CdkError):
    """Synth needed context lookups that ``cdk.context.json`` does not hold."""

    def __init__(self, message: str, *, keys: tuple[str, ...]):
        super().__init__(message)
        self.keys = keys
