"""Benchmark: the build stage's one-commit checkout against a full ``git clone``.

Generates (with ``git fast-import``) a bare repository of 5,000 commits and about 50 MB of
history: each commit rewrites one of 200 files with 10 KB of incompressible data, so the
tree at any commit is about 2 MB. Then times, over ``file://`` both:

* ``aphex_stages.gitrepo.clone_commit`` (init, depth-1 fetch of the SHA, detached checkout)
  of the tip and of a commit in the middle of the history;
* ``git clone`` of the whole repository plus a checkout of the same commit.

The three are timed in turns (one untimed warm-up round, then ``--runs`` rounds), so page
cache and machine load treat them alike; each run's wall and CPU seconds (this process and
its children) are kept. ``ratio`` is the slower checkout's fastest run over the full clone's
fastest run (the runs least disturbed by other load, as timeit advises); the ratios of the
medians and of the CPU medians are printed beside it, with the machine's load average.

Run directly (``python3 bench/clone.py [--runs N] [--commits N]``); prints a table and one
JSON line ``{"bench": "clone", ...}``. Target: checkout / full clone <= 0.2 (``ratio``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import Noise, emit, median, print_table, use_sources

use_sources("stages", "config", "monitoring")

from aphex_stages.gitrepo import GitCredentials, clone_commit  # noqa: E402

COMMITS = 5000
FILES = 200
BLOB_BYTES = 10_000
TARGET_RATIO = 0.2
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def generate(bare: Path, commits: int = COMMITS) -> list[str]:
    """Fill a new bare repository with ``commits`` commits; return their SHAs, oldest first."""
    _git("init", "-q", "--bare", "-b", "main", str(bare))
    process = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--export-marks=" + str(bare / "marks")],
        cwd=bare,
        stdin=subprocess.PIPE,
        env={**os.environ, **_GIT_ENV},
    )
    assert process.stdin is not None
    write = process.stdin.write
    for number in range(1, commits + 1):
        blob = os.urandom(BLOB_BYTES)
        message = f"commit {number}\n".encode()
        write(b"blob\nmark :%d\ndata %d\n" % (2 * number - 1, len(blob)) + blob + b"\n")
        write(b"commit refs/heads/main\nmark :%d\n" % (2 * number))
        write(b"committer Bench <bench@aphex.invalid> %d +0000\n" % (1_700_000_000 + number))
        write(b"data %d\n" % len(message) + message)
        if number > 1:
            write(b"from :%d\n" % (2 * number - 2))
        write(b"M 100644 :%d data/f%03d.bin\n\n" % (2 * number - 1, number % FILES))
    process.stdin.close()
    if process.wait() != 0:
        raise SystemExit("git fast-import failed")
    marks = dict(line.split() for line in (bare / "marks").read_text().splitlines() if line.strip())
    (bare / "marks").unlink()
    _git("gc", "-q", "--aggressive" if commits < 1000 else "--quiet", cwd=bare)
    return [marks[f":{2 * n}"] for n in range(1, commits + 1)]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Timing:
    """Wall-clock and CPU seconds (this process and its children) of each run."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    git_bytes: int = 0


def _timed_interleaved(
    runs: int, actions: dict[str, Callable[[Path], None]], scratch: Path
) -> dict[str, Timing]:
    """Time each action ``runs`` times, interleaved after one untimed warm-up round, so that
    page cache and machine load treat them alike."""
    results = {name: Timing() for name in actions}
    for run in range(runs + 1):
        for name, action in actions.items():
            dest = scratch / f"{name}-{run}"
            cpu, start = _cpu(), time.perf_counter()
            action(dest)
            wall, cpu = time.perf_counter() - start, _cpu() - cpu
            timing = results[name]
            if run > 0:
                timing.wall.append(wall)
                timing.cpu.append(cpu)
            timing.git_bytes = _size(dest / ".git")
            shutil.rmtree(dest)
    return results


def main() -> int:
    """Generate the repository, time both ways of getting one commit, print the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--commits", type=int, default=COMMITS)
    args = parser.parse_args()
    noise = Noise()
    with tempfile.TemporaryDirectory(prefix="aphex-bench-clone-") as tmp:
        root = Path(tmp)
        bare = root / "history.git"
        started = time.perf_counter()
        shas = generate(bare, args.commits)
        generated = time.perf_counter() - started
        url = bare.as_uri()
        tip, middle = shas[-1], shas[len(shas) // 2]
        history = _size(bare)
        credentials = GitCredentials()

        def checkout(sha: str) -> Callable[[Path], None]:
            def run(dest: Path) -> None:
                clone_commit(url, sha, dest, credentials=credentials)

            return run

        def full_clone(dest: Path) -> None:
            _git("clone", "-q", url, str(dest))
            _git("checkout", "-q", "--detach", tip, cwd=dest)

        results = _timed_interleaved(
            args.runs, {"full": full_clone, "tip": checkout(tip), "mid": checkout(middle)}, root
        )
    full, tip_run, mid_run = results["full"], results["tip"], results["mid"]
    ratio = max(min(tip_run.wall), min(mid_run.wall)) / min(full.wall)
    median_ratio = max(median(tip_run.wall), median(mid_run.wall)) / median(full.wall)
    cpu_ratio = max(median(tip_run.cpu), median(mid_run.cpu)) / median(full.cpu)
    print(f"repository: {args.commits} commits, {history / 1e6:.1f} MB (made in {generated:.1f} s)")
    print_table(
        ["method", "median s", "min s", "cpu s (median)", ".git MB"],
        [
            [name, median(t.wall), min(t.wall), median(t.cpu), t.git_bytes / 1e6]
            for name, t in (
                ("git clone (full) + checkout", full),
                ("aphex checkout of the tip", tip_run),
                ("aphex checkout, mid-history", mid_run),
            )
        ],
    )
    print()
    print_table(
        ["checkout / full clone", "ratio", "target"],
        [
            ["fastest runs (judged)", ratio, f"<= {TARGET_RATIO}"],
            ["medians", median_ratio, ""],
            ["cpu medians", cpu_ratio, ""],
        ],
    )
    within = ratio <= TARGET_RATIO
    result = {
        "commits": args.commits,
        "history_mb": round(history / 1e6, 1),
        "runs": args.runs,
        "full_clone_s": round(median(full.wall), 3),
        "checkout_tip_s": round(median(tip_run.wall), 3),
        "checkout_mid_s": round(median(mid_run.wall), 3),
        "full_clone_min_s": round(min(full.wall), 3),
        "checkout_min_s": round(max(min(tip_run.wall), min(mid_run.wall)), 3),
        "full_clone_cpu_s": round(median(full.cpu), 3),
        "checkout_cpu_s": round(max(median(tip_run.cpu), median(mid_run.cpu)), 3),
        "full_clone_git_mb": round(full.git_bytes / 1e6, 1),
        "checkout_git_mb": round(max(tip_run.git_bytes, mid_run.git_bytes) / 1e6, 1),
        "ratio": round(ratio, 3),
        "median_ratio": round(median_ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "target_ratio": TARGET_RATIO,
        "within_target": within,
    }
    emit("clone", result, noise=noise)
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
