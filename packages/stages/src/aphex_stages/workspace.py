"""The commit a stage works on: its checkout and the ``aphex-config.yaml`` at its root."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aphex_config import AphexConfig, ConfigError, parse_config
from aphex_generator import CONFIG_FILE, EnvVar
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.runner import StageContext

if TYPE_CHECKING:  # GitPython is imported only by the stages that check out (clone_commit)
    from aphex_stages.gitrepo import Checkout

__all__ = [
    "Workspace",
    "checkout_source",
    "load_workspace_config",
    "open_workspace",
    "shared_checkout_dir",
]

#: The folder of the pod's shared source volume (``EnvVar.SOURCE``) the checkout goes in.
_CHECKOUT_FOLDER = "checkout"


@dataclass(frozen=True)
class Workspace:
    """A checkout of the stage's commit and the configuration it holds."""

    checkout: Checkout
    config: AphexConfig

    @property
    def path(self) -> Path:
        """The working tree."""
        return self.checkout.path


def load_workspace_config(root: Path) -> AphexConfig:
    """Parse ``root/aphex-config.yaml``.

    StageError(CONFIG_INVALID): the cause is the first problem, the details every problem
    as ``file:line:col: path: message``.
    """
    path = Path(root) / CONFIG_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StageError(
            ExitCode.CONFIG_INVALID,
            f"no {CONFIG_FILE} at the root of the repository at this commit; add one",
        ) from None
    except OSError as error:
        raise StageError(
            ExitCode.CONFIG_INVALID, f"cannot read {CONFIG_FILE}: {error.strerror}"
        ) from None
    try:
        return parse_config(data, source=CONFIG_FILE)
    except ConfigError as error:
        lines = [str(problem) for problem in error.problems] or [str(error)]
        count = len(lines)
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise StageError(
            ExitCode.CONFIG_INVALID, f"{CONFIG_FILE} is invalid: {lines[0]}{more}", details=lines
        ) from None


def checkout_source(context: StageContext) -> Checkout:
    """Check out the stage's commit into a fresh directory under the work directory."""
    work = context.settings.work_dir
    work.mkdir(parents=True, exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix="source-", dir=work))
    inputs = context.inputs
    from aphex_stages.gitrepo import clone_commit

    checkout = clone_commit(inputs.repository, inputs.commit, dest, log=context.log)
    context.log.info(
        "checked out %s at %s in %.1f s", inputs.repository, inputs.commit[:12], checkout.seconds
    )
    return checkout


def shared_checkout_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the build pod's checkout container puts the commit for the build container
    (under ``EnvVar.SOURCE``); None outside such a pod."""
    env = os.environ if environ is None else environ
    source = env.get(EnvVar.SOURCE)
    return Path(source) / _CHECKOUT_FOLDER if source else None


def open_workspace(context: StageContext) -> Workspace:
    """The stage's commit and its configuration: the checkout the pod's checkout container
    made (the build container, which never holds the repository token), else a clone."""
    shared = shared_checkout_dir()
    if shared is not None:
        from aphex_stages.gitrepo import open_checkout

        checkout = open_checkout(shared, context.inputs.commit)
        context.log.info("using the checkout of %s at %s", checkout.url, context.inputs.commit[:12])
    else:
        checkout = checkout_source(context)
    return Workspace(checkout=checkout, config=load_workspace_config(checkout.path))
