"""Synthesize the app once, offline, and read its stacks: what `aphex init` knows of the app.

The real CDK CLI (``cdk synth --quiet --no-lookups``) runs in the app's folder with the
context the environment stage gives (``account``, ``region``, ``environment``) and
``CDK_DEFAULT_ACCOUNT``/``CDK_DEFAULT_REGION`` set to the same placeholders. The machine's
AWS credentials and config are hidden: init makes no AWS call (an app that needs context
lookups must have them in ``cdk.context.json``, as in the pipeline). The assembly goes to a
private temporary folder, removed afterwards. The CDK CLI is the app's own (see
:func:`aphex_stages.cdk.find_app_cdk_cli`), and the app runs with PATH minus the bin folder
of the Python running aphex, so ``python3 app.py`` gets the app's interpreter even when
aphex's venv is activated.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aphex_stages.cdk import (
    AwsTarget,
    CdkCommandError,
    CdkError,
    CdkRunner,
    env_var_name,
    find_app_cdk_cli,
)
from aphex_stages.init.assembly import output_keys, stacks_in_order
from aphex_stages.init.errors import InitError
from aphex_stages.local.commands import search_path

__all__ = ["AppStack", "SYNTH_TIMEOUT", "synthesize"]

SYNTH_TIMEOUT = 600.0
_HIDDEN = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
)


@dataclass(frozen=True, kw_only=True)
class _Offline(AwsTarget):
    """No AWS at all: no credentials, no config files, no instance metadata."""

    account: str

    def environ(self) -> dict[str, str | None]:
        changes: dict[str, str | None] = {name: None for name in _HIDDEN}
        changes["AWS_CONFIG_FILE"] = os.devnull
        changes["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        changes["AWS_EC2_METADATA_DISABLED"] = "true"
        changes["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ left in the app's tree
        changes["CDK_DEFAULT_ACCOUNT"] = self.account
        changes["CDK_DEFAULT_REGION"] = self.region or "us-east-1"
        changes.update(super().environ())
        return changes


@dataclass(frozen=True)
class AppStack:
    """One stack of the app: its CloudFormation name, where the app pins it (``None``:
    wherever the pipeline deploys it) and each output's variable in the tests."""

    name: str
    account: str | None
    region: str | None
    outputs: dict[str, str] = field(default_factory=dict)


def synthesize(
    app_dir: Path,
    *,
    account: str,
    region: str,
    environment: str,
    on_line: Callable[[str], None] | None = None,
) -> tuple[AppStack, ...]:
    """The app's stacks in dependency order; InitError (one line) when synth fails."""
    try:
        cli = find_app_cdk_cli(app_dir)
    except CdkError as error:
        raise InitError(str(error)) from None
    runner = CdkRunner(
        target=_Offline(account=account, region=region),
        cli=cli,
        on_line=on_line,
        timeout=SYNTH_TIMEOUT,
        env={"PATH": search_path()},  # the app's python3, never the one running aphex
    )
    context = {"account": account, "region": region, "environment": environment}
    with tempfile.TemporaryDirectory(prefix="aphex-init-") as scratch:
        try:
            assembly = runner.synth(app_dir, Path(scratch) / "cdk.out", context)
        except CdkCommandError as error:
            raise InitError(
                f"{error}; make `cdk synth` work in {app_dir}, then run aphex init again"
            ) from None
        except CdkError as error:  # missing context: the message says what to do
            raise InitError(str(error)) from None
        stacks = stacks_in_order(assembly)
        return tuple(
            AppStack(
                name=stack.name,
                account=stack.account,
                region=stack.region,
                outputs=_variables(stack.name, output_keys(assembly, stack)),
            )
            for stack in stacks
        )


def _variables(stack: str, keys: tuple[str, ...]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for key in keys:
        try:
            variables[key] = env_var_name(stack, key)
        except ValueError:
            continue
    return variables
