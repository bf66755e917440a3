"""Benchmark: how much of the whole project each image's pex carries.

Runs ``./pants package images/builder:builder images/deployer:deployer bench:all_in_one``
(from the repository root, ``PANTS_PANTSD=false``) and reads the three pex files it writes.
``bench:all_in_one`` (bench/BUILD) is one pex of all four packages with their dependencies,
built like the images' pexes (resolve ``packages``, venv mode, tools included): what one
image carrying everything would hold. That includes the ``aphex`` CLI's local runner, whose
``moto[server]`` is a runtime requirement of the aphex-stages distribution.

For each pex it reports the file size, the distributions inside (the entries under ``.deps/``)
and the size ratio to the all-in-one; sizes are bytes in the zip (compressed), and
"installed" is the same entries uncompressed, about what the image's venv holds after
``PEX_TOOLS=1 python builder.pex venv`` (images/*/Dockerfile; .pyc files not counted). It also
lists the builder's five largest distributions and which distributions appear only in the
all-in-one. Sizes are deterministic for a given lockfile: nothing here is timed.

Run: ``python3 bench/image_payloads.py [--no-package]`` (``--no-package`` reads the pex
files of an earlier ``pants package``); prints tables and one JSON line
``{"bench": "image_payloads", ...}`` (exit 1 if the target is missed). Target: the builder's
pex <= 40% of the all-in-one's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import ROOT, Noise, emit, print_table

TARGETS = {
    "builder": "images/builder:builder",
    "deployer": "images/deployer:deployer",
    "all_in_one": "bench:all_in_one",
}
DEFAULT_PATHS = {
    "builder": "dist/images.builder/builder.pex",
    "deployer": "dist/images.deployer/deployer.pex",
    "all_in_one": "dist/bench/all_in_one.pex",
}
TARGET_RATIO = 0.40
MB = 1e6


@dataclass
class Pex:
    """One pex file: its size and its distributions (name -> compressed, uncompressed bytes)."""

    path: Path
    size: int
    installed: int
    dists: dict[str, tuple[int, int]] = field(default_factory=dict)


def package() -> dict[str, Path]:
    """Run ``pants package`` for the three targets; return the pex written for each."""
    env = {**os.environ, "PANTS_PANTSD": "false"}
    done = subprocess.run(
        ["./pants", "package", *TARGETS.values()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: pants package failed:\n{done.stderr[-4000:]}")
    written = re.findall(r"Wrote (dist/\S+\.pex)", done.stderr + done.stdout)
    paths: dict[str, Path] = {}
    for name, default in DEFAULT_PATHS.items():
        match = [w for w in written if Path(w).name == Path(default).name]
        paths[name] = ROOT / (match[0] if match else default)
    return paths


def read_pex(path: Path) -> Pex:
    """Size of the file and of each ``.deps/<wheel>/`` tree inside it."""
    dists: dict[str, tuple[int, int]] = {}
    installed = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            installed += info.file_size
            parts = info.filename.split("/")
            if len(parts) < 3 or parts[0] != ".deps" or not parts[1]:
                continue
            packed, unpacked = dists.get(parts[1], (0, 0))
            dists[parts[1]] = (packed + info.compress_size, unpacked + info.file_size)
    return Pex(path, path.stat().st_size, installed, dists)


def project(wheel: str) -> str:
    """The project's name from its wheel's: ``pydantic_core-2.5-....whl`` -> pydantic-core."""
    return wheel.split("-", 1)[0].lower().replace("_", "-")


def release(wheel: str) -> str:
    """``botocore-1.44.8-py3-none-any.whl`` -> ``botocore 1.44.8``."""
    return " ".join(wheel.split("-")[:2])


def main() -> int:
    """Package (unless ``--no-package``), read the pexes, print tables and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--no-package", action="store_true", help="read existing pex files")
    args = parser.parse_args()
    noise = Noise()
    paths = {name: ROOT / p for name, p in DEFAULT_PATHS.items()}
    if not args.no_package:
        paths = package()
    pexes = {name: read_pex(path) for name, path in paths.items()}
    whole = pexes["all_in_one"]

    rows = []
    for name, pex in pexes.items():
        rows.append(
            [
                name,
                pex.size,
                pex.size / MB,
                len(pex.dists),
                pex.size / whole.size,
                pex.installed / MB,
                pex.installed / whole.installed,
            ]
        )
    headers = ["pex", "bytes", "MB", "distributions", "ratio", "installed MB", "installed ratio"]
    print_table(headers, rows)

    builder = pexes["builder"]
    largest = sorted(builder.dists.items(), key=lambda item: -item[1][0])[:5]
    print("\nbuilder: five largest distributions (bytes in the pex, installed)")
    print_table(
        ["distribution", "MB in pex", "share of pex", "installed MB"],
        [
            [release(wheel), packed / MB, packed / builder.size, unpacked / MB]
            for wheel, (packed, unpacked) in largest
        ],
    )

    names = {name: {project(w) for w in pex.dists} for name, pex in pexes.items()}
    only_whole = sorted(names["all_in_one"] - names["builder"] - names["deployer"])
    only_whole_bytes = sum(
        packed for wheel, (packed, _) in whole.dists.items() if project(wheel) in only_whole
    )
    builder_not_deployer = sorted(names["builder"] - names["deployer"])
    print(
        f"\nin the all-in-one only, in neither image ({len(only_whole)} distributions,"
        f" {only_whole_bytes / MB:.1f} MB in the pex): " + ", ".join(only_whole)
    )
    print(
        "builder distributions the deployer lacks: "
        + (", ".join(builder_not_deployer) if builder_not_deployer else "none")
    )

    ratio = builder.size / whole.size
    ok = ratio <= TARGET_RATIO
    print(
        f"\nbuilder / all-in-one = {ratio:.3f} ({'within' if ok else 'OVER'} the target"
        f" <= {TARGET_RATIO}); builder / deployer = {builder.size / pexes['deployer'].size:.3f}"
    )
    emit(
        "image_payloads",
        {
            "pex": {
                name: {
                    "path": str(pex.path.relative_to(ROOT)),
                    "bytes": pex.size,
                    "mb": round(pex.size / MB, 2),
                    "distributions": len(pex.dists),
                    "ratio": round(pex.size / whole.size, 3),
                    "installed_mb": round(pex.installed / MB, 2),
                    "installed_ratio": round(pex.installed / whole.installed, 3),
                }
                for name, pex in pexes.items()
            },
            "builder_largest": [
                {"wheel": wheel, "bytes": packed, "installed_bytes": unpacked}
                for wheel, (packed, unpacked) in largest
            ],
            "only_in_all_in_one": only_whole,
            "only_in_all_in_one_mb": round(only_whole_bytes / MB, 2),
            "builder_not_in_deployer": builder_not_deployer,
            "builder_to_deployer": round(builder.size / pexes["deployer"].size, 3),
            "ratio": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "within_target": ok,
        },
        noise=noise,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
