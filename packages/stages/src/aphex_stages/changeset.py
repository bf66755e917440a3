"""The change set of an environment: what its deploy would change, stack by stack.

The preview stage (``aphex-stage-preview``) computes it before the environment's approval
gate and stores it beside the commit's artifact as ``changesets/<environment>.json`` (and
the text as ``.txt``); the gate's prompt (``aphex run --local``) and ``aphex approve`` show
it. Standard library only: ``aphex approve`` reads the text from the Workflow.

    changes = ChangeSet(pipeline, commit, "prod", "222222222222", "us-east-1", stacks)
    changes.render()                 # the text a reviewer reads
    cut_text(changes.render(), CHANGESET_LIMIT, where)   # what Argo's output parameter holds
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChangeSet",
    "StackChange",
    "cut_text",
    "diff_report",
]

#: Lines of the CDK CLI's ``diff`` output that say nothing about the stack.
_NOISE = ("Number of stacks with differences", "start: ", "success: ")


def diff_report(lines: Sequence[str], stack: str) -> str:
    """The part of ``cdk diff``'s output about the stack: from its ``Stack`` heading on,
    without the CLI's progress and count lines or trailing blank lines."""
    kept = list(lines)
    for index, line in enumerate(kept):
        if line.strip().startswith("Stack ") and stack in line:
            kept = kept[index + 1 :]
            break
    kept = [line.rstrip() for line in kept if not line.strip().lstrip("✨ ").startswith(_NOISE)]
    while kept and not kept[-1]:
        kept.pop()
    while kept and not kept[0]:
        kept.pop(0)
    return "\n".join(kept)


@dataclass(frozen=True)
class StackChange:
    """One stack: whether its deploy changes anything, and the CDK's report of what."""

    stack: str
    changed: bool
    report: str

    def to_json(self) -> dict[str, Any]:
        """As stored."""
        return {"stack": self.stack, "changed": self.changed, "report": self.report}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackChange:
        """Parse a stored entry (KeyError or TypeError when malformed)."""
        return cls(str(data["stack"]), bool(data["changed"]), str(data["report"]))


@dataclass(frozen=True)
class ChangeSet:
    """What deploying ``commit`` to ``environment`` would change, stack by stack in deploy
    order, computed against the environment's account and region at ``created_at``."""

    pipeline: str
    commit: str
    environment: str
    account: str
    region: str
    stacks: tuple[StackChange, ...]
    created_at: str = ""
    workflow: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> tuple[str, ...]:
        """The stacks whose deploy changes something."""
        return tuple(change.stack for change in self.stacks if change.changed)

    def summary(self) -> str:
        """One line: which environment, where, which commit, how many stacks change."""
        return (
            f"change set of {self.environment} ({self.account}/{self.region}) at commit"
            f" {self.commit[:12]}: {len(self.changed)} of {len(self.stacks)} stack(s) change"
            + (f" ({', '.join(self.changed)})" if self.changed else "")
        )

    def render(self) -> str:
        """The text a reviewer reads: the summary, any notes, then each stack's report."""
        lines = [self.summary(), *(f"note: {note}" for note in self.notes)]
        for change in self.stacks:
            lines += ["", f"=== {change.stack}: {'changes' if change.changed else 'no changes'}"]
            if change.changed and change.report:
                lines.append(change.report)
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """As stored beside the artifact."""
        return {
            "pipeline": self.pipeline,
            "commit": self.commit,
            "environment": self.environment,
            "account": self.account,
            "region": self.region,
            "created_at": self.created_at,
            "workflow": self.workflow,
            "notes": list(self.notes),
            "changed": list(self.changed),
            "stacks": [change.to_json() for change in self.stacks],
        }

    def to_bytes(self) -> bytes:
        """The stored JSON document."""
        return (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeSet:
        """Parse a stored document (ValueError when malformed)."""
        try:
            return cls(
                pipeline=str(data["pipeline"]),
                commit=str(data["commit"]),
                environment=str(data["environment"]),
                account=str(data["account"]),
                region=str(data["region"]),
                stacks=tuple(StackChange.from_json(entry) for entry in data["stacks"]),
                created_at=str(data.get("created_at") or ""),
                workflow=data.get("workflow"),
                notes=tuple(str(note) for note in data.get("notes") or ()),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed change set: {error}") from None


def cut_text(text: str, limit: int, where: str) -> str:
    """``text`` if its UTF-8 fits in ``limit`` bytes, else its head (cut at a line) and a
    last line saying where the whole of it is."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    note = f"\n... cut at {limit} bytes; the whole change set: {where}\n"
    head = data[: max(0, limit - len(note.encode("utf-8")))].decode("utf-8", errors="ignore")
    if "\n" in head:
        head = head[: head.rindex("\n")]
    return head + note
