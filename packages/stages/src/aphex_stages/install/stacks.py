"""The pipeline's own stacks (the CDK app in infra/): synthesized once per step, and each
stack deployed into its account only when `cdk diff` shows a change.

The app is found as the pipeline stage finds it: ``APHEX_INFRA_APP`` (the folder of its
``cdk.json``), ``APHEX_INFRA_BIN`` (its venv's ``bin``, first on PATH) and the pinned CDK
CLI (``APHEX_CDK_CLI``). A context value that must stay private (the ExternalId) is not
put on the CLI's command line: it goes into the context of a copy of ``cdk.json``, readable
by this user only, in a temporary folder removed afterwards.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from aphex_generator import EnvVar
from aphex_monitoring import register_secret
from aphex_stages.cdk import AwsCredentials, AwsTarget, CdkRunner, LocalAws, find_cdk_cli
from aphex_stages.cdk.assembly import StackArtifact
from aphex_stages.cdk.aws import boto3_client
from aphex_stages.cdk.errors import CdkError
from aphex_stages.install.options import InstallError, UsageError
from aphex_stages.local.bootstrap import account_target

__all__ = [
    "ARTIFACTS_STACK",
    "BUCKET_OUTPUT",
    "CLUSTER_STACK",
    "WEBHOOK_OUTPUT",
    "Accounts",
    "InfraApp",
    "PipelineStacks",
]

#: The pipeline account's stacks of the app (infra/aphex_infra/stacks.py) and the outputs
#: the install reads (infra/aphex_infra/*_stack.py).
ARTIFACTS_STACK = "AphexArtifactsStack"
CLUSTER_STACK = "AphexClusterStack"
BUCKET_OUTPUT = "ArtifactBucketName"
WEBHOOK_OUTPUT = "WebhookUrl"
#: A deploy of the cluster stack takes about 20 minutes.
DEPLOY_TIMEOUT = 3600.0


@dataclass(frozen=True)
class InfraApp:
    """Where the pipeline's own app, its Python and the CDK CLI are."""

    app: Path
    app_bin: str | None
    cli: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> InfraApp:
        env = os.environ if environ is None else environ
        app = env.get(EnvVar.INFRA_APP)
        if not app or not (Path(app) / "cdk.json").is_file():
            raise UsageError(
                f"{EnvVar.INFRA_APP} must name the folder of the pipeline's own CDK app (the"
                " infra/ folder with its cdk.json); set it, and "
                f"{EnvVar.INFRA_BIN} to the bin folder of that app's venv"
            )
        try:
            cli = find_cdk_cli(start=Path(__file__), environ=env)
        except CdkError as error:
            raise UsageError(str(error)) from None
        return cls(Path(app).resolve(), env.get(EnvVar.INFRA_BIN) or None, cli)

    def path_env(self) -> dict[str, str]:
        """PATH with the app's venv first (when given)."""
        if not self.app_bin:
            return {}
        return {"PATH": f"{self.app_bin}{os.pathsep}{os.environ.get('PATH', '')}"}


class Accounts:
    """An AWS target per account: the caller's (the pipeline account), and the others
    through a local endpoint's AssumeRole or the named profile of each."""

    def __init__(self, region: str, endpoint: str | None, profiles: Mapping[str, str]) -> None:
        self.region = region
        self.endpoint = endpoint
        self.profiles = dict(profiles)
        self.pipeline: AwsTarget = (
            LocalAws(endpoint, region=region) if endpoint else AwsTarget(region=region)
        )
        try:
            identity = boto3_client(self.pipeline, "sts").get_caller_identity()
        except Exception as error:  # botocore's many kinds
            where = endpoint or "AWS"
            raise InstallError(
                f"cannot tell the pipeline account at {where} ({type(error).__name__}: "
                f"{error}); give the pipeline account's credentials (AWS_PROFILE, ...)"
            ) from None
        self.account = str(identity["Account"])

    def target(self, account: str, region: str) -> AwsTarget:
        """Credentials of `account`'s admin in `region`."""
        if account == self.account:
            return replace(self.pipeline, region=region)
        if self.endpoint:
            return account_target(self.endpoint, account, region)
        profile = self.profiles.get(account)
        if profile is None:
            raise InstallError(
                f"a stack deploys into account {account}, and these credentials are of"
                f" {self.account}: pass --account-profile {account}=PROFILE (an AWS profile"
                " of that account's admin)"
            )
        return _profile_target(profile, account, region)


