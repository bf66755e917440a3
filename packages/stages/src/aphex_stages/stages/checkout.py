"""``aphex-stage-checkout``: check out the commit for the build pod's other containers.

It runs first in the build pod, in the ``checkout`` container, which alone may hold a
private repository's token (``APHEX_GIT_TOKEN_FILE``, a mounted Secret): the ``build``
container that runs the build commands after it never gets the token. It clones exactly
the commit into the pod's source folder (``APHEX_SOURCE``), replacing what an earlier
attempt left there, and checks that its ``aphex-config.yaml`` is valid. It has no AWS
identity and calls no AWS API.
"""

from __future__ import annotations

import shutil

from aphex_generator import CHECKOUT, EnvVar
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.runner import Stage, StageContext
from aphex_stages.workspace import load_workspace_config, shared_checkout_dir

__all__ = ["main", "stage"]


def _work(context: StageContext) -> None:
    inputs, log = context.inputs, context.log
    dest = shared_checkout_dir()
    if dest is None:
        raise StageError(
            ExitCode.USAGE,
            f"{EnvVar.SOURCE} is not set: name the folder the build container reads the"
            " checkout from (the build pod's source volume)",
        )
    if dest.exists():  # a restarted container's earlier attempt
        shutil.rmtree(dest)
    from aphex_stages.gitrepo import clone_commit

    checkout = clone_commit(inputs.repository, inputs.commit, dest, log=log)
    load_workspace_config(checkout.path)  # an invalid config stops the pod here
    log.info(
        "checked out %s at %s into %s in %.1f s",
        inputs.repository,
        inputs.commit[:12],
        dest,
        checkout.seconds,
    )


stage = Stage(
    spec=CHECKOUT,
    description="Check out the commit into the build pod's source folder, the only"
    " container that holds the repository token (no AWS access).",
    work=_work,
)
main = stage.main
