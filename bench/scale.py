"""Benchmark: how config loading and template generation grow with the number of environments.

Two parts, each at 10, 50, 100, 200, 500 and 1,000 environments (``--sizes``):

* ``config``: ``aphex_config.load_config`` of a generated aphex-config.yaml (3 stacks, tests
  and a context per environment, waves of four, every fourth environment gated);
* ``generator``: ``aphex_generator.render_workflow_template`` + ``aphex_generator.validation``
  of a generated config (waves of ten, half the environments tested, one in 25 gated).
  The validators are compiled once per process before anything is timed (``compile_s``,
  reported apart) and the CEL memo is cleared before every run, so no run reuses another's
  results.

Each (part, size) runs in a fresh Python process (``--worker``) that imports the packages,
warms up twice on 10 environments and then measures, in this order (every run preceded by
an untimed ``gc.collect()``):

1. RSS peak (and the garbage collector's full passes in that run, counted and timed with
   ``gc.callbacks``): free heap memory is handed back (glibc ``malloc_trim``) and the RSS high-water
   mark reset (``/proc/self/clear_refs``); after one run, ``getrusage(RUSAGE_SELF).ru_maxrss``
   minus the RSS before it is the resident memory the run added. It counts everything
   (libyaml, pydantic-core, the result kept alive) but only what did not fit in memory the
   process already held, so it can read 0 for small runs;
2. time: ``--runs`` timed runs (median, min, max); alternating with them, as many runs with
   the garbage collector disabled (``GC off``), to tell the code's own cost from the cyclic
   collector's, whose full passes start at thresholds and so add cost in steps;
3. heap peak: the ``tracemalloc`` peak of one more, untimed run: Python allocations only
   (not libyaml's or pydantic-core's own), deterministic; tracing slows the run, hence apart.

Linear growth: per series, a least-squares fit ``y = slope * n + intercept`` and the cost
per environment ``y / n`` at each size. A fit is linear when R^2 >= 0.98 and the cost per
environment at its largest size is at most twice that at 50 environments (at its smallest
size if 50 is not in it). The config is fitted over all sizes; the generator per layout
(see below), its fit over all sizes being printed but not judged, since its cost per
environment changes with the layout. A part is ``linear`` when its time and its heap peak
are; RSS and GC-off time are fitted and printed but not judged (RSS moves in pages and
reuses memory freed earlier). With two sizes in a layout R^2 is 1 by construction.

Limits met on the way. The config format allows 1..200 environments
(packages/config/README.md), so above 200 the worker lifts that limit in its own process
(the ``Items`` bound of ``AphexConfig.environments``, and the 200-node cap on the semantic
cycle check, so the work per environment stays the same); those sizes are reported as
beyond the contract. The generator writes one template per environment while that fits the
CRD's 200 templates and 200 DAG tasks (up to about 130 environments for this mix) and its
compact layout (shared templates taking the environment as a parameter) beyond, so the cost
per environment drops between 100 and 200. Above 200 environments even the compact DAG has
more than 200 tasks: ``validate`` reports it (``problems``), Argo would refuse the template.

Run: ``python3 bench/scale.py [--sizes 10,50,200,1000] [--runs N]``; prints a table per part
and one JSON line ``{"bench": "scale", ...}`` (exit 1 if a target is missed). Targets, as in
the former bench/config_load.py and bench/generate.py: at 200 environments, ``load_config``
median < 100 ms and render + validate median < 0.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchlib import Noise, emit, linear_fit, median, print_table, use_sources

use_sources("config", "generator")

import yaml  # type: ignore[import-untyped, unused-ignore]  # noqa: E402

from aphex_config import AphexConfig, load_config, parse_config  # noqa: E402

SIZES = (10, 50, 100, 200, 500, 1000)
RUNS = 7
WARM_UP_SIZE = 10
CONTRACT_LIMIT = 200  # environments: 1..200 (packages/config/README.md)
CONFIG_TARGET_S = 0.100  # load_config, 200 environments, median
GENERATOR_TARGET_S = 0.5  # render + validate, 200 environments, median
TARGET_SIZE = 200
R2_MIN = 0.98
PER_ENV_GROWTH_MAX = 2.0  # cost per environment at the largest size / at 50
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")


# -- inputs ----------------------------------------------------------------------------------
def config_text(environments: int) -> str:
    """A valid config of ``environments`` environments in 4-wide waves (as a YAML file)."""
    lines = [
        "version: 1",
        "pipeline:",
        "  name: bench-service",
        "  repository: https://github.com/acme/bench-service.git",
        "  notifications: {sns_topic_arn: 'arn:aws:sns:us-east-1:123456789012:deploys'}",
        "build:",
        "  commands:",
        "    - pip install -r requirements.txt",
        "    - [npm, ci]",
        "  artifacts: [dist/**, cdk.json]",
        "environments:",
    ]
    for i in range(environments):
        account = f"{100000000000 + i:012d}"
        first = (i // 4 - 1) * 4  # the previous wave: envs first..first+3
        deps = f"[env-{first}, env-{first + 3}]" if i >= 4 else "[]"
        lines += [
            f"  - name: env-{i}",
            f'    account: "{account}"',
            f"    region: {REGIONS[i % len(REGIONS)]}",
            f"    role_arn: arn:aws:iam::{account}:role/aphex-deploy",
            "    stacks:",
            "      - name: NetworkStack",
            "      - name: DataStack",
            "      - name: ApiStack",
            f"    context: {{stage: env-{i}, replicas: {i % 5 + 1}, debug: false}}",
            "    tests:",
            "      commands: [pytest tests/smoke, [make, e2e]]",
            "      timeout_minutes: 15",
            f"    depends_on: {deps}",
            f"    approval: {'manual' if i % 4 == 0 else 'none'}",
        ]
    return "\n".join(lines) + "\n"


def generator_config(count: int) -> AphexConfig:
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


def lift_environment_limit(size: int) -> None:
    """In this process only: accept ``size`` environments (the format allows 200) and keep
    the cycle check, which the semantic rules skip above 200 nodes, so the work per
    environment stays the same as within the contract."""
    from aphex_config import semantic
    from aphex_config.fields import Items

    for item in AphexConfig.model_fields["environments"].metadata:
        if isinstance(item, Items):
            object.__setattr__(item, "high", max(item.high, size))
    semantic._MAX_GRAPH = max(semantic._MAX_GRAPH, size)


# -- the worker: one process per (part, size) ------------------------------------------------
#: What one run returns: sub-timings in seconds (may be empty) and facts about the result.
Run = Callable[[], tuple[dict[str, float], dict[str, Any]]]


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _reset_peak_rss() -> bool:
    """Give free heap pages back to the system (glibc), so that a run can hide less of its
    memory in what an earlier phase freed; then reset this process's RSS high-water mark to
    its current RSS (Linux >= 4.0). False if the mark could not be reset."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _FullCollections:
    """A ``gc.callbacks`` entry counting the collector's full (generation 2) passes."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


def _measure(run: Run, prepare: Callable[[], None], runs: int) -> dict[str, Any]:
    """RSS peak of one run; ``runs`` timed runs with the garbage collector on and, alternating
    with them, ``runs`` with it off; then the tracemalloc peak of one more run. Every run
    starts after ``prepare()`` and an untimed ``gc.collect()``."""
    prepare()
    gc.collect()
    reset = _reset_peak_rss()
    before = _maxrss_kib()
    full = _FullCollections()
    gc.callbacks.append(full)
    try:
        _, facts = run()
    finally:
        gc.callbacks.remove(full)
    rss_peak_kib = _maxrss_kib() - before
    times: list[float] = []
    times_gc_off: list[float] = []
    parts: dict[str, list[float]] = {}
    for _ in range(runs):
        for collector in (True, False):
            prepare()
            gc.collect()
            if not collector:
                gc.disable()
            try:
                start = time.perf_counter()
                split, _ = run()
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            if collector:
                times.append(elapsed)
                for name, value in split.items():
                    parts.setdefault(name, []).append(value)
            else:
                times_gc_off.append(elapsed)
    prepare()
    gc.collect()
    tracemalloc.start()
    run()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "median_s": median(times),
        "min_s": min(times),
        "max_s": max(times),
        "median_gc_off_s": median(times_gc_off),
        **{f"{name}_s": median(values) for name, values in parts.items()},
        "full_gcs": full.count,
        "full_gc_s": full.seconds,
        "rss_peak_kib": rss_peak_kib,
        "rss_baseline_kib": before,
        "peak_reset": reset,
        "traced_peak_kib": traced_peak // 1024,
        **facts,
    }


def config_worker(size: int, runs: int) -> dict[str, Any]:
    """Time and measure ``load_config`` of a ``size``-environment file."""
    if size > CONTRACT_LIMIT:
        lift_environment_limit(size)
    with tempfile.TemporaryDirectory(prefix="aphex-bench-scale-") as tmp:
        small, path = Path(tmp) / "small.yaml", Path(tmp) / "aphex-config.yaml"
        small.write_text(config_text(WARM_UP_SIZE), encoding="utf-8")
        text = config_text(size)
        path.write_text(text, encoding="utf-8")
        for _ in range(2):
            load_config(small)

        def run() -> tuple[dict[str, float], dict[str, Any]]:
            config = load_config(path)
            return {}, {"environments": len(config.environments), "waves": len(config.waves())}

        figures = _measure(run, lambda: None, runs)
    if figures["environments"] != size:
        raise SystemExit(f"bench: loaded {figures['environments']} environments, not {size}")
    figures["bytes"] = len(text.encode())
    return figures


def generator_worker(size: int, runs: int) -> dict[str, Any]:
    """Time and measure render + validate of a ``size``-environment pipeline."""
    from aphex_generator import GeneratorSettings, render_workflow_template, validate, warm_up
    from aphex_generator.validation.cel import clear_memo  # a private hook: no cache between runs

    if size > CONTRACT_LIMIT:
        lift_environment_limit(size)
    settings = GeneratorSettings()
    start = time.perf_counter()
    warm_up()
    compile_s = time.perf_counter() - start
    small = generator_config(WARM_UP_SIZE)
    for _ in range(2):
        clear_memo()
        validate(render_workflow_template(small, settings))
    config = generator_config(size)

    def run() -> tuple[dict[str, float], dict[str, Any]]:
        start = time.perf_counter()
        doc = render_workflow_template(config, settings)
        middle = time.perf_counter()
        problems = validate(doc)
        end = time.perf_counter()
        facts = {
            "layout": doc["metadata"]["annotations"]["aphex.io/layout"],
            "templates": len(doc["spec"]["templates"]),
            "problems": [f"{p.path}: {p.message[:100]}..." for p in problems],
        }
        return {"render": middle - start, "validate": end - middle}, facts

    figures = _measure(run, clear_memo, runs)
    if figures["problems"] and size <= CONTRACT_LIMIT:
        raise SystemExit(f"bench: rendered template is invalid: {figures['problems'][0]}")
    figures["compile_s"] = compile_s
    return figures


# -- the driver ------------------------------------------------------------------------------
def run_worker(part: str, size: int, runs: int) -> dict[str, Any]:
    """One fresh process measuring ``part`` at ``size``; returns its JSON figures."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", part, "--size", str(size), "--runs", str(runs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: {part} worker at {size} failed:\n{done.stderr}{done.stdout}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def fit(sizes: Sequence[int], values: Sequence[float]) -> dict[str, Any]:
    """Least-squares fit of ``values`` over ``sizes`` and the growth of the cost per
    environment from 50 (or the smallest size, if 50 is not among them) to the largest."""
    slope, intercept, r2 = linear_fit([float(s) for s in sizes], values)
    per_env = [v / s for v, s in zip(values, sizes, strict=True)]
    reference = per_env[sizes.index(50)] if 50 in sizes else per_env[0]
    growth = per_env[-1] / reference if reference else 0.0
    return {
        "sizes": list(sizes),
        "slope": float(f"{slope:.4g}"),
        "intercept": float(f"{intercept:.4g}"),
        "r2": round(r2, 4),
        "per_env": [float(f"{v:.4g}") for v in per_env],
        "per_env_growth": round(growth, 2),
        "linear": r2 >= R2_MIN and growth <= PER_ENV_GROWTH_MAX,
    }


def _round(values: Sequence[float], digits: int) -> list[float]:
    return [round(v, digits) for v in values]


#: The series whose fits decide ``linear``; the others are printed and kept in the JSON.
JUDGED = ("time_s", "heap_mb")


def segments(part: str, sizes: list[int], rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Indices of the sizes that share one code path: all of them for the config, one group
    per layout for the generator (its cost per environment changes with the layout)."""
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(row["layout"] if part == "generator" else "all sizes", []).append(index)
    return groups


def report(part: str, sizes: list[int], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Print one part's table and fits; return its JSON entry."""
    series = {
        "time_s": [row["median_s"] for row in rows],
        "heap_mb": [row["traced_peak_kib"] / 1024 for row in rows],
        "rss_mb": [row["rss_peak_kib"] / 1024 for row in rows],
        "time_gc_off_s": [row["median_gc_off_s"] for row in rows],
    }
    title = "load_config" if part == "config" else "render_workflow_template + validate"
    print(f"\n{part}: {title}")
    headers = ["envs", "median s", "min s", "max s", "ms/env", "GC off s", "full GCs"]
    headers += ["heap MB", "RSS MB", "KB/env (heap)"]
    if part == "generator":
        headers += ["render s", "validate s", "layout", "problems"]
    table: list[list[Any]] = []
    for size, row in zip(sizes, rows, strict=True):
        line: list[Any] = [size, row["median_s"], row["min_s"], row["max_s"]]
        line += [1000 * row["median_s"] / size, row["median_gc_off_s"]]
        line.append(f"{row['full_gcs']} ({row['full_gc_s']:.3f} s)")
        line += [row["traced_peak_kib"] / 1024, row["rss_peak_kib"] / 1024]
        line.append(row["traced_peak_kib"] / size)
        if part == "generator":
            line += [row["render_s"], row["validate_s"], row["layout"], len(row["problems"])]
        table.append(line)
    print_table(headers, table)
    beyond = [size for size in sizes if size > CONTRACT_LIMIT]
    if beyond:
        print(f"  beyond the format's 200-environment limit (lifted in the worker): {beyond}")

    groups = segments(part, sizes, rows)
    fits: dict[str, dict[str, Any]] = {}
    fit_rows: list[list[Any]] = []
    for name, values in series.items():
        fits[name] = {"all": fit(sizes, values)}
        for group, indices in groups.items():
            if len(groups) > 1 and len(indices) >= 2:
                picked = [sizes[i] for i in indices]
                fits[name][group] = fit(picked, [values[i] for i in indices])
        for group, result in fits[name].items():
            judged = name in JUDGED and (group != "all" or len(groups) == 1)
            verdict = ("linear" if result["linear"] else "NOT linear") if judged else "-"
            fitted = ",".join(map(str, result["sizes"]))
            slope, intercept = f"{result['slope']:.4g}", f"{result['intercept']:.4g}"
            growth = result["per_env_growth"]
            fit_rows.append([name, group, fitted, slope, intercept, result["r2"], growth, verdict])
    headers = ["series", "fitted over", "sizes", "slope/env", "intercept", "R^2"]
    print_table([*headers, "per-env growth", "judged"], fit_rows)
    judged_fits = [
        result
        for name in JUDGED
        for group, result in fits[name].items()
        if group != "all" or len(groups) == 1
    ]
    entry: dict[str, Any] = {
        "median_s": _round(series["time_s"], 5),
        "min_s": _round([row["min_s"] for row in rows], 5),
        "max_s": _round([row["max_s"] for row in rows], 5),
        "median_gc_off_s": _round(series["time_gc_off_s"], 5),
        "full_gcs": [row["full_gcs"] for row in rows],
        "full_gc_s": _round([row["full_gc_s"] for row in rows], 4),
        "heap_peak_mb": _round(series["heap_mb"], 3),
        "rss_peak_mb": _round(series["rss_mb"], 3),
        "rss_baseline_mb": _round([row["rss_baseline_kib"] / 1024 for row in rows], 1),
        "rss_peak_reset": all(row["peak_reset"] for row in rows),
        "fit": fits,
        "linear": all(result["linear"] for result in judged_fits),
    }
    if part == "config":
        entry["bytes"] = [row["bytes"] for row in rows]
        entry["waves"] = [row["waves"] for row in rows]
        return entry
    entry["compile_s"] = round(median(row["compile_s"] for row in rows), 4)
    entry["render_s"] = _round([row["render_s"] for row in rows], 5)
    entry["validate_s"] = _round([row["validate_s"] for row in rows], 5)
    entry["layout"] = [row["layout"] for row in rows]
    entry["templates"] = [row["templates"] for row in rows]
    entry["problems"] = [len(row["problems"]) for row in rows]
    first = next((row["problems"][0] for row in rows if row["problems"]), None)
    entry["first_problem"] = first
    print(f"  validators compiled once per process, {entry['compile_s']:.3f} s (median), not above")
    print(
        "  layout: one template per environment while that fits the CRD (200 templates, 200"
        " DAG tasks; ~130 envs here), compact (shared templates) beyond; judged per layout"
    )
    if first:
        print(f"  validate above 200 envs: {first}")
    return entry


def main() -> int:
    """Run the workers for every (part, size), print the tables and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs (default {RUNS})")
    parser.add_argument("--worker", choices=("config", "generator"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker = config_worker if args.worker == "config" else generator_worker
        print(json.dumps(worker(args.size, args.runs)))
        return 0

    sizes = sorted({int(s) for s in args.sizes.split(",")})
    noise = Noise()
    parts: dict[str, list[dict[str, Any]]] = {"config": [], "generator": []}
    for part, rows in parts.items():
        for size in sizes:
            rows.append(run_worker(part, size, args.runs))

    result: dict[str, Any] = {"runs": args.runs, "sizes": sizes}
    result["rule"] = {
        "r2_min": R2_MIN,
        "per_env_growth_max": PER_ENV_GROWTH_MAX,
        "judged": list(JUDGED),
    }
    for part, rows in parts.items():
        result[part] = report(part, sizes, rows)

    targets: dict[str, dict[str, Any]] = {}
    if TARGET_SIZE in sizes:
        at = sizes.index(TARGET_SIZE)
        for part, limit in (("config", CONFIG_TARGET_S), ("generator", GENERATOR_TARGET_S)):
            value = parts[part][at]["median_s"]
            targets[part] = {"median_s": round(value, 4), "target_s": limit, "ok": value < limit}
        print()
        print_table(
            ["target (200 envs)", "median s", "limit s", "met"],
            [
                [name, targets[part]["median_s"], targets[part]["target_s"], targets[part]["ok"]]
                for name, part in (("load_config", "config"), ("render + validate", "generator"))
            ],
        )
    result["targets"] = targets
    result["beyond_contract_sizes"] = [s for s in sizes if s > CONTRACT_LIMIT]
    result["linear"] = all(result[part]["linear"] for part in parts)
    result["targets_met"] = all(t["ok"] for t in targets.values())
    emit("scale", result, noise=noise)
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
