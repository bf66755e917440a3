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

With `--images`, a third side: the same pipeline (its own copy, in twin accounts) run with
`aphex run --local --images`, every task in its image (build-support/images.sh first).
Target: images workflow / by hand <= 1.4.

Run: `python3 bench/pipeline_overhead.py [--runs N] [--keep] [--images]`; a table, then one
JSON line.
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
IMAGES_TARGET = 1.4
PIPELINE = "aphex-bench"
IMAGES_PIPELINE = "aphex-bench-images"
# The sample app's topology; prod's manual gate is approved by --approve all.
PIPELINE_ENVS = [
    Env("dev", "111111111111", "us-east-1"),
    Env("staging", "111111111111", "us-west-2", depends_on=("dev",)),
    Env("prod", "222222222222", "us-east-1", depends_on=("staging",), approval="manual"),
]
HAND_ENVS = [Env(e.name, "9" + e.account[1:], e.region) for e in PIPELINE_ENVS]
IMAGES_ENVS = [
    Env(e.name, "3" + e.account[1:], e.region, e.depends_on, e.approval) for e in PIPELINE_ENVS
]


def main() -> int:
    args = bench_arguments(__doc__, runs=3, images=True)
    tools = Tools.find()
    noise: Noise | None = None
    rows = []
    images_runs = []
    hand_steps: list[dict[str, dict[str, float]]] = []
    with moto_workspace("aphex-bench-pipeline-", args.keep) as (work, server):
        repo = make_repo(work / "repo", PIPELINE, PIPELINE_ENVS)
        images_repo = make_repo(work / "images-repo", IMAGES_PIPELINE, IMAGES_ENVS)
        environ = pipeline_environ(server, tools)
        hand = ByHand(server, tools, HAND_ENVS)
        print("set-up: bootstrap, first pipeline run and first deploys by hand ...", flush=True)
        hand.bootstrap()
        run_pipeline(repo, server.endpoint, environ, work / "install.log")
        if args.images:
            log = work / "images-install.log"
            run_pipeline(images_repo, server.endpoint, environ, log, images=True)
        hand.run(repo, work / "hand")
        noise = Noise()
        for run in range(args.runs):
            push_app_change(repo, run + 1)
            push_app_change(images_repo, run + 1)
            pipeline_first = run % 2 == 0
            if not pipeline_first:
                steps = hand.run(repo, work / "hand")
            result = run_pipeline(repo, server.endpoint, environ, work / f"run-{run}.log")
            if args.images:
                log = work / f"images-run-{run}.log"
                images_runs.append(
                    run_pipeline(images_repo, server.endpoint, environ, log, images=True)
                )
            if pipeline_first:
                steps = hand.run(repo, work / "hand")
            hand_seconds = sum(sum(env.values()) for env in steps.values())
            hand_steps.append(steps)
            rows.append((run, result, hand_seconds))
            images_note = (
                f", images workflow {images_runs[-1].workflow_s:.1f} s" if args.images else ""
            )
            print(
                f"run {run}: workflow {result.workflow_s:.1f} s, command {result.wall_s:.1f} s,"
                f" by hand {hand_seconds:.1f} s{images_note}",
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
    images: dict[str, float | bool] = {}
    if images_runs:
        pairs = [
            (i.workflow_s, r.workflow_s, h) for i, (_, r, h) in zip(images_runs, rows, strict=True)
        ]
        images = {
            "workflow_s": round(median(i for i, _, _ in pairs), 2),
            "ratio_to_hand": round(median(i / h for i, _, h in pairs), 3),
            "ratio_to_host": round(median(i / r for i, r, _ in pairs), 3),
            "target_ratio": IMAGES_TARGET,
        }
        images["ok"] = images["ratio_to_hand"] <= IMAGES_TARGET
        ok = ok and bool(images["ok"])
        print_table(
            ["run", "images workflow (s)", "images / by hand", "images / host"],
            [(run, i, i / h, i / r) for run, (i, r, h) in enumerate(pairs)],
        )
        print(
            f"images workflow / by hand: {images['ratio_to_hand']:.3f}"
            f" (target <= {IMAGES_TARGET}); images / host: {images['ratio_to_host']:.3f}"
        )
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
            "images": images,
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
