"""The sample app as a git repository on disk, and `aphex run --local` over it, for tests.

    sample = SampleRepo(tmp_path / "app")           # a copy of examples/sample-app, committed
    sample.edit_config(lambda data: ...)            # change aphex-config.yaml
    sha = sample.commit("add qa")
    code, text = run_sample(sample, images=True)    # exit code and everything printed
    phases(text)                                    # task -> status of the last workflow
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import git
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]

from aphex_generator import ImageKind
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.local.kubeapi import KubeApiServer
from aphex_stages.local.layout import LocalPaths
from aphex_stages.local.runtime import ImageRuntime, RuntimeError_, find_engine
from aphex_stages.local.session import LocalRunOptions, default_image, run_local
from aphex_testing.cdk import infra_app_env
from aphex_testing.sample_env import sample_app_dir

__all__ = [
    "IMAGES",
    "WORKFLOW_PREFIX",
    "SampleRepo",
    "built_image_ids",
    "local_cluster",
    "phases",
    "run_sample",
]

#: The images `aphex run --local --images` runs by default, by kind.
IMAGES = {kind: default_image(kind) for kind in ImageKind}

#: Every workflow of the sample pipeline starts so (its pipeline name).
WORKFLOW_PREFIX = "aphex-sample-"


class SampleRepo:
    """A git repository holding a copy of the sample app (or of the app folder `source`)."""

    def __init__(self, path: Path, source: Path | None = None) -> None:
        self.path = path
        ignore = shutil.ignore_patterns("cdk.out", ".aphex", "node_modules", "__pycache__")
        shutil.copytree(source or sample_app_dir(), path, ignore=ignore)
        self.repo = git.Repo.init(path, initial_branch="main")
        with self.repo.config_writer() as config:  # no global git identity on a fresh machine
            config.set_value("user", "name", "aphex")
            config.set_value("user", "email", "aphex@localhost")
        self.commit("sample app")

    def commit(self, message: str) -> str:
        """Commit every change; the new commit's SHA."""
        self.repo.git.add(A=True)
        self.repo.git.commit(m=message)
        return str(self.repo.head.commit.hexsha)

    def edit_config(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change aphex-config.yaml through `change(data)` (in place)."""
        path = self.path / "aphex-config.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    @property
    def paths(self) -> LocalPaths:
        return LocalPaths.of(self.path)


@contextlib.contextmanager
def local_cluster(sample: SampleRepo) -> Iterator[KubeCluster]:
    """The local runs' cluster, as its admin (between runs: the state file is free)."""
    with KubeApiServer(state_file=sample.paths.cluster_state, authenticate=True) as api:
        yield KubeCluster.with_token(api.url, api.admin_token, "argo")


def built_image_ids() -> dict[str, str]:
    """Each default image's ID, as the runner reads it (`ImageRuntime.image_info`); the
    calling test fails (never skips) when the engine or an image is missing."""
    try:
        runtime = ImageRuntime(find_engine())
        return {image: runtime.image_info(image).id for image in IMAGES.values()}
    except RuntimeError_ as error:
        pytest.fail(str(error))


def run_sample(sample: SampleRepo, **options: Any) -> tuple[int, str]:
    """`aphex run --local` on the repository with every gate approved: exit code, output.
    The run installs the pipeline's own stacks and so enforces IAM: each task holds only
    its own role."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in infra_app_env().items():
            patch.setenv(name, value)
        code = run_local(LocalRunOptions(repo=sample.path, approve="all", out=out, **options))
    return code, out.getvalue()


def phases(text: str, workflow_index: int = -1, pipeline: str = "aphex-sample") -> dict[str, str]:
    """task → status from the summary table of the given workflow run of `pipeline`."""
    rows = [line.split() for line in text.splitlines() if line.startswith(f"{pipeline}-")]
    workflows = list(dict.fromkeys(row[0] for row in rows))
    chosen = workflows[workflow_index]
    return {row[1]: row[2] for row in rows if row[0] == chosen}
