"""What the pipeline benchmarks share: the sample app as a git repository with a chosen set
of environments, app changes committed as pushes, `aphex run --local` against one shared
moto server, and the same deploys and tests done by hand with the CDK CLI.

Needs what `build-support/local-demo.sh` sets up: the exported `infra` resolve (the
pipeline deploys its own stack from `infra/`), `npm ci` (the pinned CDK CLI) and the
sample app's venv. `bench/run_all.sh` does that set-up, then runs every benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import PACKAGES, ROOT, use_sources

use_sources()

import yaml  # type: ignore[import-untyped, unused-ignore]  # noqa: E402

from aphex_stages.cdk import CDK_ENV, DEPLOY_FLAGS, AwsTarget, find_cdk_cli  # noqa: E402
from aphex_stages.cdk.aws import apply_environ  # noqa: E402
from aphex_stages.cdk.outputs import output_env_vars, read_outputs_file  # noqa: E402
from aphex_stages.local.aws import LOCAL_CREDENTIALS  # noqa: E402
from aphex_stages.local.bootstrap import bootstrap_local  # noqa: E402
from aphex_stages.local.moto import MotoServer, start_moto_server  # noqa: E402
from aphex_testing.sample_env import sample_app_dir, setup_sample_env, venv_path_env  # noqa: E402

STACKS = ("StorageStack", "MessagingStack")
TEST_COMMAND = ["python3", "-m", "pytest", "tests/post_deploy", "-q"]
_GIT = ["git", "-c", "user.name=aphex-bench", "-c", "user.email=bench@localhost"]
_DESCRIPTION = 'description=f"Stage of the {settings.environment} environment'


@dataclass(frozen=True)
class Env:
    """One environment of a benchmark's config."""

    name: str
    account: str
    region: str = "us-east-1"
    depends_on: tuple[str, ...] = ()
    approval: str = "none"

    def as_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "account": self.account,
            "region": self.region,
            "stacks": [{"name": stack} for stack in STACKS],
            "context": {"stage": self.name},
            "tests": {"commands": [TEST_COMMAND], "timeout_minutes": 5},
            "depends_on": list(self.depends_on),
            "approval": self.approval,
        }


@dataclass(frozen=True)
class Tools:
    """The CDK CLI, the sample app's venv and the exported infra venv."""

    cli: Path
    sample_venv: Path
    infra_bin: Path | None

    @classmethod
    def find(cls) -> Tools:
        exported = sorted((ROOT / "dist/export/python/virtualenvs/infra").glob("3.11*"))
        if not exported:
            raise SystemExit(
                "bench: no exported infra venv; run build-support/local-demo.sh or"
                " bench/run_all.sh once (./pants export --resolve=infra)"
            )
        return cls(find_cdk_cli(ROOT), setup_sample_env(ROOT), exported[0] / "bin")


def make_repo(dest: Path, pipeline: str, envs: Iterable[Env]) -> Path:
    """The sample app, its config listing `envs`, committed in a new git repository."""
    shutil.copytree(
        sample_app_dir(ROOT),
        dest,
        ignore=shutil.ignore_patterns("cdk.out*", "__pycache__", ".pytest_cache", ".aphex"),
    )
    write_config(dest, pipeline, envs)
    subprocess.run([*_GIT, "init", "-q", "-b", "main"], cwd=dest, check=True)
    commit(dest, "sample app")
    return dest


def write_config(repo: Path, pipeline: str, envs: Iterable[Env]) -> None:
    """Rewrite the repository's aphex-config.yaml with `envs` (not committed)."""
    path = repo / "aphex-config.yaml"
    config = yaml.safe_load(path.read_text())
    config["pipeline"]["name"] = pipeline
    config["environments"] = [env.as_config() for env in envs]
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def commit(repo: Path, message: str) -> str:
    """Commit everything; return the new SHA."""
    subprocess.run([*_GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*_GIT, "commit", "-q", "-m", message], cwd=repo, check=True)
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def push_app_change(repo: Path, revision: int) -> str:
    """Commit a change that updates StorageStack (its parameter's description); the SHA."""
    stacks = repo / "sample_app" / "stacks.py"
    text = stacks.read_text()
    start = text.index(_DESCRIPTION) + len(_DESCRIPTION)
    end = text.index('"', start)
    stacks.write_text(text[:start] + f" (revision {revision})" + text[end:])
    return commit(repo, f"app change {revision}")


