"""Find the failing stack and CloudFormation's reason in the CDK CLI's output.

Formats recognised (CLI 2.1148, ``--progress events``):

* resource events: ``STACK | 2/4 | 7:23:52 AM | CREATE_FAILED | AWS::SQS::Queue | Queue (Q1) <reason>``
* the verdict: ``❌  STACK failed to deploy`` or ``❌  STACK failed: <error>``
* the error chain after it: ``‣ InvalidParameterValue: <message>``
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CdkFailure", "parse_failure"]

_EVENT = re.compile(
    r"^\s*(?P<stack>[A-Za-z][A-Za-z0-9-]*)\s+\|\s*[^|]*\|\s*[^|]*\|\s*"
    r"(?P<status>[A-Z_]*FAILED)\s*\|\s*(?P<type>[^|]+?)\s*\|\s*(?P<rest>.*)$"
)
_VERDICT = re.compile(
    r"❌\s+(?:Deployment failed: )?(?P<stack>[A-Za-z][A-Za-z0-9-/]*) failed(?P<tail>.*)$"
)
_CHAIN = re.compile(r"^\s*‣\s*(?P<message>\S.*)$")
_ERRORISH = re.compile(r"(Error|Exception|failed|not found)", re.IGNORECASE)
# Events that only echo the real failure of another resource.
_ECHO = (
    "Resource creation cancelled",
    "Resource update cancelled",
    "The following resource(s) failed",
)


@dataclass(frozen=True)
class CdkFailure:
    """``stack`` is the failing stack if the output names one; ``reason`` is CloudFormation's."""

    stack: str | None
    reason: str | None


def _event_reason(resource_type: str, rest: str) -> str:
    # "Queue (Queue4A7E3555) Resource handler returned message: ..."
    match = re.match(r"^(?P<resource>\S+)\s+\([^)]*\)\s*(?P<reason>.*)$", rest)
    if match and match.group("reason").strip():
        return f"{match.group('resource')} ({resource_type}): {match.group('reason').strip()}"
    return rest.strip()


def _is_echo(reason: str) -> bool:
    return any(marker in reason for marker in _ECHO)


def parse_failure(lines: Iterable[str]) -> CdkFailure:
    """The failing stack and reason; fields are ``None`` when the output does not say."""
    events: list[tuple[str, str]] = []
    verdict_stack: str | None = None
    verdict_tail: str | None = None
    chain: list[str] = []
    fallback: str | None = None
    for line in lines:
        text = line.strip()
        if not text:
            continue
        event = _EVENT.match(text)
        if event:
            reason = _event_reason(event.group("type"), event.group("rest"))
            events.append((event.group("stack"), reason))
            continue
        verdict = _VERDICT.search(text)
        if verdict:
            if verdict_stack is None:
                verdict_stack = verdict.group("stack")
                tail = verdict.group("tail").strip().lstrip(":").strip()
                verdict_tail = None if tail in ("", "to deploy") else tail
            continue
        link = _CHAIN.match(text)
        if link and verdict_stack is not None:
            chain.append(link.group("message"))
            continue
        if _ERRORISH.search(text) and not text.startswith("at "):
            fallback = text
    stack = verdict_stack or (events[0][0] if events else None)
    own = [reason for name, reason in events if stack is None or name == stack]
    primary = [reason for reason in own if not _is_echo(reason)]
    candidates: list[str | None] = [*primary[:1], *chain[:1], verdict_tail, *own[:1], fallback]
    found = next((candidate for candidate in candidates if candidate), None)
    return CdkFailure(stack=stack, reason=found)
