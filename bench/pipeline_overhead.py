#!/usr/bin/env python3
"""Benchmark: the whole pipeline against the same deploys and tests done by hand.

The sample app's three environments (dev -> staging -> prod, two stacks each, post-deploy
tests) against one moto server. Set-up, not timed: both sides are installed and their
stacks created once (the pipeline by a first `aphex run --local`, which also deploys the
pipeline's own stack; by hand in twin accounts, bootstrapped with `cdk bootstrap`). Then
per run, a commit that changes StorageStack, and side by side in alternating order:

* pipeline: `aphex run --local --approve all --aws-endpoint <moto>` of that commit:
  validation, build, the pipeline's own stage, deploy + test of each environment, on-exit;
* by hand: a clone at the commit, then per environment in order one `cdk synth`, one
  `cdk deploy` of both stacks from that assembly, and `pytest tests/post_deploy` with the
  stack outputs as environment variables.

Reports medians of: the pipeline's workflow time (first task start to on-exit end, from
its run record), the `aphex run --local` command's wall time (adds the local stand-in for a
cluster install: bootstrap checks and the live template), by hand, and the ratios.
Target: workflow / by hand <= 1.25 (the limit is 1.0).

Run: `python3 bench/pipeline_overhead.py [--runs N] [--keep]`; a table, then one JSON line.
"""

from __future__ import annotations

import sys

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
)

TARGET = 1.25
PIPELINE = "aphex-bench"
# The sample app's topology; prod's manual gate is approved by --approve all.
PIPELINE_ENVS = [
    Env("dev", "111111111111", "us-east-1"),
    Env("staging", "111111111111", "us-west-2", depends_on=("dev",)),
    Env("prod", "222222222222", "us-east-1", depends_on=("staging",), approval="manual"),
]
HAND_ENVS = [Env(e.name, "9" + e.account[1:], e.region) for e in PIPELINE_ENVS]


def main() -> int:
    args = bench_arguments(__doc__, runs=3)
    tools = Tools.find()
    noise: Noise | None = None
    rows = []
    hand_steps: list[dict[str, dict[str, float]]] = []
    with moto_workspace("aphex-bench-pipeline-", args.keep) as (work, server):
        repo = make_repo(work / "repo", PIPELINE, PIPELINE_ENVS)
        environ = pipeline_environ(server, tools)
        hand = ByHand(server, tools, HAND_ENVS)
        print("set-up: bootstrap, first pipeline run and first deploys by hand ...", flush=True)
        hand.bootstrap()
        run_pipeline(repo, server.endpoint, environ, work / "install.log")
        hand.run(repo, work / "hand")
        noise = Noise()
        for run in range(args.runs):
            push_app_change(repo, run + 1)
            pipeline_first = run % 2 == 0
            if not pipeline_first:
                steps = hand.run(repo, work / "hand")
            result = run_pipeline(repo, server.endpoint, environ, work / f"run-{run}.log")
            if pipeline_first:
                steps = hand.run(repo, work / "hand")
            hand_seconds = sum(sum(env.values()) for env in steps.values())
            hand_steps.append(steps)
            rows.append((run, result, hand_seconds))
            print(
                f"run {run}: workflow {result.workflow_s:.1f} s, command {result.wall_s:.1f} s,"
                f" by hand {hand_seconds:.1f} s",
                flush=True,
            )
    workflow = median(r.workflow_s for _, r, _ in rows)
    command = median(r.wall_s for _, r, _ in rows)
    by_hand = median(h for _, _, h in rows)
    ratio = median(r.workflow_s / h for _, r, h in rows)
    command_ratio = median(r.wall_s / h for _, r, h in rows)
    print_table(
        ["run", "workflow (s)", "command (s)", "by hand (s)", "workflow / by hand"],
        [(run, r.workflow_s, r.wall_s, h, r.workflow_s / h) for run, r, h in rows],
    )
    stage_names = list(rows[-1][1].stages)
    print_table(
        ["stage", "median (s)"],
        [(name, median(r.stages.get(name, 0.0) for _, r, _ in rows)) for name in stage_names],
    )
    by_hand_steps = {
        f"{step}/{env.name}": median(steps[env.name][step] for steps in hand_steps)
        for env in HAND_ENVS
        for step in ("synth", "deploy", "test")
    }
    print_table(["by hand", "median (s)"], list(by_hand_steps.items()))
    ok = ratio <= TARGET
    print(f"workflow / by hand: {ratio:.3f} (target <= {TARGET}, limit 1.0)")
    emit(
        "pipeline_overhead",
        {
            "runs": len(rows),
            "environments": len(PIPELINE_ENVS),
            "workflow_s": round(workflow, 2),
            "command_s": round(command, 2),
            "by_hand_s": round(by_hand, 2),
            "ratio": round(ratio, 3),
            "command_ratio": round(command_ratio, 3),
            "target_ratio": TARGET,
            "ok": ok,
            "by_hand_steps_s": {k: round(v, 2) for k, v in by_hand_steps.items()},
            "stages_s": {
                name: round(median(r.stages.get(name, 0.0) for _, r, _ in rows), 2)
                for name in stage_names
            },
        },
        noise=noise,
    )
    return 0 if ok else 1  # a missed target fails the run


if __name__ == "__main__":
    sys.exit(main())
