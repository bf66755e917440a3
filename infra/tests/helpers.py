"""Synth helpers for the infra tests: each test module synthesizes once (module-scoped
fixtures) and reads the templates from the cloud assembly."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("NODE_NO_WARNINGS", "1")

INFRA_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = INFRA_DIR.parent

PIPELINE = "aphex-sample"
TOPIC = "arn:aws:sns:us-east-1:123456789012:deploys"
PIPELINE_ACCOUNT = "999999999999"

#: What infra_context() gives for examples/sample-app/aphex-config.yaml, plus a topic.
SAMPLE_CONTEXT: dict[str, str] = {
    "aphex:pipeline": PIPELINE,
    "aphex:namespace": "argo",
    "aphex:environments": "dev=111111111111,staging=111111111111,prod=222222222222",
    "aphex:retentionDays": "90",
    "aphex:snsTopicArn": TOPIC,
}
#: The install's secret ExternalId: the target-account stacks need it (no default).
INSTALL_SECRET: dict[str, str] = {"aphex:externalId": "install-secret-5e6f"}


@dataclass
class Assembly:
    """A synthesized cloud assembly on disk."""

    outdir: Path
    stacks: Any  # aphex_infra.stacks.Stacks

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.outdir / "manifest.json").read_text(encoding="utf-8"))

    def template(self, artifact_id: str) -> dict[str, Any]:
        path = self.outdir / f"{artifact_id}.template.json"
        return json.loads(path.read_text(encoding="utf-8"))

    def template_files(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


def synth(outdir: Path, context: dict[str, str]) -> Assembly:
    """Build the app for ``context`` (with cdk-nag) and synthesize it into ``outdir``."""
    from aphex_infra.stacks import build, new_app

    app = new_app(context, outdir=str(outdir))
    stacks = build(app)
    app.synth()
    return Assembly(outdir, stacks)


def resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    """Resources of ``type_name`` in ``template``, by logical id."""
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == type_name
    }


def cfn_lint_errors(path: Path) -> list[str]:
    """cfn-lint (Python API) errors of one template; warnings and infos are not errors."""
    from cfnlint.api import lint

    matches = lint(path.read_text(encoding="utf-8"), regions=["us-east-1"])
    return [f"{path.name}: {m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
