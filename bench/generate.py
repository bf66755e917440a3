#!/usr/bin/env python3
"""Benchmark: render + validate the WorkflowTemplate for 10, 50 and 200 environments.

Validators are compiled once up front (reported separately as ``compile_s``); each size
reports the median wall time of render + validate over several runs, each run starting
with an empty CEL memo. Up to about 130 environments (for this mix of tests and gates)
the template has one deploy template per environment; beyond the CRD's 200-template
limit it switches to the compact layout, so 200 environments is not the largest document. Prints a table and
one JSON line ``{"bench": "generate", ...}``. Target: < 0.5 s at 200 environments.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for sub in ("packages/config/src", "packages/generator/src"):
    path = str(ROOT / sub)
    if path not in sys.path:
        sys.path.insert(0, path)

import yaml  # type: ignore[import-untyped, unused-ignore]  # noqa: E402

from aphex_config import AphexConfig, parse_config  # noqa: E402
from aphex_generator import GeneratorSettings, render_workflow_template, validate  # noqa: E402
from aphex_generator.validate import warm_up  # noqa: E402
from aphex_generator.validate.cel import clear_memo  # noqa: E402

SIZES = (10, 50, 100, 200)
RUNS = 7
TARGET_S = 0.5


def make_config(count: int) -> AphexConfig:
    """A pipeline of ``count`` environments in waves of ten, half with tests, some gated."""
    envs: list[dict[str, Any]] = []
    for index in range(count):
        env: dict[str, Any] = {
            "name": f"env-{index:03d}",
            "account": f"{100000000000 + index % 7:012d}",
            "region": "us-east-1",
            "stacks": [{"name": "Network"}, {"name": "Api"}],
        }
        if index % 10 == 0 and index:
            env["depends_on"] = [f"env-{index - 10:03d}"]
        elif index % 10:
            env["depends_on"] = [f"env-{index - index % 10:03d}"]
        else:
            env["depends_on"] = []
        if index % 2:
            env["tests"] = {"commands": ["pytest tests/smoke"]}
        if index % 25 == 24:
            env["approval"] = "manual"
        envs.append(env)
    data = {
        "version": 1,
        "pipeline": {"name": "bench", "repository": "https://github.com/acme/bench.git"},
        "build": {"commands": ["make build"]},
        "environments": envs,
    }
    return parse_config(yaml.safe_dump(data, sort_keys=False), source="bench.yaml")


def measure(config: AphexConfig, settings: GeneratorSettings) -> tuple[float, float, float, str]:
    renders, validates, totals = [], [], []
    layout = ""
    for _ in range(RUNS):
        clear_memo()  # every run starts cold: no CEL results carried over
        start = time.perf_counter()
        doc = render_workflow_template(config, settings)
        middle = time.perf_counter()
        problems = validate(doc)
        end = time.perf_counter()
        if problems:
            raise SystemExit(f"bench: rendered template is invalid: {problems[0]}")
        renders.append(middle - start)
        validates.append(end - middle)
        totals.append(end - start)
        layout = doc["metadata"]["annotations"]["aphex.io/layout"]
    return (
        statistics.median(renders),
        statistics.median(validates),
        statistics.median(totals),
        layout,
    )


def main() -> int:
    settings = GeneratorSettings()
    start = time.perf_counter()
    warm_up()
    compile_s = time.perf_counter() - start
    rows: dict[str, dict[str, Any]] = {}
    print(f"validators compiled once in {compile_s:.3f} s (excluded below)")
    print(
        f"{'envs':>5} {'layout':>16} {'render s':>9} {'validate s':>11} {'total s':>8} {'ms/env':>7}"
    )
    for size in SIZES:
        config = make_config(size)
        render_s, validate_s, total_s, layout = measure(config, settings)
        rows[str(size)] = {
            "layout": layout,
            "render_s": round(render_s, 4),
            "validate_s": round(validate_s, 4),
            "total_s": round(total_s, 4),
        }
        print(
            f"{size:>5} {layout:>16} {render_s:>9.4f} {validate_s:>11.4f} {total_s:>8.4f}"
            f" {1000 * total_s / size:>7.2f}"
        )
    worst = rows[str(SIZES[-1])]["total_s"]
    ok = worst < TARGET_S
    print(f"200 environments: {worst:.3f} s ({'within' if ok else 'OVER'} the {TARGET_S} s target)")
    print(
        json.dumps(
            {
                "bench": "generate",
                "runs": RUNS,
                "compile_s": round(compile_s, 4),
                "sizes": rows,
                "target_s": TARGET_S,
                "ok": ok,
            },
            sort_keys=True,
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
