"""``aphex-stage-environment``: deploy one environment's stacks from the commit's artifact.

The work is :func:`aphex_stages.deploy.deploy_environment`; this module only wires it into
the stage skeleton (options, logs, exit codes, the stage record's output keys).
"""

from __future__ import annotations

from aphex_generator import ENVIRONMENT
from aphex_stages.deploy import deploy_environment
from aphex_stages.environment_job import EnvironmentJob
from aphex_stages.logs import command_output
from aphex_stages.runner import Stage, StageContext

__all__ = ["main", "stage"]


def _work(context: StageContext) -> None:
    result = deploy_environment(
        EnvironmentJob.from_stage(context),
        on_line=command_output(context.log),
        log=context.log,
    )
    context.output_keys.extend(result.output_keys)
    context.log.info(
        "deployed %s; %d output(s) stored as %s",
        ", ".join(result.stacks),
        len(result.output_keys),
        result.outputs_key,
    )
    context.log.info(
        "time: %s", ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.timings.items())
    )


stage = Stage(
    spec=ENVIRONMENT,
    description="Deploy an environment's CDK stacks, in order, from the commit's artifact.",
    work=_work,
)
main = stage.main
