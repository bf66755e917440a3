#!/usr/bin/env python3
"""Benchmark: the builder and deployer images, their sizes and how long they take to build.

* sizes: each image as the engine stores it, against one image of everything. The
  deployer's closure holds all of the builder's but the builder's own two stage modules
  (images/closures.txt, listed in the output), so the deployer stands for everything and
  the builder's share is what a build pod pulls instead;
* build time: `build-support/images.sh` warm (nothing changed: the second of two runs)
  and, with `--cold`, after removing both images and their local bases (the Pants and
  npm caches stay: a machine's first build also fills those).

Run: `python3 bench/images.py [--cold]`; a table, then one JSON line. Needs what
images.sh installs (podman on these machines).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchlib import ROOT, Noise, emit, print_table, use_sources

use_sources()

from aphex_generator import ImageKind  # noqa: E402
from aphex_stages.local.session import default_image  # noqa: E402

TARGET_BUILDER_SHARE = 0.5
IMAGES = {kind.value: default_image(kind) for kind in ImageKind}
BASE_REPOSITORIES = ("localhost/aphex-base-python", "localhost/aphex-base-node")


def _engine() -> str:
    for name in ("podman", "docker"):
        if shutil.which(name):
            return name
    raise SystemExit("bench: no podman or docker; run build-support/images.sh once")


def _environ() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / "build-support" / "containers.conf"))
    return env


def _engine_run(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [_engine(), *args]
    return subprocess.run(argv, env=_environ(), capture_output=True, text=True, check=False)


def build_seconds(log: Path) -> float:
    """Wall time of `build-support/images.sh` (its output into `log`); fail loudly."""
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(
            ["bash", str(ROOT / "build-support" / "images.sh")],
            cwd=ROOT,
            env=_environ(),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"bench: images.sh failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - started


def image_bytes(image: str) -> int:
    done = _engine_run("image", "inspect", "--format", "{{.Size}}", image)
    if done.returncode != 0:
        raise SystemExit(f"bench: {image} is not built")
    return int(done.stdout.strip())


def remove_images() -> None:
    """Both images and the local bases they were built from."""
    names = list(IMAGES.values())
    listing = _engine_run("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    names += [ref for ref in listing if ref.startswith(BASE_REPOSITORIES)]
    _engine_run("rmi", "--force", *names)
    _engine_run("image", "prune", "--force")


def builder_only_modules() -> list[str]:
    """What the builder's pex closure has and the deployer's lacks (images/closures.txt)."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in (ROOT / "images" / "closures.txt").read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], set())
        elif current is not None and line and not line.startswith("#"):
            current.add(line)
    return sorted(sections.get("builder", set()) - sections.get("deployer", set()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="also time a build from no images")
    args = parser.parse_args()
    logs = ROOT / "dist" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    noise = Noise()
    timings: dict[str, float] = {}
    if args.cold:
        remove_images()
        print("cold build (no images, no local bases) ...", flush=True)
        timings["cold_s"] = build_seconds(logs / "images-cold.log")
    else:
        build_seconds(logs / "images-prepare.log")
    print("warm build (nothing changed) ...", flush=True)
    timings["warm_s"] = build_seconds(logs / "images-warm.log")
    sizes = {kind: image_bytes(image) for kind, image in IMAGES.items()}
    only_builder = builder_only_modules()
    everything = sizes["deployer"]  # plus the builder's stage modules: a few kilobytes
    share = sizes["builder"] / everything
    print_table(
        ["image", "MB", "share of one image of everything"],
        [(kind, size / 1e6, size / everything) for kind, size in sizes.items()],
    )
    print_table(["build", "seconds"], list(timings.items()))
    print("only in the builder:", ", ".join(only_builder) or "nothing")
    ok = share <= TARGET_BUILDER_SHARE
    emit(
        "images",
        {
            "sizes_mb": {kind: round(size / 1e6, 1) for kind, size in sizes.items()},
            "everything_mb": round(everything / 1e6, 1),
            "builder_share": round(share, 3),
            "builder_only_modules": only_builder,
            "target_builder_share": TARGET_BUILDER_SHARE,
            **{name: round(value, 1) for name, value in timings.items()},
            "ok": ok,
        },
        noise=noise,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
