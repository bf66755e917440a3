"""app.py as the CDK CLI runs it: context from CDK_CONTEXT_JSON, output to CDK_OUTDIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import INFRA_DIR, SAMPLE_CONTEXT

from aphex_infra.stacks import feature_flags


def _run_app(outdir: Path, context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({**feature_flags(), **context}),
        "PYTHONPATH": os.pathsep.join([str(INFRA_DIR), *sys.path]),
    }
    return subprocess.run(
        [sys.executable, str(INFRA_DIR / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_local_run_synthesizes_only_the_artifacts_stack(tmp_path: Path) -> None:
    result = _run_app(tmp_path, {**SAMPLE_CONTEXT, "aphex:stacks": "artifacts"})
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = [
        n for n, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"
    ]
    assert stacks == ["AphexArtifactsStack"]
    assert manifest["artifacts"]["AphexArtifactsStack"]["properties"]["stackName"] == (
        "aphex-aphex-sample-artifacts"
    )


def test_missing_pipeline_is_a_clear_error(tmp_path: Path) -> None:
    result = _run_app(tmp_path, {})
    assert result.returncode != 0
    assert "aphex:pipeline: required" in result.stderr
