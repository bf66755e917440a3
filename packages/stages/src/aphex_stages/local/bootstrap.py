"""Bootstrap the CDK into a local AWS endpoint for every (account, region) a config uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aphex_stages.cdk import AwsTarget, CdkRunner, LocalAws, assume_role
from aphex_stages.cdk.aws import boto3_client

#: The role every target account's deploys go through (the config's default role name).
DEPLOY_ROLE = "arn:aws:iam::{account}:role/aphex-deploy"
#: What `cdk bootstrap` (default qualifier) writes last; its presence means "bootstrapped".
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"


def account_target(
    endpoint: str, account: str, region: str, *, server_log: Path | None = None
) -> AwsTarget:
    """A local target whose calls land in `account` (moto honours AssumeRole accounts)."""
    local = LocalAws(endpoint, region=region, server_log=server_log)
    return assume_role(local, DEPLOY_ROLE.format(account=account), session_name="aphex-local")


def is_bootstrapped(target: AwsTarget) -> bool:
    """Whether the CDK's bootstrap version parameter exists for `target`'s account/region."""
    try:
        boto3_client(target, "ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)
    except Exception:  # not found, or not readable: bootstrap (it is idempotent)
        return False
    return True


def bootstrap_local(
    endpoint: str,
    environments: Iterable[tuple[str, str]],
    *,
    cli: Path,
    timeout: float = 120.0,
    on_line: Callable[[str], None] | None = None,
    server_log: Path | None = None,
) -> dict[tuple[str, str], AwsTarget]:
    """`cdk bootstrap` each (account, region) at `endpoint`, in parallel; their targets.

    A pair whose bootstrap stack already answers (its version parameter is in SSM, as when
    a run reuses a moto server) is not bootstrapped again.
    """
    pairs = list(dict.fromkeys(environments))
    targets = {pair: account_target(endpoint, *pair, server_log=server_log) for pair in pairs}

    def run(pair: tuple[str, str]) -> None:
        if is_bootstrapped(targets[pair]):
            return
        CdkRunner(target=targets[pair], cli=cli, timeout=timeout, on_line=on_line).bootstrap(*pair)

    with ThreadPoolExecutor(max_workers=max(1, len(pairs))) as pool:
        list(pool.map(run, pairs))
    return targets