@dataclass
class PipelineRun:
    """One `aphex run --local`: its wall time and the commit's run records (oldest first;
    more than one when the run superseded itself). The last record is the final workflow."""

    wall_s: float
    records: list[dict[str, Any]]

    @property
    def final(self) -> dict[str, Any]:
        return self.records[-1]

    @property
    def workflow_s(self) -> float:
        """The final workflow's own time: first task start to on-exit end."""
        return float(self.final["duration_seconds"])

    @property
    def stages(self) -> dict[str, float]:
        """Seconds of each stage of the final workflow (``test/dev``, ``build``, ...)."""
        return {
            s["stage"]
            + (f"/{s['environment']}" if s.get("environment") else ""): s["duration_seconds"]
            for s in self.final["stages"]
        }


@contextlib.contextmanager
def moto_workspace(prefix: str, keep: bool) -> Iterator[tuple[Path, MotoServer]]:
    """A work folder and a moto server in it; the server stops at the end and the folder
    is removed, unless `keep` (then its path is printed)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    server = start_moto_server(log_dir=work / "moto")
    try:
        yield work, server
    finally:
        server.stop()
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def bench_arguments(doc: str | None, runs: int, images: bool = False) -> argparse.Namespace:
    """``--runs`` (default `runs`) and ``--keep``, the options of the pipeline benchmarks
    (and ``--images`` where the benchmark can also run the pipeline in the images)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=runs, help=f"timed runs (default {runs})")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    if images:
        parser.add_argument(
            "--images",
            action="store_true",
            help="also run the pipeline with --images (build-support/images.sh first)",
        )
    return parser.parse_args()


def pipeline_environ(server: MotoServer, tools: Tools) -> dict[str, str]:
    """What `aphex run --local` gets: the sources first, the app's venv, the infra app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APHEX_"))}
    env.update(venv_path_env(tools.sample_venv, env))
    env.pop("PYTHONPATH", None)  # the sources go on aphex's sys.path only (see _aphex)
    env["APHEX_CDK_CLI"] = str(tools.cli)
    env["APHEX_INFRA_APP"] = str(ROOT / "infra")
    if tools.infra_bin is not None:
        env["APHEX_INFRA_BIN"] = str(tools.infra_bin)
    return env


def run_pipeline(
    repo: Path, endpoint: str, environ: Mapping[str, str], log: Path, images: bool = False
) -> PipelineRun:
    """Time `aphex run --local --approve all` of HEAD against `endpoint` (every task in its
    image with `images`); fail loudly."""
    argv = [*_aphex(), "run", "--local", str(repo)]
    argv += ["--approve", "all", "--aws-endpoint", endpoint]
    if images:
        argv.append("--images")
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(argv, env=dict(environ), stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: aphex run --local failed (exit {done.returncode}); see {log}")
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    records = [r for r in run_records(repo, environ) if r["commit_sha"] == sha]
    return PipelineRun(wall_s=wall, records=sorted(records, key=lambda r: r["started_at"]))


def _aphex() -> list[str]:
    """The `aphex` command of this checkout's sources. They go on its sys.path, not in
    PYTHONPATH, so that the app's own processes (synth, tests) never see them."""
    sources = [str(ROOT / "packages" / name / "src") for name in PACKAGES]
    program = (
        f"import sys; sys.path[:0] = {sources!r}; "
        "from aphex_stages.cli import main; sys.exit(main())"
    )
    return [sys.executable, "-c", program]


