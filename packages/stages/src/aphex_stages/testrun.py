"""Run an environment's post-deployment test commands and store what they did beside the artifact.

    run = run_environment_tests(job, on_line=print)     # raises StageError on a failure

Each command of ``tests.commands`` runs in order in the artifact's tree, within one budget
of ``tests.timeout_minutes`` (``$APHEX_TEST_TIMEOUT_SECONDS`` overrides it), with:

* every stack output as ``<STACK>_<OUTPUT>`` (``outputs/<environment>.json`` beside the
  artifact, written by the environment stage), each listed in the log as
  ``test variable NAME=value`` and kept in the summary;
* ``AWS_REGION``/``AWS_DEFAULT_REGION`` of the environment and credentials of its role;
* ``APHEX_TEST_REPORTS_DIR``: a directory for JUnit XML reports.

The first failing command stops the run; its cause begins with the tests pytest reported
as ``FAILED`` (or ``ERROR``): ``failed tests: a.py::test_x, ... (test command 1/1 ...)``. The summary (commands, exit codes, durations, output tails, the
failing tests, the test variables) and the reports (files in that directory, and ``**/junit*.xml`` written in
the tree during the run) go to ``tests/<environment>/`` beside the artifact.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aphex_config import TestSettings
from aphex_generator import EnvVar, outputs_name, tests_prefix
from aphex_stages.artifact import read_beside, s3_client, upload_beside
from aphex_stages.cdk import output_env_vars, read_outputs_file
from aphex_stages.cdk.aws import apply_environ
from aphex_stages.environment_job import (
    EnvironmentJob,
    FetchedEnvironment,
    app_path,
    environment_target,
    fetch_environment,
    seconds_from_env,
)
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.process import describe_command, describe_exit, run_command
from aphex_stages.testlog import failed_test, failed_tests_cause, variable_lines

__all__ = [
    "REPORTS_DIR_ENV",
    "TEST_TIMEOUT_ENV",
    "CommandOutcome",
    "TestRun",
    "find_reports",
    "run_commands",
    "run_environment_tests",
]

TEST_TIMEOUT_ENV = EnvVar.TEST_TIMEOUT_SECONDS
REPORTS_DIR_ENV = EnvVar.TEST_REPORTS_DIR
_JUNIT_PREFIX = "junit"
_SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "__pycache__"})

_log = logging.getLogger("aphex.testrun")


@dataclass(frozen=True)
class CommandOutcome:
    """How one test command ended: ``passed``, ``failed``, ``timed-out`` or ``skipped``.

    ``exit_code`` is None for a command that never ran (after a failure, or out of time);
    ``failed_tests`` are the tests its output reported as ``FAILED`` or ``ERROR`` (pytest).
    """

    index: int
    command: str
    status: str
    exit_code: int | None = None
    duration_seconds: float = 0.0
    tail: tuple[str, ...] = ()
    failed_tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestRun:
    """The outcome of an environment's tests and the keys they were stored under."""

    __test__ = False  # not a pytest test class, despite the name

    environment: str
    outcomes: tuple[CommandOutcome, ...]
    timeout_seconds: float
    timeout_source: str = "tests.timeout_minutes"
    reports: tuple[str, ...] = ()
    stored: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()  # (name, value): the stack outputs' variables

    @property
    def passed(self) -> bool:
        return all(outcome.status == "passed" for outcome in self.outcomes)

    def summary(self, job: EnvironmentJob) -> dict[str, Any]:
        """The JSON summary stored as ``tests/<environment>/summary.json``."""
        return {
            "pipeline": job.pipeline,
            "commit": job.commit,
            "environment": self.environment,
            "status": "passed" if self.passed else "failed",
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "timeout_seconds": self.timeout_seconds,
            "timeout_source": self.timeout_source,
            "commands": [
                {
                    **asdict(outcome),
                    "tail": list(outcome.tail),
                    "failed_tests": list(outcome.failed_tests),
                }
                for outcome in self.outcomes
            ],
            "reports": list(self.reports),
            "variables": dict(self.variables),
        }

    def failure(self) -> StageError | None:
        """The StageError for the first command that did not pass, if any."""
        total = len(self.outcomes)
        for outcome in self.outcomes:
            where = f"test command {outcome.index}/{total} `{outcome.command}`"
            if outcome.status == "timed-out":
                return StageError(
                    ExitCode.TIMEOUT,
                    f"{where} did not finish within the tests' timeout of"
                    f" {self.timeout_seconds:g} s ({self.timeout_source}) and was stopped",
                    details=outcome.tail,
                )
            if outcome.status == "failed":
                assert outcome.exit_code is not None
                cause = f"{where} {describe_exit(outcome.exit_code)}"
                failed = failed_tests_cause(outcome.failed_tests)
                if failed:  # the tests first: a cause shown cut keeps its head
                    cause = f"{failed} ({cause})"
                return StageError(ExitCode.COMMAND_FAILED, cause, details=outcome.tail)
        return None


