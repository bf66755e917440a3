"""`aphex run --local`: run the whole pipeline for one commit on this machine.

1. Read the config at the commit and start the embedded AWS (moto) unless given one.
2. Install what a cluster install would hold: the artifact bucket, the CDK bootstrap of
   every target (account, region), and the WorkflowTemplate in `.aphex/local/cluster/`
   if none is live yet.
3. Submit a Workflow for the commit, then execute the live template's DAG locally. The
   pipeline stage inside it re-renders and applies the template; when the topology
   changed it submits a restart and supersedes the run, and the restart runs here too,
   so a commit that adds an environment is deployed by this one invocation.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from aphex_config import AphexConfig, ConfigError, parse_config
from aphex_generator import CONFIG_FILE, EnvVar, Label, Param
from aphex_stages.cdk import find_cdk_cli
from aphex_stages.cdk.errors import CdkError
from aphex_stages.cluster.local import LocalCluster
from aphex_stages.generator_settings import generator_settings_from_env
from aphex_stages.local.aws import LocalAwsEndpoint, local_aws
from aphex_stages.local.bootstrap import bootstrap_local
from aphex_stages.local.executor import LocalWorkflow, RunResult
from aphex_stages.local.progress import Progress
from aphex_stages.local.records import restore_records, save_records
from aphex_stages.local.summary import render_summary
from aphex_stages.local.warm import WarmLauncher, warm_enabled
from aphex_stages.local.workflow import TemplateNotRunnable, plan_from_template

LOCAL_BUCKET = "aphex-local-artifacts"


class LocalRunError(Exception):
    """The local run could not start; the message says what to do."""


@dataclass
class LocalRunOptions:
    """What `aphex run --local` was asked to do."""

    repo: Path
    commit: str | None = None
    approve: str = "ask"  # all | none | ask
    parallelism: int = 4
    aws_endpoint: str | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)


@dataclass(frozen=True)
class LocalPaths:
    """Where a repository's local runs keep their state."""

    root: Path

    @property
    def cluster(self) -> Path:
        return self.root / "cluster"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def records(self) -> Path:
        return self.root / "records"

    @classmethod
    def of(cls, repo: Path) -> LocalPaths:
        return cls(repo / ".aphex" / "local")


def resolve_commit(repo: Path, commit: str | None) -> tuple[Path, str]:
    """The repository's top folder and the full SHA of `commit` (default HEAD)."""
    import git

    try:
        handle = git.Repo(repo, search_parent_directories=True)
        sha = handle.commit(commit or "HEAD").hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as error:
        raise LocalRunError(f"{repo} is not a git repository: {error}") from None
    except (git.BadName, ValueError) as error:
        raise LocalRunError(f"no commit {commit or 'HEAD'!r} in {repo}: {error}") from None
    return Path(handle.working_tree_dir or repo), sha


def config_at(repo: Path, sha: str) -> AphexConfig:
    """The config file as committed at `sha` (ConfigError when it is missing or invalid)."""
    import git

    try:
        blob = git.Repo(repo).commit(sha).tree / CONFIG_FILE
    except KeyError:
        raise LocalRunError(f"{CONFIG_FILE} is not committed at {sha[:12]}") from None
    return parse_config(blob.data_stream.read(), source=CONFIG_FILE)


