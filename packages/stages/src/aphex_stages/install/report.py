"""What `aphex install` tells its user: a `[n/N]` line per step and a line per object, or,
with `-o json`, one JSON object (the progress then goes to stderr). Every line passes
through :func:`aphex_monitoring.redact`, so a registered secret is never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from aphex_monitoring import redact

__all__ = ["CHANGED", "UNCHANGED", "Report", "StepRecord"]

#: Results of one object: these count as a change; anything else is "already done".
CHANGED = frozenset({"created", "updated", "deployed"})
UNCHANGED = "unchanged"


@dataclass
class StepRecord:
    """One step: its objects and their results, and its error if it failed."""

    number: int
    title: str
    items: list[dict[str, str]] = field(default_factory=list)
    status: str = "not run"
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    _report: Report | None = field(default=None, repr=False)

    def note(self, name: str, result: str) -> None:
        """One object of the step and what happened to it ("created", "unchanged", ...)."""
        self.items.append({"name": name, "result": result})
        if self._report is not None:
            self._report.say(f"      {name}: {result}")

    def tell(self, text: str) -> None:
        """A line of the step that is not an object (a hint, a URL)."""
        self.notes.append(text)
        if self._report is not None:
            self._report.say(f"      {text}")

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": self.number,
            "title": self.title,
            "status": self.status,
            "items": self.items,
            "notes": self.notes,
        }
        if self.error is not None:
            data["error"] = self.error
        return data


class Report:
    """Progress of the steps on `progress`, errors on `errors`, the JSON result on `out`."""

    def __init__(self, titles: list[str], output: str, out: TextIO, errors: TextIO) -> None:
        self.json = output == "json"
        self.out = out
        self.errors = errors
        self.progress = errors if self.json else out
        self.steps = [StepRecord(n, title) for n, title in enumerate(titles, start=1)]
        self.result: dict[str, Any] = {}

    def say(self, text: str) -> None:
        self.progress.write(redact(text) + "\n")
        self.progress.flush()

    @contextmanager
    def step(self, number: int) -> Iterator[StepRecord]:
        """Run step `number`: its `[n/N]` line, then its status: "unchanged" when every object
        noted was already there as wanted, else "done"; "failed" on an exception."""
        record = self.steps[number - 1]
        record._report = self
        self.say(f"[{number}/{len(self.steps)}] {record.title}")
        try:
            yield record
        except BaseException as error:
            record.status = "failed"
            record.error = redact(str(error)) or type(error).__name__
            raise
        changed = any(item["result"] in CHANGED for item in record.items)
        record.status = "done" if changed or not record.items else UNCHANGED
        if record.status == UNCHANGED:
            self.say("      already done")

    def finish(self, error: str | None, code: int) -> int:
        """Print the error (stderr) and, with -o json, the result object; return `code`."""
        if error is not None:
            self.errors.write(f"aphex install: {redact(error)}\n")
            self.errors.flush()
        if self.json:
            document = {
                "ok": error is None,
                **self.result,
                "steps": [step.as_json() for step in self.steps],
                "error": redact(error) if error is not None else None,
            }
            self.out.write(json.dumps(document, indent=2) + "\n")
            self.out.flush()
        return code
