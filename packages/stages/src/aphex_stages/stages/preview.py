"""``aphex-stage-preview``: before an environment's approval gate, what its deploy would
change (``cdk diff`` of each stack against the environment, as its deploy identity).

The work is :func:`aphex_stages.preview.preview_environment`; this module wires it into the
stage skeleton and hands the change set's text to Argo as the output parameter
``changeset`` (cut to ``CHANGESET_LIMIT`` bytes; the whole is stored beside the artifact),
so the Argo UI and ``aphex approve`` show it.
"""

from __future__ import annotations

from aphex_generator import CHANGESET_LIMIT, PREVIEW, Output
from aphex_stages.changeset import cut_text
from aphex_stages.environment_job import EnvironmentJob
from aphex_stages.logs import command_output
from aphex_stages.preview import preview_environment
from aphex_stages.runner import Stage, StageContext, write_output

__all__ = ["main", "stage"]


def _work(context: StageContext) -> None:
    result = preview_environment(
        EnvironmentJob.from_stage(context),
        workflow=context.inputs.workflow_name,
        on_line=command_output(context.log),
        log=context.log,
    )
    text = result.changes.render()
    for line in text.splitlines():
        context.log.info("%s", line)
    # not as the skeleton's outputs, which log every value: the text is logged above
    write_output(Output.CHANGESET, cut_text(text, CHANGESET_LIMIT, result.uri))
    context.log.info("change set stored as %s", result.uri)


stage = Stage(
    spec=PREVIEW,
    description="Before an approval gate: what deploying the environment would change, per stack.",
    work=_work,
)
main = stage.main
