"""`aphex diff` and `aphex runs` for a repository's local runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aphex_config import ConfigError
from aphex_generator import EnvVar
from aphex_stages.cluster.kube import KubeCluster
from aphex_stages.generator_settings import generator_settings_from_env
from aphex_stages.local.kubeapi import KubeApiServer, StateFileError
from aphex_stages.local.layout import (
    LOCAL_BUCKET,
    LocalPaths,
    LocalRunError,
    config_at,
    resolve_commit,
)

#: `topology_diff_lines`' code when it found a change (0 when none, 1 invalid, 2 usage).
CHANGED = 3


def topology_diff_lines(repo: Path) -> tuple[list[str], int]:
    """The topology change between the live local template and the config at HEAD, and a
    code: 0 no change, :data:`CHANGED`, 1 an invalid config or state, 2 a usage error."""
    from aphex_generator import diff_topology, render_workflow_template

    try:
        top, sha = resolve_commit(repo, None)
        config = config_at(top, sha)
    except LocalRunError as error:
        return [f"aphex diff: {error}"], 2
    except ConfigError as error:
        return [str(problem) for problem in error.problems], 1
    paths = LocalPaths.of(top)
    if not paths.cluster_state.exists():
        return [
            f"no live template yet: `aphex run --local` installs {config.pipeline.name}"
        ], CHANGED
    try:
        with KubeApiServer(state_file=paths.cluster_state, authenticate=True) as api:
            cluster = KubeCluster.with_token(api.url, api.admin_token, config.pipeline.namespace)
            live = cluster.get_template(config.pipeline.name)
    except StateFileError as error:
        return [f"aphex diff: {error}"], 1
    if live is None:
        return [
            f"no live template yet: `aphex run --local` installs {config.pipeline.name}"
        ], CHANGED
    settings = generator_settings_from_env(
        {EnvVar.ARTIFACT_BUCKET: LOCAL_BUCKET, EnvVar.NAMESPACE: config.pipeline.namespace}
    )
    new = render_workflow_template(config, settings)
    diff = diff_topology(live.doc, new)
    return diff.render_lines(), CHANGED if diff.changed else 0


def local_runs(repo: Path, view: str, workflow: str | None, output: str) -> int:
    """Answer `aphex runs` from the records kept in `.aphex/local/records/`."""
    from aphex_monitoring import main as monitor_main
    from aphex_stages.local.aws import local_aws
    from aphex_stages.local.records import restore_records

    try:
        top, _sha = resolve_commit(repo, None)
    except LocalRunError as error:
        print(f"aphex runs: {error}", file=sys.stderr)
        return 2
    paths = LocalPaths.of(top)
    if not paths.records.is_dir():
        if view == "show":
            print(f"aphex runs: no local run {workflow or ''} here".rstrip(), file=sys.stderr)
            return 1
        if output == "json":  # always valid JSON: an empty list
            print("[]")
        else:
            print("no local runs yet: `aphex run --local` records them", file=sys.stderr)
        return 0
    with local_aws(None, paths.root / "aws") as aws:
        s3 = aws.client("s3")
        s3.create_bucket(Bucket=LOCAL_BUCKET)
        restore_records(s3, LOCAL_BUCKET, paths.records)
        os.environ.update(aws.environ())
        os.environ[EnvVar.ARTIFACT_BUCKET] = LOCAL_BUCKET
        argv = ["runs", view, *([workflow] if workflow else []), "--output", output]
        return monitor_main(argv)
