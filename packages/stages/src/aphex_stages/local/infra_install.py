"""Install the pipeline's own stacks into the local AWS, as `aphex install` does on AWS.

The pipeline's app (``APHEX_INFRA_APP``) is synthesized once with the install's context
(the part moto can hold, the pipeline's account and the install's ExternalId), and each of
its stacks is deployed as the admin of the stack's account: the artifacts stack (the
bucket and one IAM role per kind of work) into the pipeline's account, and each target
account's deploy-role stack into its account. The tasks then run with those roles only.
Later pipeline stages redeploy only the artifacts stack, through their own role.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from aphex_generator import EnvVar
from aphex_stages.cdk import CdkRunner, LocalAws
from aphex_stages.cdk.errors import CdkError
from aphex_stages.infra_deploy import infra_context
from aphex_stages.local.bootstrap import account_target

__all__ = ["PIPELINE_ACCOUNT_CONTEXT", "EXTERNAL_ID_CONTEXT", "install_pipeline_stacks"]

#: The install-only context keys of the pipeline's app (infra/aphex_infra/context.py).
PIPELINE_ACCOUNT_CONTEXT = "aphex:pipelineAccount"
EXTERNAL_ID_CONTEXT = "aphex:externalId"


def install_pipeline_stacks(
    *,
    endpoint: str,
    region: str,
    account: str,
    config_file: Path,
    installation: Mapping[str, str],
    external_id: str,
    cli: Path,
    server_log: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> list[str]:
    """Synthesize the pipeline's app with the install's context and deploy every changed
    stack as its account's admin; the stacks deployed. `installation`: the pipeline pod's variables
    (``APHEX_INFRA_APP``, ``APHEX_INFRA_BIN``, ``APHEX_INFRA_CONTEXT``)."""
    app = Path(installation[EnvVar.INFRA_APP])
    app_bin = installation.get(EnvVar.INFRA_BIN)
    extra = {"PATH": f"{app_bin}{os.pathsep}{os.environ.get('PATH', '')}"} if app_bin else {}
    context = infra_context(config_file, installation)
    context[PIPELINE_ACCOUNT_CONTEXT] = account
    context[EXTERNAL_ID_CONTEXT] = external_id
    admin = LocalAws(endpoint, region=region, server_log=server_log)
    synth = CdkRunner(target=admin, cli=cli, on_line=on_line, env=extra)
    deployed: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="aphex-install-") as scratch:
            assembly = synth.synth(app, Path(scratch) / "cdk.out", context)
            for stack in assembly.stacks:
                owner = stack.account or account
                target = (
                    admin
                    if owner == account
                    else account_target(endpoint, owner, stack.region or region)
                )
                runner = CdkRunner(target=target, cli=cli, on_line=on_line, env=extra)
                # An unchanged stack is left alone (an update would still touch it).
                if runner.diff(assembly.directory, [stack.artifact_id]):
                    runner.deploy(
                        assembly.directory, [stack.artifact_id], Path(scratch) / "out.json"
                    )
                    deployed.append(stack.name)
    except CdkError as error:
        raise CdkError(f"installing the pipeline's own stacks: {error}") from None
    return deployed
