"""Every copy of the stage contract agrees with `aphex_generator.contract`, and there are
no copies where one could import it.

`aphex_monitoring` imports no other aphex package (the layering rule), so it keeps its own
copies of the few names it shares with the contract: they are compared here.
"""

from __future__ import annotations

import ast
import importlib
import io
import os
import re
import tokenize
from pathlib import Path

import pytest

import aphex_monitoring
from aphex_generator import (
    ENVIRONMENT,
    NOTIFY,
    STAGES,
    EnvVar,
    Label,
    Param,
)

ROOT = Path(os.environ.get("APHEX_REPO_ROOT", Path(__file__).resolve().parents[3]))
#: Where a contract string may be written: the contract itself, and nowhere else in these
#: trees (tests, docs and READMEs explain the names and are not searched).
SEARCHED = ("packages/config/src", "packages/generator/src", "packages/stages/src")
SEARCHED += ("packages/monitoring/src", "images", "infra/aphex_infra", "infra/app.py")
CONTRACT = "packages/generator/src/aphex_generator/contract.py"
#: The copies monitoring keeps (compared below).
MONITORING_COPIES = {
    EnvVar.ARTIFACT_BUCKET: "packages/monitoring/src/aphex_monitoring/settings.py",
    EnvVar.NAMESPACE: "packages/monitoring/src/aphex_monitoring/settings.py",
    EnvVar.WORKFLOW_NAME: "packages/monitoring/src/aphex_monitoring/settings.py",
    NOTIFY.script: "packages/monitoring/src/aphex_monitoring/cli.py",
    EnvVar.SNS_TOPIC_ARN: "packages/monitoring/src/aphex_monitoring/settings.py",
    EnvVar.SLACK_WEBHOOK_URL: "packages/monitoring/src/aphex_monitoring/secrets.py",
    EnvVar.GITHUB_TOKEN: "packages/monitoring/src/aphex_monitoring/secrets.py",
    EnvVar.GITHUB_API_URL: "packages/monitoring/src/aphex_monitoring/settings.py",
}


def _files() -> list[Path]:
    found: list[Path] = []
    for entry in SEARCHED:
        path = ROOT / entry
        if path.is_file():
            found.append(path)
        else:
            found.extend(p for p in path.rglob("*") if p.is_file() and p.suffix != ".json")
    return found


def _literals(path: Path) -> set[str]:
    """The string literals of a Python file (a docstring that mentions a name is not one), or
    the words of any other file (a Dockerfile's `ENV NAME=value`), comments left out."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        found: set[str] = set()
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.STRING:
                try:
                    value = ast.literal_eval(token.string)
                except ValueError:  # an f-string: not a definition
                    continue
                if isinstance(value, str):
                    found.add(value)
        return found
    words: set[str] = set()
    for line in text.splitlines():
        if not line.lstrip().startswith("#"):
            words.update(re.findall(r"[\w./:-]+", line))
    return words


def _quoted_in(value: str) -> list[str]:
    """Files that hold `value` as a string literal (docstrings excepted) or as a word."""
    hits = []
    for path in _files():
        try:
            literals = _literals(path)
        except (UnicodeDecodeError, SyntaxError, tokenize.TokenError):
            continue
        if value in literals:
            hits.append(str(path.relative_to(ROOT)))
    return sorted(hits)


@pytest.mark.parametrize("script", [stage.script for stage in STAGES])
def test_each_console_script_is_named_once(script: str) -> None:
    allowed = {CONTRACT, MONITORING_COPIES.get(script)} - {None}
    assert set(_quoted_in(script)) <= allowed


#: AWS_REGION is AWS's own variable (boto3 and the CDK read it too): not ours to define once.
OWN_NAMES = [name for name in EnvVar.values() if name != EnvVar.REGION]


@pytest.mark.parametrize("value", [*OWN_NAMES, *Label.values(), *Param.values()])
def test_each_pod_variable_label_and_parameter_is_defined_once(value: str) -> None:
    allowed = {CONTRACT, MONITORING_COPIES.get(value)} - {None}
    assert set(_quoted_in(value)) <= allowed, value


def test_monitoring_copies_agree() -> None:
    assert aphex_monitoring.BUCKET_ENV == EnvVar.ARTIFACT_BUCKET
    assert aphex_monitoring.NAMESPACE_ENV == EnvVar.NAMESPACE
    assert aphex_monitoring.WORKFLOW_NAME_ENV == EnvVar.WORKFLOW_NAME
    assert aphex_monitoring.SNS_TOPIC_ENV == EnvVar.SNS_TOPIC_ARN
    assert aphex_monitoring.SLACK_WEBHOOK_ENV == EnvVar.SLACK_WEBHOOK_URL
    assert aphex_monitoring.GITHUB_TOKEN_ENV == EnvVar.GITHUB_TOKEN
    assert NOTIFY.script == aphex_monitoring.PROG
    assert frozenset({ENVIRONMENT.name}) == aphex_monitoring.DEPLOY_STAGES


@pytest.mark.parametrize("spec", STAGES, ids=[stage.name for stage in STAGES])
def test_each_stage_module_runs_its_contract_entry(spec) -> None:  # type: ignore[no-untyped-def]
    module, _, function = spec.entry_point.partition(":")
    loaded = importlib.import_module(module)
    assert callable(getattr(loaded, function))
    stage = getattr(loaded, "stage", None)
    if spec.module.startswith("aphex_stages."):
        assert stage is not None and stage.spec is spec
        assert stage.needs_environment is spec.takes_environment