def _profile_target(profile: str, account: str, region: str) -> AwsTarget:
    """Real AWS with the credentials of AWS profile `profile`, checked to be `account`'s."""
    import boto3

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        frozen = session.get_credentials().get_frozen_credentials()
        actual = session.client("sts").get_caller_identity()["Account"]
    except Exception as error:  # botocore's many kinds
        raise InstallError(f"AWS profile {profile}: {type(error).__name__}: {error}") from None
    if actual != account:
        raise UsageError(f"--account-profile {account}={profile}: that profile is of {actual}")
    register_secret(frozen.secret_key)
    register_secret(frozen.token)
    credentials = AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)
    return AwsTarget(region=region, credentials=credentials)


class PipelineStacks:
    """Synthesize the app with a context and deploy the stacks that changed."""

    def __init__(self, infra: InfraApp, accounts: Accounts) -> None:
        self.infra = infra
        self.accounts = accounts

    def _runner(self, target: AwsTarget) -> CdkRunner:
        return CdkRunner(
            target=target,
            cli=self.infra.cli,  # its output is not shown: a stack's outputs may be private
            timeout=DEPLOY_TIMEOUT,
            env=self.infra.path_env(),
        )

    def install(
        self,
        context: Mapping[str, str],
        private: Mapping[str, str],
        select: Callable[[StackArtifact], bool],
        note: Callable[[str, str], None],
    ) -> dict[str, StackArtifact]:
        """Synthesize with `context` (and `private`, off the command line), then deploy each
        selected stack whose diff shows a change, in the assembly's order; the selected
        stacks by artifact id."""
        done: dict[str, StackArtifact] = {}
        with tempfile.TemporaryDirectory(prefix="aphex-install-stacks-") as scratch:
            project = _project(self.infra.app, Path(scratch) / "app", private)
            try:
                assembly = self._runner(self.accounts.pipeline).synth(
                    project, Path(scratch) / "cdk.out", context
                )
            except CdkError as error:
                raise InstallError(f"synthesizing the pipeline's own app: {error}") from None
            stacks = [stack for stack in assembly.stacks if select(stack)]
            # Every account's credentials first: a missing one stops before any deploy.
            targets = [
                self.accounts.target(
                    stack.account or self.accounts.account, stack.region or self.accounts.region
                )
                for stack in stacks
            ]
            for stack, target in zip(stacks, targets, strict=True):
                runner = self._runner(target)
                where = f" in account {stack.account}" if stack.account else ""
                try:
                    if runner.diff(assembly.directory, [stack.artifact_id]):
                        out = Path(scratch) / "outputs.json"
                        runner.deploy(assembly.directory, [stack.artifact_id], out)
                        note(stack.name + where, "deployed")
                    else:
                        note(stack.name + where, "unchanged")
                except CdkError as error:
                    raise InstallError(f"stack {stack.name}{where}: {error}") from None
                done[stack.artifact_id] = stack
        return done

    def outputs(self, stack_name: str) -> dict[str, str] | None:
        """The outputs of the pipeline account's stack `stack_name` (None: not deployed)."""
        cloudformation = boto3_client(self.accounts.pipeline, "cloudformation")
        try:
            found = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except Exception as error:  # botocore's ClientError: "does not exist", or worse
            if "does not exist" in str(error):
                return None
            raise InstallError(f"reading the outputs of {stack_name}: {error}") from None
        outputs = (found[0].get("Outputs") or []) if found else []
        return {item["OutputKey"]: item["OutputValue"] for item in outputs}


def _project(app: Path, folder: Path, private: Mapping[str, str]) -> Path:
    """A folder whose cdk.json runs `app`'s command in `app`, with `private` added to its
    context, readable by this user only (the CLI reads a project's cdk.json context)."""
    settings = json.loads((app / "cdk.json").read_text(encoding="utf-8"))
    settings["app"] = f"cd {shlex.quote(str(app))} && {settings['app']}"
    settings["context"] = {**settings.get("context", {}), **private}
    folder.mkdir(mode=0o700)
    descriptor = os.open(folder / "cdk.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(settings, handle)
    lookups = app / "cdk.context.json"
    if lookups.is_file():
        shutil.copyfile(lookups, folder / "cdk.context.json")
    return folder