def _approver(mode: str, progress: Progress, out: TextIO) -> Callable[[str], bool]:
    def approve(task: str) -> bool:
        if mode == "all":
            return True
        if mode == "none" or not sys.stdin.isatty():
            if mode == "ask":
                out.write(f"  {task}: no terminal to ask; not approved (use --approve all)\n")
            return False
        with progress.pause():
            answer = input(f"\n  Approve {task}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return approve


class LocalRun:
    """One `aphex run --local` invocation."""

    def __init__(self, options: LocalRunOptions) -> None:
        self.options = options
        self.out = options.out
        self.repo, self.sha = resolve_commit(options.repo, options.commit)
        self.paths = LocalPaths.of(self.repo)
        self.config = config_at(self.repo, self.sha)
        self.pipeline = self.config.pipeline.name
        self.cluster = LocalCluster(self.paths.cluster, self.config.pipeline.namespace)
        self.progress = Progress(self.out)
        self.launcher = WarmLauncher() if warm_enabled() else None

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- set-up ---------------------------------------------------------------------
    def _env(self, aws: LocalAwsEndpoint, cdk_cli: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APHEX_"))}
        env.update(aws.environ())
        env.update(
            {
                EnvVar.ARTIFACT_BUCKET: LOCAL_BUCKET,
                EnvVar.NAMESPACE: self.config.pipeline.namespace,
                EnvVar.CLUSTER: f"local:{self.paths.cluster}",
                EnvVar.CDK_CLI: str(cdk_cli),
                EnvVar.LOCAL_AWS_LOG: str(aws.log_path or ""),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if os.environ.get(EnvVar.INFRA_APP):
            # The pipeline stage deploys what moto can hold of the pipeline's own stacks.
            env[EnvVar.INFRA_APP] = os.environ[EnvVar.INFRA_APP]
            env[EnvVar.INFRA_BIN] = os.environ.get(EnvVar.INFRA_BIN, "")
            env[EnvVar.INFRA_CONTEXT] = "aphex:stacks=artifacts"
        return env

    def _install(self, aws: LocalAwsEndpoint, env: dict[str, str], cdk_cli: Path) -> None:
        started = time.monotonic()
        if self.launcher is not None:
            self.launcher.prepare()  # its imports run while the CDK bootstraps
        s3 = aws.client("s3")
        s3.create_bucket(Bucket=LOCAL_BUCKET)
        restored = restore_records(s3, LOCAL_BUCKET, self.paths.records)
        pairs = [(e.account, e.region) for e in self.config.environments]
        if EnvVar.INFRA_APP in env:  # the pipeline's own account, where its stacks go
            pairs.append((aws.client("sts").get_caller_identity()["Account"], aws.region))
        self.say(f"  bootstrapping the CDK in {len(set(pairs))} account/region pair(s) ...")
        try:
            bootstrap_local(aws.endpoint, pairs, cli=cdk_cli, server_log=aws.log_path)
        except CdkError as error:
            raise LocalRunError(f"cdk bootstrap failed: {error}") from None
        if self.cluster.get_template(self.pipeline) is None:
            from aphex_generator import render_workflow_template, validate

            doc = render_workflow_template(self.config, generator_settings_from_env(env))
            problems = validate(doc)
            if problems:
                raise LocalRunError(
                    "the WorkflowTemplate rendered from this config is invalid: "
                    + "; ".join(str(p) for p in problems[:5])
                )
            self.cluster.apply_template(doc, None)
            self.say(f"  installed WorkflowTemplate {self.pipeline} in {self.paths.cluster}")
        self.say(
            f"  local AWS ready in {time.monotonic() - started:.1f}s"
            + (f" ({restored} earlier record(s) restored)" if restored else "")
        )

    # -- running ------------------------------------------------------------------------
    def _workflow_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%H%M%S")
        return f"{self.pipeline}-{self.sha[:8]}-{stamp}"

    def _execute(self, name: str, env: dict[str, str]) -> RunResult:
        record = self.cluster.read_workflow(name)
        if record is None:
            raise LocalRunError(f"workflow {name} was not submitted")
        live = self.cluster.get_template(record["template"])
        if live is None:
            raise LocalRunError(f"no WorkflowTemplate {record['template']!r} is installed")
        try:
            plan = plan_from_template(live.doc)
        except TemplateNotRunnable as error:
            raise LocalRunError(f"cannot run {record['template']} locally: {error}") from None
        workflow = LocalWorkflow(
            plan,
            workflow_name=name,
            parameters=record["parameters"],
            run_dir=self.paths.runs / name,
            lock_dir=self.paths.locks,
            base_env={**env, EnvVar.WORKFLOW_NAME: name},
            parallelism=self.options.parallelism,
            approver=_approver(self.options.approve, self.progress, self.out),
            reporter=self.progress.update,
            launcher=self.launcher,
        )
        self.cluster.set_workflow_phase(name, "Running")
        self.progress.start(
            f"\nworkflow {name} (template {record['template']} v{live.resource_version})",
            workflow.states,
        )
        try:
            result = workflow.run()
        except KeyboardInterrupt:
            self.progress.finish()
            self.cluster.set_workflow_phase(name, "Interrupted")
            raise
        self.progress.finish()
        self.cluster.set_workflow_phase(name, result.phase)
        return result

    def _restarts(self, done: set[str]) -> list[str]:
        return [
            w["name"]
            for w in self.cluster.pending_workflows()
            if w["parameters"].get(Param.COMMIT_SHA) == self.sha and w["name"] not in done
        ]

    def run(self) -> int:
        """Run the pipeline; return 0 on success, 1 on a pipeline failure, 130 if interrupted."""
        self.say(f"aphex run --local: {self.pipeline} at {self.sha[:12]} ({self.repo})")
        self.paths.root.mkdir(parents=True, exist_ok=True)
        try:
            cdk_cli = find_cdk_cli(start=Path(__file__))
        except CdkError as error:
            raise LocalRunError(f"{error} (run `npm ci` in the AphexPipeline checkout)") from None
        with local_aws(self.options.aws_endpoint, self.paths.root / "aws") as aws:
            env = self._env(aws, cdk_cli)
            self._install(aws, env, cdk_cli)
            first = self._workflow_name()
            self.cluster.submit_workflow(
                first,
                self.pipeline,
                {Param.COMMIT_SHA: self.sha, Param.REPO_URL: self.repo.as_uri()},
                {Label.PIPELINE: self.pipeline, Label.COMMIT: self.sha},
            )
            results: list[RunResult] = []
            queue = [first]
            try:
                while queue:
                    results.append(self._execute(queue.pop(0), env))
                    if results[-1].superseded:
                        queue.extend(self._restarts({r.workflow for r in results}))
            except KeyboardInterrupt:
                self.say(
                    "\ninterrupted: every task's processes were stopped; nothing was half-written"
                )
                return 130
            finally:
                self._save_records(aws)
            self.say(render_summary(results, self._outputs(aws), self.paths.runs))
        final = results[-1]
        return 0 if final.phase == "Succeeded" else 1

    def _save_records(self, aws: LocalAwsEndpoint) -> None:
        s3 = aws.client("s3")
        try:
            save_records(s3, LOCAL_BUCKET, self.paths.records)
        except Exception as error:  # records are a convenience; never fail the run on them
            self.say(f"  warning: could not save run records: {error}")

    def _outputs(self, aws: LocalAwsEndpoint) -> dict[str, dict[str, dict[str, Any]]]:
        """Each environment's stack outputs, as its environment stage stored them."""
        import json

        from aphex_stages.artifact import ArtifactLocation, read_beside
        from aphex_stages.deploy import outputs_name
        from aphex_stages.errors import StageError

        s3 = aws.client("s3")
        outputs: dict[str, dict[str, dict[str, Any]]] = {}
        try:
            location = ArtifactLocation.from_latest(s3, LOCAL_BUCKET, self.pipeline, self.sha)
        except StageError:
            return outputs  # the build never uploaded: nothing was deployed
        for environment in self.config.environments:
            try:
                data = read_beside(
                    s3, LOCAL_BUCKET, location, outputs_name(environment.name), missing="none"
                )
            except StageError:
                continue  # not deployed in this run
            outputs[environment.name] = json.loads(data)
        return outputs


def run_local(options: LocalRunOptions) -> int:
    """Entry for `aphex run --local`; prints one-line errors and returns the exit code."""
    try:
        return LocalRun(options).run()
    except ConfigError as error:
        for problem in error.problems:
            options.out.write(f"{problem}\n")
        options.out.write("the config at this commit is invalid; fix it and commit again\n")
        return 1
    except LocalRunError as error:
        options.out.write(f"aphex run --local: {error}\n")
        return 1
