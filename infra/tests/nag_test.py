"""cdk-nag: every acknowledgement has a reason and matches a real finding; nothing else is
found. One extra synth of the whole app with acknowledgements switched off."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.helpers import INSTALL_SECRET, PIPELINE_ACCOUNT, SAMPLE_CONTEXT

from aphex_infra import nag


@pytest.fixture(scope="module")
def findings(module_tmp: Path) -> set[tuple[str, str]]:
    """(finding id, construct path) of every finding when nothing is acknowledged."""
    from aws_cdk import Validations

    from aphex_infra.stacks import build, new_app

    class _Unacknowledged:
        @staticmethod
        def of(scope: Any) -> Any:
            real = Validations.of(scope)
            return SimpleNamespace(add_plugins=real.add_plugins, acknowledge=lambda *_: None)

    context = {**SAMPLE_CONTEXT, "aphex:pipelineAccount": PIPELINE_ACCOUNT, **INSTALL_SECRET}
    app = new_app(context, outdir=str(module_tmp))
    original = nag.Validations
    nag.ACKNOWLEDGED.clear()
    nag.Validations = _Unacknowledged  # type: ignore[assignment, misc]
    try:
        build(app)
        with pytest.raises(RuntimeError, match="ValidationFailed"):
            app.synth()
    finally:
        nag.Validations = original  # type: ignore[misc]
    report = json.loads((module_tmp / "validation-report.json").read_text())
    return {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def test_every_acknowledgement_has_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        nag.acknowledge(SimpleNamespace(node=SimpleNamespace(path="x")), "AwsSolutions-S1", "")  # type: ignore[arg-type]


def test_acknowledgements_match_findings_exactly(findings: set[tuple[str, str]]) -> None:
    acknowledged = list(nag.ACKNOWLEDGED)
    assert acknowledged, "no acknowledgement was recorded"
    for ack in acknowledged:
        assert len(ack.reason) >= nag.MIN_REASON
        matched = [f for f in findings if f[0] == ack.rule and f[1].startswith(ack.path + "/")]
        assert matched, f"stale acknowledgement: {ack.rule} on {ack.path}"
    for rule, path in findings:
        assert any(
            rule == ack.rule and path.startswith(ack.path + "/") for ack in acknowledged
        ), f"finding without an acknowledgement: {rule} at {path}"
