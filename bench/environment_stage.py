#!/usr/bin/env python3
"""Benchmark: the environment stage against the same stacks deployed by hand with the CDK CLI.

One moto server and the sample app's two stacks. Each run uses fresh accounts (all
bootstrapped up front), so that every deploy creates its stacks. Per run, in rotating order:

* stage: ``aphex-stage-environment`` as its own process (the console script's ``main``) on
  an artifact of the sample tree: download and verify, load the config, assume the role,
  one synth, deploy both stacks in order from that assembly, upload ``outputs.json``;
* by hand: ``cdk synth`` of a copy of the sample, then one ``cdk deploy --app <assembly>``
  of both stacks (the baseline of the target);
* by hand, per stack: the same synth, then one ``cdk deploy --app <assembly> --exclusively``
  per stack in order (how the stage deployed before it ran one CLI for all stacks).

Same context, credentials and deploy flags everywhere. Reports the medians, the ratio
stage / by hand (target <= 1.15) and the synths the stage ran per environment (target 1).
Run directly: ``python3 bench/environment_stage.py [--runs N]``; prints a table and one
JSON line ``{"bench": "environment_stage", ...}``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml  # type: ignore[import-untyped, unused-ignore]
from benchlib import PACKAGES, ROOT, Noise, emit, print_table, use_sources

use_sources()

from aphex_stages.artifact import package_artifact, s3_client, upload_artifact  # noqa: E402
from aphex_stages.cdk import CDK_ENV, DEPLOY_FLAGS, AwsTarget, find_cdk_cli  # noqa: E402
from aphex_stages.cdk.aws import apply_environ  # noqa: E402
from aphex_stages.local.bootstrap import bootstrap_local  # noqa: E402
from aphex_stages.local.moto import MotoServer, start_moto_server  # noqa: E402
from aphex_stages.local.runtime import default_volume_root  # noqa: E402
from aphex_stages.local.session import TOOLCHAIN_CLAIM  # noqa: E402
from aphex_testing.sample_env import sample_app_dir, setup_sample_env, venv_path_env  # noqa: E402

PIPELINE = "aphex-bench"
BUCKET = "aphex-bench-artifacts"
COMMIT = "be0c0ffee0000000000000000000000000000001"
REGION = "us-east-1"
STACKS = ("StorageStack", "MessagingStack")
WAYS = ("stage", "by_hand", "by_hand_per_stack")
TARGET_RATIO = 1.15
# The stage's process: the console script's main, then the synths it ran, as JSON on stdout.
_STAGE = (
    "import json, sys\n"
    f"sys.path[:0] = {[str(ROOT / 'packages' / name / 'src') for name in PACKAGES]!r}\n"
    "from aphex_stages.stages.environment import main\n"
    "from aphex_stages.cdk import synth_counts\n"
    "code = main(sys.argv[1:])\n"
    "print(json.dumps(synth_counts()))\n"
    "sys.exit(code)\n"
)


def account(run: int, way: str) -> str:
    """The fresh account of ``way`` in run ``run``."""
    return f"{(WAYS.index(way) + 1) * 100000000000 + 10 + run:012d}"


def environment_name(run: int) -> str:
    return f"bench-{run}"


def sample_tree(dest: Path, runs: int) -> Path:
    """A copy of the sample app whose config has one environment per run (the stage's)."""
    shutil.copytree(
        sample_app_dir(ROOT),
        dest,
        ignore=shutil.ignore_patterns("cdk.out*", "__pycache__", ".pytest_cache"),
    )
    config = yaml.safe_load((dest / "aphex-config.yaml").read_text())
    config["environments"] = [
        {
            "name": environment_name(run),
            "account": account(run, "stage"),
            "region": REGION,
            "stacks": [{"name": name} for name in STACKS],
            "context": {"stage": "bench"},
            "depends_on": [],
        }
        for run in range(runs)
    ]
    (dest / "aphex-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def base_environ(server: MotoServer, venv: Path, work: Path) -> dict[str, str]:
    """What a stage pod gets, pointed at the moto server; the sample venv first on PATH."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environ.update(
        {
            "AWS_ENDPOINT_URL": server.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "APHEX_ARTIFACT_BUCKET": BUCKET,
            "APHEX_WORK_DIR": str(work),
            "APHEX_LOCAL_AWS_LOG": str(server.log_path),
            # The toolchain cache local runs use: installed once (the first run's stage
            # may install it), then reused, as a cluster's volume is in steady state.
            "APHEX_TOOLCHAIN_CACHE": str(default_volume_root() / TOOLCHAIN_CLAIM),
        }
    )
    environ.pop("APHEX_WORKFLOW_NAME", None)
    environ.pop("PYTHONPATH", None)  # the sources go on the stage's sys.path (see _STAGE)
    environ.update(venv_path_env(venv, environ))
    return environ


def run_stage(run: int, environ: dict[str, str], log: Path) -> tuple[float, int]:
    """Wall time of the stage process and the synths it ran for the environment."""
    argv = [sys.executable, "-c", _STAGE, "--pipeline", PIPELINE, "--commit", COMMIT]
    argv += ["--repository", "https://example.com/bench.git"]
    argv += ["--environment", environment_name(run)]
    started = time.perf_counter()
    with open(log, "w") as stderr:
        done = subprocess.run(argv, env=environ, stdout=subprocess.PIPE, stderr=stderr, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: the stage failed (exit {done.returncode}); see {log}")
    synths = json.loads(done.stdout.strip().splitlines()[-1]).get(environment_name(run), 0)
    return seconds, int(synths)


def run_by_hand(
    run: int,
    way: str,
    target: AwsTarget,
    environ: dict[str, str],
    app: Path,
    cli: Path,
) -> float:
    """Wall time of ``cdk synth`` then ``cdk deploy`` of both stacks (once, or per stack)."""
    env = apply_environ(environ, target.environ())
    env.update(CDK_ENV)
    out = app.parent / "cdk.out"
    context = {
        "account": account(run, way),
        "region": REGION,
        "environment": environment_name(run),
        "stage": "bench",
    }
    synth = [str(cli), "synth", "--quiet", "--no-lookups", "--output", str(out)]
    for key, value in context.items():
        synth += ["-c", f"{key}={value}"]
    deploy = [str(cli), "deploy", "--app", str(out), "--require-approval", "never", *DEPLOY_FLAGS]
    if way == "by_hand":
        deploys = [[*deploy, "--outputs-file", str(app.parent / "outputs.json"), *STACKS]]
    else:
        deploys = [
            [*deploy, "--exclusively", "--outputs-file", str(app.parent / f"{stack}.json"), stack]
            for stack in STACKS
        ]
    started = time.perf_counter()
    for argv, cwd in [(synth, app)] + [(argv, app.parent) for argv in deploys]:
        done = subprocess.run(
            [*argv, "--no-notices", "--no-color"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv[1:3])} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description="The environment stage against the CDK CLI.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    runs = max(1, args.runs)
    work = Path(tempfile.mkdtemp(prefix="aphex-bench-env-"))
    cli = find_cdk_cli(ROOT)
    venv = setup_sample_env(ROOT)
    server = start_moto_server(log_dir=work / "moto")
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    noise = Noise()
    synths: list[int] = []
    try:
        started = time.perf_counter()
        pairs = [(account(run, way), REGION) for run in range(runs) for way in WAYS]
        targets = bootstrap_local(server.endpoint, pairs, cli=cli, server_log=server.log_path)
        print(f"bootstrap of {len(pairs)} accounts: {time.perf_counter() - started:.1f} s")
        environ = base_environ(server, venv, work / "stage")
        os.environ.update({k: v for k, v in environ.items() if k.startswith("AWS_")})
        tree = sample_tree(work / "tree", runs)
        tarball = work / "artifact.tar.gz"
        manifest = package_artifact(tree, None, tarball, commit=COMMIT)
        s3 = s3_client(endpoint_url=server.endpoint)
        s3.create_bucket(Bucket=BUCKET)
        upload_artifact(s3, BUCKET, PIPELINE, COMMIT, tarball, manifest)
        for run in range(runs):
            steps: dict[str, Callable[[], float]] = {}
            for way in WAYS[1:]:
                app = work / f"{way}-{run}" / "app"
                shutil.copytree(tree, app)
                target = targets[(account(run, way), REGION)]
                steps[way] = functools.partial(run_by_hand, run, way, target, environ, app, cli)
            order = WAYS[run % len(WAYS) :] + WAYS[: run % len(WAYS)]
            for way in order:
                if way == "stage":
                    seconds, count = run_stage(run, environ, work / f"stage-{run}.log")
                    synths.append(count)
                else:
                    seconds = steps[way]()
                times[way].append(seconds)
    finally:
        server.stop()
    medians = {way: statistics.median(values) for way, values in times.items()}
    ratio = medians["stage"] / medians["by_hand"]
    ratio_per_stack = medians["stage"] / medians["by_hand_per_stack"]
    print_table(
        ["run", *WAYS, "synths"],
        [(run, *(times[way][run] for way in WAYS), synths[run]) for run in range(runs)]
        + [("median", *(medians[way] for way in WAYS), max(synths))],
    )
    print(
        f"stage / by hand: {ratio:.3f} (target <= {TARGET_RATIO}); stage / by hand per stack:"
        f" {ratio_per_stack:.3f}; synths per environment: {max(synths)} (target 1)"
    )
    emit(
        "environment_stage",
        {
            "runs": runs,
            "stage_s": round(medians["stage"], 3),
            "by_hand_s": round(medians["by_hand"], 3),
            "by_hand_per_stack_s": round(medians["by_hand_per_stack"], 3),
            "ratio": round(ratio, 3),
            "ratio_per_stack": round(ratio_per_stack, 3),
            "target_ratio": TARGET_RATIO,
            "synths_per_environment": max(synths),
            "ok": ratio <= TARGET_RATIO and max(synths) == 1,
        },
        noise=noise,
    )
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ratio <= TARGET_RATIO and max(synths) == 1 else 1  # a missed target fails the run


if __name__ == "__main__":
    sys.exit(main())
