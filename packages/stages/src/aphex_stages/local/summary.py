"""The table a local run ends with: every task's result, the deployed stacks' outputs (with
the test variable each becomes), and how to read the logs."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aphex_generator import Output
from aphex_stages.cdk.outputs import env_var_name
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
        [environment, stack, key, _variable(stack, key), str(value)]
        for environment, stacks in outputs.items()
        for stack, values in stacks.items()
        for key, value in values.items()
    ]
    if output_rows:
        headers = ["environment", "stack", "output", "test variable", "value"]
        parts += ["", table(headers, output_rows)]
    final = results[-1] if results else None
    parts.append("")
    if final is not None and final.phase == "Succeeded":
        parts.append(f"pipeline succeeded ({final.workflow})")
    elif final is not None:
        failed = final.failed_tasks()
        if failed:
            first = failed[0]
            parts.append(f"pipeline failed at task {first.name}: {first.cause or 'see its log'}")
            log = first.log_path or runs_dir / final.workflow / f"{first.name}.log"
            parts.append(
                f"  its log: {log} ({_logs_command(runs_dir, final.workflow)} {first.name})"
            )
        else:
            parts.append(f"pipeline ended {final.phase.lower()} ({final.workflow})")
    for result in results:
        parts.append(
            f"logs: {_logs_command(runs_dir, result.workflow)} [TASK]"
            f" (files in {runs_dir / result.workflow}/)"
        )
    return "\n".join(parts)


def _logs_command(runs_dir: Path, workflow: str) -> str:
    """``aphex logs WORKFLOW``, with ``--repo`` unless the repository is the current folder."""
    repo = runs_dir.parent.parent.parent  # <repo>/.aphex/local/runs
    try:
        here = repo.resolve() == Path.cwd().resolve()
    except OSError:
        here = False
    return f"aphex logs {workflow}" + ("" if here else f" --repo {shlex.quote(str(repo))}")


def _variable(stack: str, key: str) -> str:
    """The variable the post-deployment tests get for output `key` of `stack`."""
    try:
        return env_var_name(stack, key)
    except ValueError:
        return "-"
