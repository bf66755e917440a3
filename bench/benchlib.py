"""What every benchmark in ``bench/`` shares: sources on sys.path, the machine's noise,
medians, the table and the one JSON line each script prints last.

    from benchlib import Noise, emit, print_table, use_sources

    use_sources("config", "generator")           # packages/<name>/src on sys.path
    noise = Noise()                              # load average and CPU time from here on
    ...
    print_table(["size", "median (s)"], rows)
    emit("generate", {"median_s": 0.12, ...}, noise=noise)   # {"bench": "generate", ...}
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "generator", "stages", "monitoring")


def use_sources(*packages: str) -> None:
    """Put ``packages/<name>/src`` (default: all four) and ``testing/`` first on sys.path."""
    paths = [ROOT / "packages" / name / "src" for name in packages or PACKAGES]
    for path in map(str, reversed([*paths, ROOT / "testing"])):
        if path not in sys.path:
            sys.path.insert(0, path)


def median(values: Iterable[float]) -> float:
    """The median (values must not be empty)."""
    return statistics.median(list(values))


class Noise:
    """The machine's state over a benchmark: load average at start and end, and the CPU
    seconds this process and its children used, so a reader can judge how quiet it was."""

    def __init__(self) -> None:
        self.load_start = os.getloadavg()
        self.started = time.perf_counter()
        self.cpu_start = _cpu_seconds()

    def report(self) -> dict[str, Any]:
        """Cores, load averages (1 min) at start and end, wall and CPU seconds since start."""
        return {
            "cores": os.cpu_count(),
            "load_1m_start": round(self.load_start[0], 2),
            "load_1m_end": round(os.getloadavg()[0], 2),
            "wall_s": round(time.perf_counter() - self.started, 1),
            "cpu_s": round(_cpu_seconds() - self.cpu_start, 1),
            "python": platform.python_version(),
        }


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print rows under headers, columns padded; floats with 3 significant decimals."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def emit(bench: str, result: dict[str, Any], *, noise: Noise | None = None) -> None:
    """Print the benchmark's one JSON line: ``{"bench": name, ...result, "machine": ...}``."""
    line: dict[str, Any] = {"bench": bench, **result}
    if noise is not None:
        line["machine"] = noise.report()
        print(
            f"machine: {line['machine']['cores']} cores, load {line['machine']['load_1m_start']}"
            f" -> {line['machine']['load_1m_end']} (1 min average)"
        )
    print(json.dumps(line, sort_keys=False))
    sys.stdout.flush()


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares ``y = slope * x + intercept``; returns (slope, intercept, r squared)."""
    fit = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    residual = sum((y - (fit.slope * x + fit.intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    r_squared = 1.0 - residual / total if total else 1.0
    return fit.slope, fit.intercept, r_squared
