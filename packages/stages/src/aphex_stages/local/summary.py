"""The table a local run ends with: every task's result, the deployed stacks' outputs, the logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aphex_generator import Output
from aphex_stages.local.executor import RunResult
from aphex_stages.local.progress import table


def _superseded_reasons(result: RunResult) -> list[str]:
    """Why a run was superseded: the last line of the log of the task that said so."""
    lines = []
    for state in result.tasks.values():
        if state.outputs.get(Output.SUPERSEDED) == "true" and state.log_path is not None:
            try:
                text = state.log_path.read_text(errors="replace").strip().splitlines()
            except OSError:
                continue
            if text:
                lines.append(f"superseded {result.workflow}: {text[-1].strip()}")
    return lines


def render_summary(
    results: Sequence[RunResult],
    outputs: Mapping[str, Mapping[str, Mapping[str, Any]]],
    runs_dir: Path,
) -> str:
    """Tasks of every workflow run, then each environment's stacks and outputs, then where logs are."""
    rows = []
    reasons: list[str] = []
    for index, result in enumerate(results):
        if result.superseded:
            following = results[index + 1].workflow if index + 1 < len(results) else "-"
            rows.append([result.workflow, "(run)", "succeeded: superseded", f"-> {following}"])
            reasons.extend(_superseded_reasons(result))
        for state in result.tasks.values():
            rows.append(
                [
                    result.workflow,
                    state.name,
                    state.phase.lower(),
                    f"{state.elapsed:.1f}s" if state.started is not None else "",
                ]
            )
    parts = ["", table(["workflow", "task", "status", "duration"], rows), *reasons]
    output_rows = [
        [environment, stack, key, str(value)]
        for environment, stacks in outputs.items()
        for stack, values in stacks.items()
        for key, value in values.items()
    ]
    if output_rows:
        parts += ["", table(["environment", "stack", "output", "value"], output_rows)]
    final = results[-1] if results else None
    parts.append("")
    if final is not None and final.phase == "Succeeded":
        parts.append(f"pipeline succeeded ({final.workflow})")
    elif final is not None:
        failed = final.failed_tasks()
        if failed:
            first = failed[0]
            parts.append(f"pipeline failed at task {first.name}: {first.cause or 'see its log'}")
        else:
            parts.append(f"pipeline ended {final.phase.lower()} ({final.workflow})")
    for result in results:
        parts.append(f"logs: {runs_dir / result.workflow}/<task>.log (and <task>.json)")
    return "\n".join(parts)
