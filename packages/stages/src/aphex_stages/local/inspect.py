"""`aphex diff` and `aphex runs` for a repository's local runs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from dataclasses import dataclass
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

#: `topology_diff_lines`' code when it found a change (0 when none, 1 invalid).
CHANGED = 3


@dataclass(frozen=True)
class RunsQuery:
    """What `aphex runs` was asked: the view, its run and the list's filters."""

    view: str = "list"  # list | show | deployed
    workflow: str | None = None
    output: str = "text"
    status: str | None = None
    environment: str | None = None
    limit: int | None = None


def topology_diff_lines(repo: Path) -> tuple[list[str], int]:
    """The topology change between the live local template and the config at HEAD, and a
    code: 0 no change, :data:`CHANGED`, 1 not a repository, or a missing or invalid config
    or state."""
    from aphex_generator import diff_topology, render_workflow_template

    try:
        top, sha = resolve_commit(repo, None)
        config = config_at(top, sha)
    except LocalRunError as error:
        return [f"aphex diff: {error}"], 1
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


def local_runs(repo: Path, query: RunsQuery) -> int:
    """Answer `aphex runs` from the records kept in `.aphex/local/records/`; `show` adds
    the test variables its test tasks' logs list."""
    from aphex_stages.clierror import json_error, report_error

    try:
        top, _sha = resolve_commit(repo, None)
    except LocalRunError as error:
        return report_error("runs", str(error), query.output)
    paths = LocalPaths.of(top)
    if not paths.records.is_dir():
        if query.view == "show":
            return report_error("runs", f"no local run {query.workflow} here", query.output)
        if query.output == "json":  # always valid JSON: an empty list
            print("[]")
        else:
            print("no local runs yet: `aphex run --local` records them", file=sys.stderr)
        return 0
    code, out, err = _monitor_runs(paths, query)
    sys.stderr.write(err)  # monitoring's own error line, already "aphex-monitor runs: ..."
    if code != 0:
        problem = err.strip().splitlines()[-1] if err.strip() else f"exit code {code}"
        if query.output == "json":
            print(json_error(problem, code))
        return code
    if query.view != "show":
        sys.stdout.write(out)
        return 0
    variables = logged_test_variables(paths.runs / str(query.workflow))
    if query.output == "json":
        record = json.loads(out)
        record["test_variables"] = variables
        print(json.dumps(record, indent=2, default=str))
    else:
        sys.stdout.write(out)
        if variables:
            print("\ntest variables (from the stack outputs):")
            for task, values in variables.items():
                print(f"  {task}:")
                for name, value in values.items():
                    print(f"    {name}={value}")
    return 0


def _monitor_runs(paths: LocalPaths, query: RunsQuery) -> tuple[int, str, str]:
    """Ask monitoring's `runs` over the restored records: exit code, stdout, stderr."""
    from aphex_monitoring import main as monitor_main
    from aphex_stages.local.aws import local_aws
    from aphex_stages.local.records import restore_records

    argv = ["runs", query.view, *([query.workflow] if query.workflow else [])]
    if query.view == "list":
        argv += ["--status", query.status] if query.status else []
        argv += ["--environment", query.environment] if query.environment else []
        argv += ["--limit", str(query.limit)] if query.limit else []
    argv += ["--output", query.output]
    out, err = io.StringIO(), io.StringIO()
    with local_aws(None, paths.aws) as aws:
        s3 = aws.client("s3")
        s3.create_bucket(Bucket=LOCAL_BUCKET)
        restore_records(s3, LOCAL_BUCKET, paths.records)
        os.environ.update(aws.environ())
        os.environ[EnvVar.ARTIFACT_BUCKET] = LOCAL_BUCKET
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = monitor_main(argv)
    return code, out.getvalue(), err.getvalue()


def logged_test_variables(run_dir: Path) -> dict[str, dict[str, str]]:
    """task -> the test variables its log lists (`test variable NAME=value`), for the tasks
    of one local run that list any."""
    from aphex_stages.testlog import variables_in_log

    found: dict[str, dict[str, str]] = {}
    for log in sorted(run_dir.glob("*.log")) if run_dir.is_dir() else []:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        variables = variables_in_log(lines)
        if variables:
            found[log.stem] = variables
    return found
