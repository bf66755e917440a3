"""`aphex logs WORKFLOW [TASK]`: a local run's task log, or its tasks with their phase and log.

A local run keeps each task's log and record in `<repo>/.aphex/local/runs/<workflow>/`
(`<task>.log`, `<task>.json`, written by :mod:`aphex_stages.local.executor`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aphex_stages.clierror import report_error
from aphex_stages.local.layout import LocalPaths, LocalRunError, resolve_commit
from aphex_stages.local.progress import table

__all__ = ["TaskLog", "run_logs", "task_logs"]

#: How many runs an error about an unknown run names (the newest).
SHOWN_RUNS = 5


@dataclass(frozen=True)
class TaskLog:
    """One task of a local run: its phase (``running`` before its record is written) and log."""

    task: str
    phase: str
    log: Path | None
    started_at: str = ""

    def to_json(self) -> dict[str, Any]:
        """The task as JSON."""
        return {
            "task": self.task,
            "phase": self.phase,
            "log": str(self.log) if self.log else None,
            "started_at": self.started_at or None,
        }


def _record(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def task_logs(run_dir: Path) -> list[TaskLog]:
    """The tasks of the run in `run_dir`, in the order they started."""
    tasks: dict[str, TaskLog] = {}
    for path in run_dir.glob("*.json"):
        record = _record(path)
        log = run_dir / f"{path.stem}.log"
        tasks[path.stem] = TaskLog(
            task=path.stem,
            phase=str(record.get("phase") or "unknown").lower(),
            log=log if log.is_file() else None,
            started_at=str(record.get("started_at") or ""),
        )
    for log in run_dir.glob("*.log"):  # a task still running has its log, not its record
        if log.stem not in tasks:
            tasks[log.stem] = TaskLog(task=log.stem, phase="running", log=log, started_at="~")
    return sorted(tasks.values(), key=lambda t: (t.started_at or "~", t.task))


def _runs_here(runs: Path) -> list[str]:
    """The local runs, newest first."""
    if not runs.is_dir():
        return []
    folders = [p for p in runs.iterdir() if p.is_dir()]
    return [p.name for p in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)]


def _plain_name(name: str) -> bool:
    return bool(name) and Path(name).name == name and name not in (".", "..")


def run_logs(repo: Path, workflow: str, task: str | None, output: str = "text") -> int:
    """Print a task's log (with TASK) or the run's tasks; 1 when the run or task is unknown."""
    try:
        top, _sha = resolve_commit(repo, None)
    except LocalRunError as error:
        return report_error("logs", str(error), output)
    runs = LocalPaths.of(top).runs
    run_dir = runs / workflow
    if not _plain_name(workflow) or not run_dir.is_dir():
        known = _runs_here(runs)
        if not known:
            hint = "there are no local runs here: `aphex run --local` makes them"
        else:
            more = f" (and {len(known) - SHOWN_RUNS} older)" if len(known) > SHOWN_RUNS else ""
            hint = f"runs here, newest first: {', '.join(known[:SHOWN_RUNS])}{more}"
        return report_error("logs", f"no local run {workflow!r}; {hint}", output)
    tasks = task_logs(run_dir)
    if task is None:
        if output == "json":
            print(json.dumps({"workflow": workflow, "tasks": [t.to_json() for t in tasks]}))
        else:
            rows = [[t.task, t.phase, str(t.log) if t.log else "(no log)"] for t in tasks]
            print(table(["task", "phase", "log"], rows))
        return 0
    chosen = next((t for t in tasks if t.task == task), None) if _plain_name(task) else None
    if chosen is None:
        names = ", ".join(t.task for t in tasks) or "none"
        return report_error("logs", f"no task {task!r} in {workflow}; its tasks: {names}", output)
    if chosen.log is None:
        message = f"task {task} of {workflow} has no log (it was {chosen.phase}, never started)"
        return report_error("logs", message, output)
    text = chosen.log.read_text(errors="replace")
    if output == "json":
        print(json.dumps({**chosen.to_json(), "workflow": workflow, "text": text}))
    else:
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return 0
