"""`aphex install`: the programmable steps of docs/install-on-aws.md, in one command.

Every step is idempotent: what is already as wanted is left alone and said so, so running
the command again after a failure resumes where it stopped. The pipeline account's stacks
come first (on AWS the cluster stack makes the cluster the other steps talk to); the
target accounts' deploy roles come after the ExternalId Secret, since they trust it.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from aphex_config import AphexConfig, ConfigError, load_config
from aphex_generator import EXTERNAL_ID_SECRET, EnvVar, GeneratorSettings
from aphex_stages.cdk import StackArtifact
from aphex_stages.infra_deploy import infra_context
from aphex_stages.install.kube import Cluster, connect
from aphex_stages.install.manifests import namespace, pipeline_manifests, rbac_manifests
from aphex_stages.install.options import (
    SERVICE_ACCOUNT_CONTEXT,
    InstallError,
    InstallOptions,
    UsageError,
    account_profiles,
    config_path,
    git_token_secret,
    infra_pairs,
    region_of,
)
from aphex_stages.install.report import Report
from aphex_stages.install.secrets import (
    WEBHOOK_SECRET,
    ensure_external_id,
    ensure_webhook_secret,
    how_to_read,
)
from aphex_stages.install.stacks import (
    ARTIFACTS_STACK,
    BUCKET_OUTPUT,
    CLUSTER_STACK,
    WEBHOOK_OUTPUT,
    Accounts,
    InfraApp,
    PipelineStacks,
)
from aphex_stages.install.steps import STEPS
from aphex_stages.local.infra_install import EXTERNAL_ID_CONTEXT, PIPELINE_ACCOUNT_CONTEXT
from aphex_stages.termination import terminate_as_interrupt

__all__ = ["run_install"]


class Installer:
    """One `aphex install`: the options, checked, and the steps."""

    def __init__(self, options: InstallOptions, report: Report) -> None:
        self.options = options
        self.report = report
        self.config_file = config_path(options.path)
        self.region = region_of(options.region, os.environ)
        self.profiles = account_profiles(options.account_profiles)
        self.git_token = git_token_secret(options.git_token_secret)
        self.pairs = infra_pairs(options.infra_context)
        self.infra = InfraApp.from_environment()
        self.config: AphexConfig = load_config(self.config_file)
        self.pipeline = self.config.pipeline.name
        self.namespace = self.config.pipeline.namespace

    def run(self) -> None:
        options, report = self.options, self.report
        accounts = self._accounts()
        report.result.update(
            pipeline=self.pipeline,
            namespace=self.namespace,
            account=accounts.account,
            region=self.region,
        )
        stacks = PipelineStacks(self.infra, accounts)
        pairs = ",".join(f"{key}={value}" for key, value in self.pairs.items())
        context = infra_context(self.config_file, {EnvVar.INFRA_CONTEXT: pairs})
        with report.step(1) as step:
            own = stacks.install(context, {}, lambda stack: True, step.note)
        with report.step(2) as step:
            cluster = Cluster(connect(options.kubeconfig, options.context))
            step.note(
                f"Namespace {self.namespace}",
                cluster.apply(namespace(self.namespace, self.pipeline)),
            )
        with report.step(3) as step:
            external_id, made = ensure_external_id(cluster, self.namespace, self.pipeline)
            step.note(f"Secret {EXTERNAL_ID_SECRET}", made)
            webhook = ensure_webhook_secret(
                cluster, self.namespace, self.pipeline, options.webhook_secret_file
            )
            step.note(f"Secret {WEBHOOK_SECRET.name}", webhook)
            step.tell(f"read the webhook secret with: {how_to_read(self.namespace)}")
        with report.step(4) as step:
            targets = stacks.install(
                {**context, PIPELINE_ACCOUNT_CONTEXT: accounts.account},
                {EXTERNAL_ID_CONTEXT: external_id},
                lambda stack: stack.artifact_id not in own,
                step.note,
            )
            if not targets:
                step.tell("none to make: every environment names its own role_arn")
        with report.step(5) as step:
            settings = self._settings(stacks, own, pairs)
            for doc in rbac_manifests(self.config, settings, accounts.account):
                step.note(_name(doc), cluster.apply(doc))
        with report.step(6) as step:
            docs = pipeline_manifests(self.config, settings)
            for doc in docs:  # the server checks every write before any is made
                cluster.apply(doc, dry_run=True)
            for doc in docs:
                step.note(_name(doc), cluster.apply(doc))
        with report.step(7) as step:
            report.result["webhook_url"] = settings.webhook_url or None
            for line in self._webhook_lines(settings):
                step.tell(line)

    def _accounts(self) -> Accounts:
        try:
            return Accounts(self.region, self.options.aws_endpoint, self.profiles)
        except ValueError as error:  # LocalAws: not an endpoint it can use
            raise UsageError(f"--aws-endpoint: {error}") from None

    def _settings(
        self, stacks: PipelineStacks, own: dict[str, StackArtifact], pairs: str
    ) -> GeneratorSettings:
        """The generator's settings of this install: its bucket, region, webhook and the
        install-time context (never the ExternalId: pods read that from its Secret)."""
        artifacts = stacks.outputs(own[ARTIFACTS_STACK].name) if ARTIFACTS_STACK in own else None
        if not artifacts or BUCKET_OUTPUT not in artifacts:
            raise InstallError(f"the artifacts stack has no {BUCKET_OUTPUT} output; run again")
        webhook_url = ""
        if CLUSTER_STACK in own:
            webhook_url = (stacks.outputs(own[CLUSTER_STACK].name) or {}).get(WEBHOOK_OUTPUT, "")
        defaults = GeneratorSettings()
        return GeneratorSettings(
            artifact_bucket=artifacts[BUCKET_OUTPUT],
            aws_region=self.region,
            service_account=self.pairs.get(SERVICE_ACCOUNT_CONTEXT, defaults.service_account),
            infra_context=pairs or None,
            webhook_secret=WEBHOOK_SECRET,
            webhook_url=webhook_url,
            git_token_secret=self.git_token,
            github_api_url=self.options.github_api_url or None,
        )

    def _webhook_lines(self, settings: GeneratorSettings) -> list[str]:
        if not settings.webhook_url:
            return [
                "no webhook endpoint: without the cluster stack (aphex:stacks=artifacts) there"
                " is no load balancer in front of the EventSource; expose its service (port"
                f" {settings.webhook_port}, path {settings.webhook_endpoint}) yourself and"
                " register that URL in GitHub"
            ]
        return [
            settings.webhook_url,
            "register it in the repository's Settings > Webhooks: this Payload URL, content"
            " type application/json, the secret printed by"
            f" `{how_to_read(self.namespace)}`, just the push event",
        ]


def _name(doc: dict[str, Any]) -> str:
    return f"{doc['kind']} {doc['metadata']['name']}"


def _config_problem(error: ConfigError) -> str:
    problems = [str(problem) for problem in error.problems] or [str(error)]
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more: `aphex validate` lists them)" if more else "")


def run_install(
    options: InstallOptions, out: TextIO | None = None, errors: TextIO | None = None
) -> int:
    """Run the install; 0 done, 1 a step failed (run again to resume), 2 usage, 130
    interrupted. Errors are one line on `errors`; with -o json `out` gets one object."""
    report = Report(STEPS, options.output, out or sys.stdout, errors or sys.stderr)
    try:
        with terminate_as_interrupt():  # SIGTERM as Ctrl-C: the CDK CLI is stopped too
            Installer(options, report).run()
    except UsageError as error:
        return report.finish(str(error), 2)
    except InstallError as error:
        return report.finish(f"{error}; fix that and run `aphex install` again to resume", 1)
    except ConfigError as error:
        return report.finish(_config_problem(error), 1)
    except KeyboardInterrupt:
        return report.finish("interrupted; run `aphex install` again to resume", 130)
    except Exception as error:  # the last guard: still one line (and the JSON object)
        if os.environ.get("APHEX_DEBUG"):
            raise
        return report.finish(f"{type(error).__name__}: {error}", 1)
    return report.finish(None, 0)