def run_commands(
    commands: Sequence[str | Sequence[str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None] | None = None,
) -> tuple[CommandOutcome, ...]:
    """Run ``commands`` in order within ``timeout`` seconds in all; stop at the first failure."""
    deadline = time.monotonic() + timeout
    outcomes: list[CommandOutcome] = []
    for index, command in enumerate(commands, start=1):
        text = describe_command(command)
        remaining = deadline - time.monotonic()
        if outcomes and outcomes[-1].status != "passed":
            outcomes.append(CommandOutcome(index, text, "skipped"))
            continue
        if remaining <= 0:
            outcomes.append(CommandOutcome(index, text, "timed-out"))
            continue
        _log.info("test command %d/%d: %s", index, len(commands), text)
        failed: list[str] = []

        def line_seen(line: str, failed: list[str] = failed) -> None:
            name = failed_test(line)
            if name is not None:
                failed.append(name)
            if on_line is not None:
                on_line(line)

        result = run_command(command, cwd=cwd, env=env, timeout=remaining, on_line=line_seen)
        status = "passed" if result.ok else "timed-out" if result.timed_out else "failed"
        outcomes.append(
            CommandOutcome(
                index=index,
                command=text,
                status=status,
                exit_code=result.exit_code,
                duration_seconds=round(result.duration, 3),
                tail=result.tail,
                failed_tests=tuple(dict.fromkeys(failed)) if not result.ok else (),
            )
        )
    return tuple(outcomes)


def find_reports(reports_dir: Path, tree: Path, since: float) -> list[tuple[str, Path]]:
    """Reports to keep: every file in ``reports_dir``, and ``junit*.xml`` in ``tree`` changed
    since ``since`` (a time stamp); as (name to store under, path)."""
    found: dict[Path, str] = {}
    if reports_dir.is_dir():
        for path in sorted(reports_dir.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found[path] = path.relative_to(reports_dir).as_posix()
    for directory, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(directory) / name
            if not (name.startswith(_JUNIT_PREFIX) and name.endswith(".xml")):
                continue
            if path.is_symlink() or path in found or path.stat().st_mtime < since:
                continue
            found[path] = "tree/" + path.relative_to(tree).as_posix()
    return [(name, path) for path, name in found.items()]


def _output_variables(s3: Any, job: EnvironmentJob, fetched: FetchedEnvironment) -> dict[str, str]:
    """The stack outputs of the environment as the tests' variables."""
    data = read_beside(
        s3,
        job.bucket,
        fetched.location,
        outputs_name(fetched.env.name),
        missing=f"no stack outputs of {fetched.env.name} for commit {job.commit[:12]};"
        " did the environment stage succeed?",
    )
    outputs_file = fetched.scratch / "outputs.json"
    outputs_file.write_bytes(data)
    try:
        variables = output_env_vars(read_outputs_file(outputs_file))
    except (ValueError, RuntimeError) as error:
        raise StageError(ExitCode.ARTIFACT_INVALID, f"stack outputs: {error}") from None
    return variables


def _test_environ(
    job: EnvironmentJob,
    fetched: FetchedEnvironment,
    variables: Mapping[str, str],
    reports_dir: Path,
) -> dict[str, str]:
    """This process's environment plus the role's credentials, region and stack outputs."""
    target = environment_target(job, fetched.env)
    environ = apply_environ(os.environ, target.environ())
    environ.update(variables)
    environ[REPORTS_DIR_ENV] = str(reports_dir)
    return environ


def _store(
    s3: Any,
    job: EnvironmentJob,
    fetched: FetchedEnvironment,
    run: TestRun,
    reports: list[tuple[str, Path]],
) -> tuple[str, ...]:
    prefix = tests_prefix(fetched.env.name)
    keys = [
        upload_beside(
            s3,
            job.bucket,
            fetched.location,
            prefix + "reports/" + name,
            path.read_bytes(),
            content_type="application/xml",
        )
        for name, path in reports
    ]
    summary = json.dumps(run.summary(job), indent=2).encode("utf-8")
    keys.append(upload_beside(s3, job.bucket, fetched.location, prefix + "summary.json", summary))
    return tuple(keys)


def _budget(settings: TestSettings, timeout: float | None) -> tuple[float, str]:
    """Seconds for all test commands together, and where that number came from."""
    if timeout is not None:
        return timeout, "the timeout argument"
    if os.environ.get(TEST_TIMEOUT_ENV, "").strip():
        return seconds_from_env(TEST_TIMEOUT_ENV, 0.0), TEST_TIMEOUT_ENV
    return settings.timeout_minutes * 60.0, "tests.timeout_minutes"


def run_environment_tests(
    job: EnvironmentJob,
    *,
    s3: Any | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    log: logging.Logger | None = None,
) -> TestRun:
    """Run the environment's tests and store the results; raise StageError if one failed.

    An environment without tests passes with nothing run or stored.
    """
    log = log or _log
    s3 = s3 if s3 is not None else s3_client()
    fetched = fetch_environment(job, s3)
    settings = fetched.env.tests
    if settings is None:
        log.info("%s has no tests in aphex-config.yaml; nothing to run", fetched.env.name)
        return TestRun(environment=fetched.env.name, outcomes=(), timeout_seconds=0.0)
    budget, source = _budget(settings, timeout)
    reports_dir = fetched.scratch / "test-reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    variables = _output_variables(s3, job, fetched)
    log.info("%d test variable(s) from the stack outputs", len(variables))
    for line in variable_lines(variables):
        log.info("%s", line)
    environ = _test_environ(job, fetched, variables, reports_dir)
    environ.update(app_path(fetched, log=log, on_line=on_line))
    since = time.time()
    outcomes = run_commands(
        settings.commands, cwd=fetched.tree, env=environ, timeout=budget, on_line=on_line
    )
    reports = find_reports(reports_dir, fetched.tree, since)
    run = TestRun(
        environment=fetched.env.name,
        outcomes=outcomes,
        timeout_seconds=budget,
        timeout_source=source,
        reports=tuple(name for name, _ in reports),
        variables=tuple(sorted(variables.items())),
    )
    run = dataclasses.replace(run, stored=_store(s3, job, fetched, run, reports))
    where = f"s3://{job.bucket}/{fetched.location.key(tests_prefix(fetched.env.name))}"
    log.info("stored the test summary and %d report(s) under %s", len(reports), where)
    failure = run.failure()
    if failure is not None:
        raise StageError(failure.code, failure.cause, [*failure.details, f"results: {where}"])
    return run
