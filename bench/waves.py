#!/usr/bin/env python3
"""Benchmark: three independent environments in one wave against the same three in a line.

Two pipelines of the sample app against one moto server, in separate accounts: `wave`,
whose environments a, b and c depend on nothing (one wave: the local runner starts their
deploys together, `--parallelism 4`), and `line`, where b depends on a and c on b. Set-up,
not timed: each is installed and its stacks created by a first `aphex run --local`. Then
per run, the same app change is pushed to both and both run, in alternating order.

Reports medians of each pipeline's environment phase (first environment stage start to
last test end, from the run record: the part the topology changes) and of its whole
workflow, and the ratios wave / line. Target: environment phase of the wave <= 0.5 of the
line's on this machine. Three deploys share 2 cores and one moto server here, so the
ideal of 1/3 is out of reach: the script also times one `cdk synth` alone and prints its CPU
seconds, from which follows the floor for three synths at once on this machine's cores.

Run: `python3 bench/waves.py [--runs N] [--keep]`; a table, then one JSON line.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Any

from benchlib import Noise, emit, median, print_table
from localrun import (
    ByHand,
    Env,
    Tools,
    bench_arguments,
    make_repo,
    moto_workspace,
    pipeline_environ,
    push_app_change,
    run_pipeline,
    synth_cost,
)

TARGET = 0.5
# One account per environment: the sample app's stack names are the same in every one.
LAYOUTS = {
    "wave": [Env(name, f"3{i}1111111111") for i, name in enumerate(("a", "b", "c"))],
    "line": [
        Env("a", "401111111111"),
        Env("b", "411111111111", depends_on=("a",)),
        Env("c", "421111111111", depends_on=("b",)),
    ],
}


def environment_phase(record: dict[str, Any]) -> float:
    """Seconds from the first environment stage's start to the last test's end."""
    stages = [s for s in record["stages"] if s.get("environment")]
    start = min(_time(s["started_at"]) for s in stages)
    end = max(_time(s["finished_at"]) for s in stages)
    return (end - start).total_seconds()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main() -> int:
    args = bench_arguments(__doc__, runs=3)
    tools = Tools.find()
    phases: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    workflows: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    noise: Noise | None = None
    with moto_workspace("aphex-bench-waves-", args.keep) as (work, server):
        environ = pipeline_environ(server, tools)
        repos = {
            name: make_repo(work / name, f"aphex-bench-{name}", envs)
            for name, envs in LAYOUTS.items()
        }
        print("set-up: installing both pipelines (first runs) ...", flush=True)
        for name, repo in repos.items():
            run_pipeline(repo, server.endpoint, environ, work / f"{name}-install.log")
        alone = ByHand(server, tools, LAYOUTS["wave"][:1])
        alone.bootstrap()  # installed already: only the account's credentials
        synth_wall, synth_cpu = synth_cost(alone, repos["wave"], work)
        noise = Noise()
        for run in range(args.runs):
            order = list(LAYOUTS) if run % 2 == 0 else list(reversed(LAYOUTS))
            for name in order:
                push_app_change(repos[name], run + 1)
                result = run_pipeline(
                    repos[name], server.endpoint, environ, work / f"{name}-{run}.log"
                )
                phases[name].append(environment_phase(result.final))
                workflows[name].append(result.workflow_s)
            print(
                f"run {run}: environments wave {phases['wave'][-1]:.1f} s,"
                f" line {phases['line'][-1]:.1f} s",
                flush=True,
            )
    ratios = [w / line for w, line in zip(phases["wave"], phases["line"], strict=True)]
    workflow_ratios = [
        w / line for w, line in zip(workflows["wave"], workflows["line"], strict=True)
    ]
    print_table(
        [
            "run",
            "wave envs (s)",
            "line envs (s)",
            "ratio",
            "wave workflow (s)",
            "line workflow (s)",
            "workflow ratio",
        ],
        [
            (
                run,
                phases["wave"][run],
                phases["line"][run],
                ratios[run],
                workflows["wave"][run],
                workflows["line"][run],
                workflow_ratios[run],
            )
            for run in range(len(ratios))
        ],
    )
    ratio = median(ratios)
    cores = os.cpu_count() or 1
    # Three synths at once need 3 * cpu / cores seconds at least; in a line 3 * wall.
    synth_floor = max(1 / 3, synth_cpu / (cores * synth_wall))
    print(
        f"one synth alone: {synth_wall:.2f} s wall, {synth_cpu:.2f} s CPU"
        f" ({synth_cpu / synth_wall:.2f} cores busy); on {cores} cores three synths at once"
        f" take at least {synth_floor:.2f} of three in a line"
    )
    ok = ratio <= TARGET
    print(f"environment phase wave / line: {ratio:.3f} (target <= {TARGET})")
    emit(
        "waves",
        {
            "runs": len(ratios),
            "environments": 3,
            "wave_environments_s": round(median(phases["wave"]), 2),
            "line_environments_s": round(median(phases["line"]), 2),
            "ratio": round(ratio, 3),
            "wave_workflow_s": round(median(workflows["wave"]), 2),
            "line_workflow_s": round(median(workflows["line"]), 2),
            "workflow_ratio": round(median(workflow_ratios), 3),
            "target_ratio": TARGET,
            "synth_wall_s": round(synth_wall, 2),
            "synth_cpu_s": round(synth_cpu, 2),
            "synth_floor_ratio": round(synth_floor, 3),
            "ok": ok,
        },
        noise=noise,
    )
    return 0 if ok else 1  # a missed target fails the run


if __name__ == "__main__":
    sys.exit(main())
