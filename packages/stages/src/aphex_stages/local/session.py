"""`aphex run --local`: run the whole pipeline for one commit on this machine.

1. Read the config at the commit. Start what a cluster and its cloud would provide: an
   embedded AWS (moto) unless given one, an embedded Kubernetes API server (its objects kept
   in `.aphex/local/cluster.json` between runs) and a git server for the repository.
2. Install what a cluster install holds (:mod:`aphex_stages.local.install`): the artifact
   bucket, the CDK bootstrap of every target (account, region), the namespace and the
   pipeline's service account with its Role, and the WorkflowTemplate if none is live yet.
3. Submit a Workflow for the commit and run it as Argo would
   (:mod:`aphex_stages.local.controller`). Each task runs as a host process, or with
   `--images` as a container of the image its template names; either way it reaches the
   repository by URL and the cluster as its service account. When the pipeline stage
   changes the topology it submits a restart, which runs here too: a commit that adds an
   environment is deployed by this one invocation.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from aphex_config import ConfigError
from aphex_generator import (
    CONFIG_FILE,
    LOCAL_GIT_TOKEN_KEY,
    LOCAL_GIT_TOKEN_SECRET,
    EnvVar,
    ImageKind,
    Label,
    Param,
    PipelineGraph,
    __version__,
)
from aphex_stages.cdk import find_app_cdk_cli
from aphex_stages.cdk.errors import CdkError
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.generator_settings import generator_settings_from_env
from aphex_stages.head import Redeploy
from aphex_stages.local.aws import LocalAwsEndpoint, enforce_iam, local_aws, open_iam
from aphex_stages.local.bootstrap import bootstrap_local
from aphex_stages.local.commands import LAUNCH_PATH, import_path, search_path
from aphex_stages.local.controller import ControllerError, LocalController
from aphex_stages.local.executor import LocalWorkflow, RunResult
from aphex_stages.local.gitserve import serve_repository
from aphex_stages.local.identities import (
    IdentityError,
    RoleCredentials,
    ensure_external_id,
    identities_of,
)
from aphex_stages.local.infra_install import install_pipeline_stacks
from aphex_stages.local.install import (
    LocalInstallError,
    install_namespace,
    install_service_accounts,
    install_template,
)
from aphex_stages.local.kubeapi import KubeApiServer, StateFileError
from aphex_stages.local.layout import (
    LOCAL_BUCKET,
    LocalPaths,
    LocalRunError,
    config_at,
    config_bytes_at,
    resolve_commit,
    uncommitted_files,
)
from aphex_stages.local.progress import Progress
from aphex_stages.local.records import restore_records, save_records
from aphex_stages.local.runtime import (
    HostRuntime,
    ImageRuntime,
    Runtime,
    RuntimeError_,
    find_engine,
)
from aphex_stages.local.secrets import SecretReader, install_local_secrets, secret_reader
from aphex_stages.local.summary import render_summary
from aphex_stages.local.tempdir import children_tmpdir
from aphex_stages.local.warm import WarmLauncher, warm_enabled
from aphex_stages.local.workflow import WorkflowPlan
from aphex_stages.termination import terminate_as_interrupt

__all__ = ["LocalRunError", "LocalRunOptions", "default_image", "run_local"]

#: The install-time context of the pipeline's own stacks here: only the part moto can hold.
#: (The artifacts stack makes the local runs' bucket and grants each role its part.)
LOCAL_INFRA_CONTEXT = f"aphex:stacks=artifacts,aphex:bucketName={LOCAL_BUCKET}"
#: The claim of the deploy and test pods' toolchain cache in local runs.
TOOLCHAIN_CLAIM = "aphex-toolchains"


def default_image(kind: ImageKind) -> str:
    """The image `build-support/images.sh` builds for `kind`, at this release."""
    return f"localhost/aphex-{kind.value}:{__version__}"


@dataclass
class LocalRunOptions:
    """What `aphex run --local` was asked to do."""

    repo: Path
    commit: str | None = None
    approve: str = "ask"  # all | none | ask
    parallelism: int = 4
    aws_endpoint: str | None = None
    images: bool = False  # run each task in its image, not as a host process
    builder_image: str | None = None
    deployer_image: str | None = None
    engine: str | None = None  # podman or docker (default: the first that answers)
    redeploy: Redeploy | None = None  # `aphex redeploy --local`: may go back to an older commit
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)  # the one-line errors


class NoTerminalToAsk(LocalRunError):
    """`--approve ask` for a pipeline with gates, and no terminal to ask on: exit 2."""


def _approver(
    mode: str,
    progress: Progress,
    out: TextIO,
    changes: Callable[[str], str | None] = lambda _task: None,
) -> Callable[[str], bool]:
    """Decide a gate: `--approve all|none`, else ask on the terminal after showing what
    the gated environment's deploy would change (`changes(task)`)."""

    def approve(task: str) -> bool:
        if mode == "all":
            return True
        if mode == "none" or not sys.stdin.isatty():
            if mode == "ask":
                out.write(f"  {task}: no terminal to ask; not approved (use --approve all)\n")
            return False
        with progress.pause():
            text = changes(task)
            out.write("\n" + (text or f"  {task}: no change set was stored for this gate\n"))
            out.flush()
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
        self.namespace = self.config.pipeline.namespace
        self.progress = Progress(self.out)
        warm = warm_enabled() and not options.images
        self.launcher = WarmLauncher() if warm else None
        self.secrets: SecretReader | None = None  # set once the local cluster is up

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- what the pods get ----------------------------------------------------------------
    def _settings_env(self, aws: LocalAwsEndpoint) -> dict[str, str]:
        """The generator's settings of this install (the template writes them into pods)."""
        env = {
            EnvVar.ARTIFACT_BUCKET: LOCAL_BUCKET,
            EnvVar.NAMESPACE: self.namespace,
            EnvVar.REGION: aws.region,
            EnvVar.TOOLCHAIN_CLAIM: TOOLCHAIN_CLAIM,
            # The install-time context of the pipeline's own stacks: only the part moto
            # can hold is deployed.
            EnvVar.INFRA_CONTEXT: LOCAL_INFRA_CONTEXT,
        }
        # A private repository: what clones mounts the token's Secret (never the build).
        if self._repository_token() is not None:
            env[EnvVar.GIT_TOKEN_SECRET] = f"{LOCAL_GIT_TOKEN_SECRET}:{LOCAL_GIT_TOKEN_KEY}"
        # Commit statuses go to a GitHub API the runner names (a local one in tests).
        if os.environ.get(EnvVar.GITHUB_API_URL):
            env[EnvVar.GITHUB_API_URL] = os.environ[EnvVar.GITHUB_API_URL]
        if self.options.images:
            env[EnvVar.BUILDER_IMAGE] = self.options.builder_image or default_image(
                ImageKind.BUILDER
            )
            env[EnvVar.DEPLOYER_IMAGE] = self.options.deployer_image or default_image(
                ImageKind.DEPLOYER
            )
        return env

    def _repository_token(self) -> str | None:
        """A private repository's token (``.aphex/local/secrets/aphex-git-token/token``):
        the local git server then asks for it, as a private repository's host does."""
        path = self.paths.secrets / LOCAL_GIT_TOKEN_SECRET / LOCAL_GIT_TOKEN_KEY
        try:
            return path.read_text("utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _installation_env(self) -> dict[str, str]:
        """What an installation gives the pipeline's pods besides the template: on the host,
        where its own app and tools are. (The infra context again, for a template installed
        here by an earlier version, which did not carry it; the template's value wins.)"""
        env = {EnvVar.INFRA_CONTEXT: LOCAL_INFRA_CONTEXT}
        if not self.options.images:  # a host process has no image: name the host's tools
            for name in (EnvVar.INFRA_APP, EnvVar.INFRA_BIN):
                if os.environ.get(name):
                    env[name] = os.environ[name]
        return env

    def _runtime(self, aws: LocalAwsEndpoint, cdk_cli: Path | None) -> Runtime:
        if self.options.images:
            try:
                return ImageRuntime(
                    find_engine(self.options.engine), prefix=f"aphex-{self.pipeline}"
                )
            except RuntimeError_ as error:
                raise LocalRunError(str(error)) from None
        host = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APHEX_"))}
        if host.get("VIRTUAL_ENV") == sys.prefix:  # aphex's venv is not the application's
            del host["VIRTUAL_ENV"]
        host.update({"PYTHONUNBUFFERED": "1", LAUNCH_PATH: import_path()})
        if cdk_cli is not None:
            host[EnvVar.CDK_CLI] = str(cdk_cli)
        if aws.log_path is not None:
            host[EnvVar.LOCAL_AWS_LOG] = str(aws.log_path)
        return HostRuntime(host, search_path(), launcher=self.launcher)

    def _pod_identity(
        self, aws: LocalAwsEndpoint, roles: RoleCredentials, service_account: str
    ) -> dict[str, str]:
        """What a pod of `service_account` gets: the local AWS endpoint, and credentials of
        the role the account names (none without one), as IRSA gives them on EKS."""
        try:
            credentials = roles.environ(service_account)
        except IdentityError as error:
            raise RuntimeError_(str(error)) from None
        return {**aws.endpoint_environ(), **credentials, **self._installation_env()}

    # -- set-up ---------------------------------------------------------------------
    def _install(
        self, aws: LocalAwsEndpoint, admin: KubeCluster, settings: Mapping[str, str], cdk_cli: Path
    ) -> LocalAwsEndpoint:
        """Make what a cluster install holds; the AWS endpoint with the credentials the run
        then uses (the local admin's once IAM is enforced)."""
        started = time.monotonic()
        moto = open_iam(aws)
        if self.launcher is not None:
            self.launcher.prepare()  # its imports run while the CDK bootstraps
        pairs = [(e.account, e.region) for e in self.config.environments]
        # The pipeline's own account, where its stacks go.
        account = aws.client("sts").get_caller_identity()["Account"]
        pairs.append((account, aws.region))
        self.say(f"  bootstrapping the CDK in {len(set(pairs))} account/region pair(s) ...")
        try:
            bootstrap_local(aws.endpoint, pairs, cli=cdk_cli, server_log=aws.log_path)
        except CdkError as error:
            raise LocalRunError(f"cdk bootstrap failed: {error}") from None
        external_id = ensure_external_id(self.paths.secrets).read_text("utf-8").strip()
        strict = moto and bool(self._host_infra_app())
        s3 = aws.client("s3")
        if strict:  # the artifacts stack makes the bucket, as on AWS
            self._install_pipeline_stacks(aws, account, external_id, cdk_cli)
        else:
            s3.create_bucket(Bucket=LOCAL_BUCKET)
        restored = restore_records(s3, LOCAL_BUCKET, self.paths.records)
        generator_settings = generator_settings_from_env(settings)
        try:
            install_namespace(admin, self.namespace, self.pipeline)
            installed = install_template(admin, self.config, generator_settings)
            identities = identities_of(self.config, generator_settings.service_account, account)
            install_service_accounts(admin, self.namespace, identities, self.pipeline)
            secrets = install_local_secrets(
                admin, self.namespace, self.paths.secrets, self.pipeline
            )
        except LocalInstallError as error:
            raise LocalRunError(str(error)) from None
        if secrets:
            self.say(f"  secrets from {self.paths.secrets}: {', '.join(secrets)}")
        self.secrets = secret_reader(admin, self.namespace, self.paths.secrets)
        if installed is not None:
            self.say(f"  installed WorkflowTemplate {self.pipeline} in the local cluster")
        if strict:
            aws = enforce_iam(aws)
            self.say("  IAM enforced: each task holds only its own role")
        else:
            why = "not a moto server" if not moto else f"{EnvVar.INFRA_APP} is not set"
            self.say(f"  warning: IAM is not enforced ({why}): the tasks' roles are not made")
        self.say(
            f"  local AWS and cluster ready in {time.monotonic() - started:.1f}s"
            + (f" ({restored} earlier record(s) restored)" if restored else "")
        )
        return aws

    def _host_infra_app(self) -> dict[str, str]:
        """Where the pipeline's own app is on this machine (``APHEX_INFRA_APP`` and its
        ``APHEX_INFRA_BIN``), for the install; empty when it is not set."""
        if not os.environ.get(EnvVar.INFRA_APP):
            return {}
        names = (EnvVar.INFRA_APP, EnvVar.INFRA_BIN)
        return {name: os.environ[name] for name in names if os.environ.get(name)}

    def _install_pipeline_stacks(
        self, aws: LocalAwsEndpoint, account: str, external_id: str, cdk_cli: Path
    ) -> None:
        """The pipeline's own stacks, deployed as every account's admin: one IAM role per
        kind of work, and each target account's deploy role."""
        self.say("  installing the pipeline's own stacks (its roles) ...")
        config_file = self.paths.root / "install" / CONFIG_FILE
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_bytes(config_bytes_at(self.repo, self.sha))
        installation = {**self._host_infra_app(), EnvVar.INFRA_CONTEXT: LOCAL_INFRA_CONTEXT}
        try:
            install_pipeline_stacks(
                endpoint=aws.endpoint,
                region=aws.region,
                account=account,
                config_file=config_file,
                installation=installation,
                external_id=external_id,
                cli=cdk_cli,
                server_log=aws.log_path,
            )
        except CdkError as error:
            raise LocalRunError(str(error)) from None

    # -- running ------------------------------------------------------------------------
    def _workflow_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%H%M%S")
        return f"{self.pipeline}-{self.sha[:8]}-{stamp}"

    def _gates(self) -> dict[str, str]:
        """Each manual gate's task, with the environment it guards."""
        graph = PipelineGraph.from_config(self.config)
        gates = (graph.environment_nodes(env.name).gate for env in graph.environments)
        return {gate.name: str(gate.environment) for gate in gates if gate is not None}

    def _change_set(self, aws: LocalAwsEndpoint) -> Callable[[str], str | None]:
        """The text of the change set the preview before a gate stored, by gate task."""
        from aphex_stages.preview import read_changeset

        def text(task: str) -> str | None:
            environment = self._gates().get(task)
            if environment is None:
                return None
            found = read_changeset(
                aws.client("s3"), LOCAL_BUCKET, self.pipeline, self.sha, environment
            )
            return found.render() if found is not None else None

        return text

    def _executor(self, runtime: Runtime, aws: LocalAwsEndpoint) -> Callable[..., LocalWorkflow]:
        def make(
            plan: WorkflowPlan,
            name: str,
            parameters: Mapping[str, str],
            identity: Callable[[Mapping[str, Any]], Mapping[str, str]],
        ) -> LocalWorkflow:
            return LocalWorkflow(
                plan,
                workflow_name=name,
                parameters=parameters,
                run_dir=self.paths.runs / name,
                lock_dir=self.paths.locks,
                base_env={EnvVar.NAMESPACE: self.namespace},
                parallelism=self.options.parallelism,
                approver=_approver(
                    self.options.approve, self.progress, self.out, self._change_set(aws)
                ),
                reporter=self.progress.update,
                runtime=runtime,
                identity=identity,
                secrets=self.secrets,
            )

        return make

    def _execute(self, controller: LocalController, name: str) -> RunResult:
        def on_start(workflow: LocalWorkflow, template: str) -> None:
            self.progress.start(f"\nworkflow {name} (template {template})", workflow.states)

        try:
            result = controller.execute(name, on_start)
        except ControllerError as error:
            raise LocalRunError(str(error)) from None
        finally:
            self.progress.finish()
        return result

    @contextlib.contextmanager
    def _services(self) -> Iterator[tuple[LocalAwsEndpoint, KubeApiServer, str]]:
        """The embedded Kubernetes API server, AWS and git server, stopped in reverse. The
        API server comes first: it locks the repository's local state, the embedded AWS's
        saved resources included (kept between runs, saved however the run ends). Every
        process they (and the tasks) start has its TMPDIR in the run's folder, emptied last."""
        with contextlib.ExitStack() as stack:
            try:
                api = stack.enter_context(
                    KubeApiServer(
                        state_file=self.paths.cluster_state,
                        authenticate=True,
                        enforce_namespaces=True,
                    )
                )
            except StateFileError as error:
                raise LocalRunError(
                    f"{error}; is another `aphex run --local` running here?"
                ) from None
            stack.enter_context(children_tmpdir(self.paths.tmp))
            embedded = None if self.options.aws_endpoint else self.paths.aws_state
            aws = stack.enter_context(
                local_aws(self.options.aws_endpoint, self.paths.aws, embedded, self.say)
            )
            token = self._repository_token()
            _server, url = stack.enter_context(serve_repository(self.repo, token=token))
            if token is not None:
                self.say(f"  private repository: cloned with the token of {LOCAL_GIT_TOKEN_SECRET}")
            yield aws, api, url

    def run(self) -> int:
        """Run the pipeline; return 0 on success, 1 on a pipeline failure, 130 if interrupted.
        NoTerminalToAsk (exit 2) before anything runs when a gate would need a terminal."""
        gates = ", ".join(self._gates().values())
        if gates and self.options.approve == "ask" and not sys.stdin.isatty():
            raise NoTerminalToAsk(
                f"{self.pipeline} has manual approval gates ({gates}) and there is no terminal"
                " to ask: pass --approve all or --approve none"
            )
        mode = "in its images" if self.options.images else "as host processes"
        self.say(
            f"aphex run --local: {self.pipeline} at {self.sha[:12]} ({self.repo}), tasks {mode}"
        )
        self.paths.create()
        if self.options.commit is None:
            count, shown = uncommitted_files(self.repo)
            if count:
                more = f" and {count - len(shown)} more" if count > len(shown) else ""
                self.say(
                    f"warning: running commit {self.sha[:12]} (HEAD); {count} uncommitted"
                    f" change(s) are not in it: {', '.join(shown)}{more}. Commit them to run"
                    " them"
                )
        try:
            cdk_cli = find_app_cdk_cli(self.repo)
        except CdkError as error:
            raise LocalRunError(str(error)) from None
        with self._services() as (aws, api, repo_url):
            admin = KubeCluster.with_token(api.url, api.admin_token, self.namespace)
            runtime = self._runtime(aws, cdk_cli)
            aws = self._install(aws, admin, self._settings_env(aws), cdk_cli)
            roles = RoleCredentials(aws, admin, self.namespace)
            controller = LocalController(
                admin,
                api,
                self._executor(runtime, aws),
                lambda account: self._pod_identity(aws, roles, account),
            )
            first = self._workflow_name()
            parameters = {Param.COMMIT_SHA: self.sha, Param.REPO_URL: repo_url}
            if self.options.redeploy is not None:
                parameters[Param.REDEPLOY_BY] = self.options.redeploy.by
                parameters[Param.REDEPLOY_REASON] = self.options.redeploy.reason
            admin.submit_workflow(
                first,
                self.pipeline,
                parameters,
                {Label.PIPELINE: self.pipeline, Label.COMMIT: self.sha},
            )
            results: list[RunResult] = []
            queue = [first]
            try:
                while queue:
                    results.append(self._execute(controller, queue.pop(0)))
                    if results[-1].superseded:
                        done = {r.workflow for r in results}
                        queue.extend(n for n in controller.pending(self.sha) if n not in done)
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
        from aphex_generator import outputs_name
        from aphex_stages.artifact import ArtifactLocation, read_beside
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
    """Entry for `aphex run --local`; prints one-line errors on `options.err` and returns
    the exit code."""
    try:
        with terminate_as_interrupt():  # SIGTERM (a CI cancel, `timeout`) as Ctrl-C
            return LocalRun(options).run()
    except ConfigError as error:
        for problem in error.problems:
            options.err.write(f"{problem}\n")
        options.err.write("the config at this commit is invalid; fix it and commit again\n")
        return 1
    except NoTerminalToAsk as error:  # a usage error: nothing ran
        options.err.write(f"aphex run --local: {error}\n")
        return 2
    except LocalRunError as error:
        options.err.write(f"aphex run --local: {error}\n")
        return 1