def run_records(repo: Path, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """The repository's local run records (`aphex runs list --output json`)."""
    done = subprocess.run(
        [*_aphex(), "runs", "list", "--repo", str(repo), "--output", "json"],
        env=dict(environ),
        check=True,
        capture_output=True,
        text=True,
    )
    records: list[dict[str, Any]] = json.loads(done.stdout)
    return records


# -- by hand ------------------------------------------------------------------------------


@dataclass
class ByHand:
    """The same environments deployed and tested by hand with the CDK CLI, in other accounts.

    Per environment: one `cdk synth`, one `cdk deploy` of the stacks in order from that
    assembly (with an outputs file), then the tests with the outputs as environment
    variables, as a person at a terminal would run them.
    """

    server: MotoServer
    tools: Tools
    envs: list[Env]
    targets: dict[tuple[str, str], AwsTarget] = field(default_factory=dict)

    def bootstrap(self) -> None:
        """`cdk bootstrap` every (account, region) once (not timed: an install step)."""
        pairs = [(env.account, env.region) for env in self.envs]
        self.targets = bootstrap_local(
            self.server.endpoint, pairs, cli=self.tools.cli, server_log=self.server.log_path
        )

    def run(self, repo: Path, work: Path) -> dict[str, dict[str, float]]:
        """Deploy and test every environment in order from a checkout of HEAD: the seconds
        of each step (synth, deploy, test) per environment."""
        app = work / "app"
        shutil.rmtree(app, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", str(repo), str(app)], check=True)
        return {env.name: self._deploy_and_test(app, env) for env in self.envs}

    def environ(self, env: Env) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APHEX_"))}
        base.pop("PYTHONPATH", None)
        base.update(LOCAL_CREDENTIALS)
        base.update(
            {
                "AWS_ENDPOINT_URL": self.server.endpoint,
                "AWS_REGION": env.region,
                "AWS_DEFAULT_REGION": env.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        base.update(venv_path_env(self.tools.sample_venv, base))
        return apply_environ(base, self.targets[(env.account, env.region)].environ())

    def _deploy_and_test(self, app: Path, env: Env) -> dict[str, float]:
        environ = {**self.environ(env), **CDK_ENV}
        out = app / f"cdk.out.{env.name}"
        outputs = app / f"outputs.{env.name}.json"
        context = {"account": env.account, "region": env.region, "environment": env.name}
        context["stage"] = env.name
        cli = [str(self.tools.cli)]
        synth = [*cli, "synth", "--quiet", "--no-lookups", "--output", str(out)]
        for key, value in context.items():
            synth += ["-c", f"{key}={value}"]
        deploy = [*cli, "deploy", "--app", str(out), "--require-approval", "never", *DEPLOY_FLAGS]
        deploy += ["--outputs-file", str(outputs), *STACKS]
        seconds = {
            "synth": _run([*synth, "--no-notices", "--no-color"], app, environ),
            "deploy": _run([*deploy, "--no-notices", "--no-color"], app, environ),
        }
        tests = {**environ, **output_env_vars(read_outputs_file(outputs))}
        seconds["test"] = _run(TEST_COMMAND, app, tests)
        return seconds


def synth_cost(hand: ByHand, repo: Path, work: Path, runs: int = 3) -> tuple[float, float]:
    """Median wall and CPU seconds (user + system, the CLI and the app) of one `cdk synth`
    of the sample app, run alone: how many cores one synth keeps busy."""
    app = work / "synth-cost"
    shutil.rmtree(app, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(repo), str(app)], check=True)
    env = hand.envs[0]
    environ = {**hand.environ(env), **CDK_ENV}
    argv = [str(hand.tools.cli), "synth", "--quiet", "--no-lookups", "--output", "cdk.out"]
    argv += ["-c", f"account={env.account}", "-c", f"region={env.region}"]
    argv += ["-c", f"environment={env.name}", "--no-notices", "--no-color"]
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(_run(argv, app, environ))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _run(argv: list[str], cwd: Path, environ: Mapping[str, str]) -> float:
    """Run a step of the work by hand; its wall seconds (exit on failure)."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=dict(environ), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(argv[:3])} failed:\n{done.stdout[-1500:]}" f"\n{done.stderr[-1500:]}"
        )
    return seconds
