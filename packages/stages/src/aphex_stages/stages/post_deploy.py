"""``aphex-stage-test``: run an environment's post-deployment tests against its stack outputs.

The work is :func:`aphex_stages.testrun.run_environment_tests`; this module only wires it
into the stage skeleton.
"""

from __future__ import annotations

from aphex_generator import TEST
from aphex_stages.environment_job import EnvironmentJob
from aphex_stages.logs import command_output
from aphex_stages.runner import Stage, StageContext
from aphex_stages.testrun import run_environment_tests

__all__ = ["main", "stage"]


def _work(context: StageContext) -> None:
    run = run_environment_tests(
        EnvironmentJob.from_stage(context),
        on_line=command_output(context.log),
        log=context.log,
    )
    context.output_keys.extend(run.stored)
    if run.outcomes:
        context.log.info("%d test command(s) passed", len(run.outcomes))


stage = Stage(
    spec=TEST,
    description="Run an environment's post-deployment test commands with its stack outputs.",
    work=_work,
)
main = stage.main
