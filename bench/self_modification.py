#!/usr/bin/env python3
"""Benchmark: from a commit that adds an environment to that environment being deployed.

The sample app's pipeline (dev -> staging -> prod) against a moto server, installed by a
first `aphex run --local` (not timed). Then per run, one commit adds an environment
(`qa-N`, after dev, in another region) and is pushed once: one `aphex run --local` of that
commit. The pipeline stage applies the new WorkflowTemplate, supersedes its own run and
restarts it on the new topology, so the same push deploys and tests `qa-N`.

Reports per run: pushes needed (commits run until `qa-N` is deployed: the target is 1; the
seed design needs 2, one to change the template and one to use it), workflows run for the
push, seconds from the push to `qa-N`'s stacks deployed and to its tests passed, and the
command's wall time. Each run adds one more environment, so later runs deploy more.

Run: `python3 bench/self_modification.py [--runs N] [--keep]`; a table, then one JSON line.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from benchlib import Noise, emit, median, print_table
from localrun import (
    Env,
    Tools,
    bench_arguments,
    commit,
    make_repo,
    moto_workspace,
    pipeline_environ,
    run_pipeline,
    write_config,
)

TARGET_PUSHES = 1
PIPELINE = "aphex-bench-selfmod"
BASE = [
    Env("dev", "511111111111", "us-east-1"),
    Env("staging", "511111111111", "us-west-2", depends_on=("dev",)),
    Env("prod", "522222222222", "us-east-1", depends_on=("staging",)),
]


def _seconds_after(start: datetime, stamp: str) -> float:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - start).total_seconds()


def main() -> int:
    args = bench_arguments(__doc__, runs=2)
    tools = Tools.find()
    rows: list[dict[str, Any]] = []
    noise: Noise | None = None
    with moto_workspace("aphex-bench-selfmod-", args.keep) as (work, server):
        environ = pipeline_environ(server, tools)
        repo = make_repo(work / "repo", PIPELINE, BASE)
        print("set-up: installing the pipeline (first run) ...", flush=True)
        run_pipeline(repo, server.endpoint, environ, work / "install.log")
        envs = list(BASE)
        noise = Noise()
        for run in range(args.runs):
            name = f"qa-{run + 1}"
            # Its own account: the sample app's stack names are the same in every environment.
            envs.append(Env(name, f"53{run % 10}222222222", "eu-west-1", depends_on=("dev",)))
            write_config(repo, PIPELINE, envs)
            pushed_at = datetime.now(UTC)
            started = time.perf_counter()
            commit(repo, f"add environment {name}")
            result = run_pipeline(repo, server.endpoint, environ, work / f"run-{run}.log")
            wall = time.perf_counter() - started
            final = result.final
            stages = {(s["stage"], s.get("environment")): s for s in final["stages"]}
            deploy, test = stages.get(("environment", name)), stages.get(("test", name))
            if final["status"] != "Succeeded" or deploy is None or test is None:
                raise SystemExit(f"bench: {name} was not deployed by the push; see {work}")
            rows.append(
                {
                    "environment": name,
                    "pushes": 1,
                    "workflows": len(result.records),
                    "deployed_s": _seconds_after(pushed_at, deploy["finished_at"]),
                    "tested_s": _seconds_after(pushed_at, test["finished_at"]),
                    "command_s": wall,
                }
            )
            print(
                f"run {run}: {name} deployed {rows[-1]['deployed_s']:.1f} s after the push",
                flush=True,
            )
    print_table(
        ["run", "added", "pushes", "workflows", "deployed (s)", "tested (s)", "command (s)"],
        [
            (
                i,
                r["environment"],
                r["pushes"],
                r["workflows"],
                r["deployed_s"],
                r["tested_s"],
                r["command_s"],
            )
            for i, r in enumerate(rows)
        ],
    )
    pushes = max(r["pushes"] for r in rows)
    ok = pushes <= TARGET_PUSHES
    print(f"pushes from commit to deployed: {pushes} (target {TARGET_PUSHES}; the seed needs 2)")
    emit(
        "self_modification",
        {
            "runs": len(rows),
            "pushes": pushes,
            "workflows_per_push": max(r["workflows"] for r in rows),
            "deployed_s": round(median(r["deployed_s"] for r in rows), 2),
            "tested_s": round(median(r["tested_s"] for r in rows), 2),
            "command_s": round(median(r["command_s"] for r in rows), 2),
            "target_pushes": TARGET_PUSHES,
            "ok": ok,
        },
        noise=noise,
    )
    return 0 if ok else 1  # a missed target fails the run


if __name__ == "__main__":
    sys.exit(main())
