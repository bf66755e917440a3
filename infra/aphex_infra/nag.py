"""cdk-nag (3.x) for the app: the AwsSolutions pack, and acknowledgements with reasons.

Every acknowledgement goes through :func:`acknowledge`, which refuses an empty or short
reason and records it in :data:`ACKNOWLEDGED` so tests can list them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

__all__ = ["ACKNOWLEDGED", "Acknowledgement", "acknowledge", "add_checks"]

MIN_REASON = 40


@dataclass(frozen=True)
class Acknowledgement:
    """One acknowledged finding: where, which rule (with its finding id) and why."""

    path: str
    rule: str
    reason: str


#: Every acknowledgement made in this process, in order.
ACKNOWLEDGED: list[Acknowledgement] = []


def add_checks(app: App) -> None:
    """Run the AwsSolutions pack on ``app``: an unacknowledged finding fails synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope``
    and its children, for ``reason`` (a sentence, at least :data:`MIN_REASON` chars)."""
    if len(reason.strip()) < MIN_REASON:
        raise ValueError(f"acknowledging {rule} needs a written reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason.strip()))
    ACKNOWLEDGED.append(Acknowledgement(scope.node.path, rule, reason.strip()))
