"""Benchmark: load and validate a 200-environment aphex-config.yaml.

Run directly (``python3 bench/config_load.py [--runs N]``); prints a small table and one
JSON line ``{"bench": "config_load", ...}``. Target: median under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

_SRC = Path(__file__).resolve().parents[1] / "packages" / "config" / "src"
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from aphex_config import load_config  # noqa: E402
from aphex_config.loader import HAVE_LIBYAML  # noqa: E402

ENVIRONMENTS = 200
TARGET_MS = 100.0
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")


def generate(environments: int = ENVIRONMENTS) -> str:
    """Return the text of a valid config with ``environments`` environments in 4-wide waves."""
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


def main() -> int:
    """Time ``load_config`` on the generated file; print a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21, help="timed runs (default 21)")
    args = parser.parse_args()
    text = generate()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "aphex-config.yaml"
        path.write_text(text, encoding="utf-8")
        config = load_config(path)  # warm-up, and a check that the file is valid
        assert len(config.environments) == ENVIRONMENTS
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            load_config(path)
            times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    waves = len(config.waves())
    print(f"{'metric':<22}{'value':>12}")
    print(f"{'environments':<22}{ENVIRONMENTS:>12}")
    print(f"{'waves':<22}{waves:>12}")
    print(f"{'file size (bytes)':<22}{len(text.encode()):>12}")
    print(f"{'libyaml parser':<22}{HAVE_LIBYAML!s:>12}")
    print(f"{'runs':<22}{args.runs:>12}")
    print(f"{'min (ms)':<22}{min(times):>12.1f}")
    print(f"{'median (ms)':<22}{median:>12.1f}")
    print(f"{'max (ms)':<22}{max(times):>12.1f}")
    print(f"{'target (ms)':<22}{TARGET_MS:>12.1f}")
    result = {
        "bench": "config_load",
        "environments": ENVIRONMENTS,
        "bytes": len(text.encode()),
        "runs": args.runs,
        "median_ms": round(median, 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "target_ms": TARGET_MS,
        "within_target": median < TARGET_MS,
        "libyaml": HAVE_LIBYAML,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
