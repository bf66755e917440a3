"""The CDK CLI wrapper of the environment stage: the pinned ``cdk`` against real or local AWS.

    from aphex_stages.cdk import CdkRunner, LocalAws, output_env_vars

    cdk = CdkRunner(target=LocalAws("http://localhost:5000"), on_line=print, timeout=300)
    cdk.bootstrap("111111111111", "us-east-1")
    assembly = cdk.synth("app", "cdk.out", {"environment": "dev", "stage": "dev"})
    outputs = cdk.deploy(assembly.directory, ["StorageStack", "MessagingStack"], "outputs.json")
    env = output_env_vars(outputs)          # {"STORAGE_STACK_BUCKET_NAME": ..., ...}
    assert not cdk.diff(assembly.directory)

One synth per environment; deploy and diff read that assembly (``--app DIR``), never the app.
"""

from aphex_stages.cdk.assembly import CloudAssembly, StackArtifact, read_cloud_assembly
from aphex_stages.cdk.aws import (
    DEPLOY_FLAGS,
    DIFF_FLAGS,
    AwsCredentials,
    AwsTarget,
    LocalAws,
    assume_role,
)
from aphex_stages.cdk.cli import CDK_CLI_ENV, find_app_cdk_cli, find_cdk_cli
from aphex_stages.cdk.errors import (
    CdkCliNotFoundError,
    CdkCommandError,
    CdkDeployError,
    CdkError,
    CdkTimeoutError,
    MissingContextError,
)
from aphex_stages.cdk.failures import CdkFailure, parse_failure
from aphex_stages.cdk.outputs import env_var_name, output_env_vars, read_outputs_file, upper_snake
from aphex_stages.cdk.runner import CDK_ENV, CdkRunner, ContextValue, context_args, synth_counts

__all__ = [
    "CDK_CLI_ENV",
    "CDK_ENV",
    "DEPLOY_FLAGS",
    "DIFF_FLAGS",
    "AwsCredentials",
    "AwsTarget",
    "CdkCliNotFoundError",
    "CdkCommandError",
    "CdkDeployError",
    "CdkError",
    "CdkFailure",
    "CdkRunner",
    "CdkTimeoutError",
    "CloudAssembly",
    "ContextValue",
    "LocalAws",
    "MissingContextError",
    "StackArtifact",
    "assume_role",
    "context_args",
    "env_var_name",
    "find_app_cdk_cli",
    "find_cdk_cli",
    "output_env_vars",
    "parse_failure",
    "read_cloud_assembly",
    "read_outputs_file",
    "synth_counts",
    "upper_snake",
]
