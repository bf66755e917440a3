"""`aphex local reset [REPO]`: forget what local runs of a repository keep between runs.

Local runs keep the embedded AWS's resources (``.aphex/local/aws/state.bin``: the CDK
bootstrap, the pipeline's and the app's stacks, the artifacts and the heads), the local
Kubernetes API server's objects (``cluster.json``: the live WorkflowTemplate, the
workflows) and monitoring's records (``records/``, put back into the bucket at every run).
Reset removes the three, so that the next run starts as the first did; the task logs
(``runs/``), the Secrets' files (``secrets/``) and moto's logs stay.

It refuses while a local run of the repository is running: the run holds the lock of
``cluster.json`` (taken here too, so no run starts while the files go).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aphex_stages.local.kubeapi.store import StateFileError, lock_state_file
from aphex_stages.local.layout import LocalPaths, LocalRunError, repository_top

__all__ = ["ResetError", "add_local_parser", "reset_local_state", "run_local_command"]


class ResetError(Exception):
    """The state could not be reset; the message says what to do."""


def add_local_parser(commands: Any) -> None:
    """`aphex local reset`: its options and --help."""
    local = commands.add_parser(
        "local",
        help="the state local runs keep (`aphex local reset`)",
        description="Manage what `aphex run --local` keeps between runs of a repository.",
    )
    actions = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    reset = actions.add_parser(
        "reset",
        help="forget the local AWS and cluster state: the next run starts clean",
        description="Remove the embedded AWS's saved resources, the local cluster's objects"
        " and the run records of REPO's local runs; task logs and secrets stay. Refused while"
        " a local run of REPO is running.",
    )
    reset.add_argument("repo", nargs="?", default=".", help="git repository (default: .)")
    reset.add_argument("-o", "--output", choices=("text", "json"), default="text")


@contextlib.contextmanager
def _no_run(paths: LocalPaths) -> Iterator[None]:
    """Hold the lock a local run holds while it runs (the local cluster state's)."""
    try:
        handle = lock_state_file(paths.cluster_state)
    except StateFileError:
        raise ResetError(
            f"a local run of {paths.root.parent.parent} is running; let it end (or stop"
            " it with Ctrl-C), then reset"
        ) from None
    with handle:
        yield


def _remove(path: Path) -> bool:
    if path.is_dir():
        shutil.rmtree(path)
        return True
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def reset_local_state(repo: Path) -> dict[str, Any]:
    """Remove the state local runs of `repo` keep; what was removed and what stays."""
    try:
        top = repository_top(repo)
    except LocalRunError as error:
        raise ResetError(str(error)) from None
    paths = LocalPaths.of(top)
    removed: list[str] = []
    if paths.root.is_dir():
        with _no_run(paths):
            stale = list(paths.aws.glob(f".{paths.aws_state.name}.*.tmp"))
            for path in [paths.aws_state, *stale, paths.cluster_state, paths.records]:
                if _remove(path) and not path.name.endswith(".tmp"):
                    removed.append(str(path))
    kept = [str(p) for p in (paths.runs, paths.secrets) if p.exists()]
    return {"repo": str(top), "removed": removed, "kept": kept}


def run_local_command(args: argparse.Namespace) -> int:
    """`aphex local ACTION`: 0 done, 1 refused (a run is running, not a repository)."""
    from aphex_stages.clierror import report_error

    try:
        result = reset_local_state(Path(args.repo))
    except (ResetError, OSError) as error:
        return report_error("local reset", str(error), args.output)
    if args.output == "json":
        print(json.dumps(result))
    elif result["removed"]:
        names = ", ".join(Path(p).relative_to(result["repo"]).as_posix() for p in result["removed"])
        print(
            f"removed {names}: the next `aphex run --local` starts clean (task logs and"
            " secrets stay)"
        )
    else:
        print(f"nothing to reset in {result['repo']}: no local run kept any state")
    return 0
