"""Bootstrap the CDK into a local AWS endpoint for every (account, region) a config uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aphex_stages.cdk import AwsTarget, CdkRunner, LocalAws, assume_role

#: The role every target account's deploys go through (the config's default role name).
DEPLOY_ROLE = "arn:aws:iam::{account}:role/aphex-deploy"


def account_target(
    endpoint: str, account: str, region: str, *, server_log: Path | None = None
) -> AwsTarget:
    """A local target whose calls land in `account` (moto honours AssumeRole accounts)."""
    local = LocalAws(endpoint, region=region, server_log=server_log)
    return assume_role(local, DEPLOY_ROLE.format(account=account), session_name="aphex-local")


def bootstrap_local(
    endpoint: str,
    environments: Iterable[tuple[str, str]],
    *,
    cli: Path,
    timeout: float = 120.0,
    on_line: Callable[[str], None] | None = None,
    server_log: Path | None = None,
) -> dict[tuple[str, str], AwsTarget]:
    """`cdk bootstrap` each (account, region) at `endpoint`, in parallel; their targets."""
    pairs = list(dict.fromkeys(environments))
    targets = {pair: account_target(endpoint, *pair, server_log=server_log) for pair in pairs}

    def run(pair: tuple[str, str]) -> None:
        CdkRunner(target=targets[pair], cli=cli, timeout=timeout, on_line=on_line).bootstrap(*pair)

    with ThreadPoolExecutor(max_workers=max(1, len(pairs))) as pool:
        list(pool.map(run, pairs))
    return targets
