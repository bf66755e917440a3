"""validate(): no false alarms on valid manifests; problems carry a path and a layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from generator_cases import DATA

from aphex_generator import Problem, validate
from aphex_generator.validation.cel import crd_rules

VALID = sorted((DATA / "valid").glob("*.yaml"))


def _docs(path: Path) -> list[tuple[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return [
        (
            f"{path.name}#{i}:{d.get('kind')}/{d['metadata'].get('name') or d['metadata'].get('generateName')}",
            d,
        )
        for i, d in enumerate(docs)
    ]


CASES = [case for path in VALID for case in _docs(path)]


@pytest.mark.parametrize("doc", [d for _, d in CASES], ids=[i for i, _ in CASES])
def test_valid_manifests_have_no_problems(doc: Any) -> None:
    assert [str(p) for p in validate(doc)] == []


def test_the_valid_corpus_covers_every_template_type() -> None:
    seen: set[str] = set()
    for _, doc in CASES:
        spec = doc.get("spec", {})
        spec = spec.get("workflowSpec", spec)
        for tpl in spec.get("templates", []):
            seen |= set(tpl) & {
                "container",
                "script",
                "resource",
                "suspend",
                "dag",
                "steps",
                "containerSet",
                "http",
            }
    assert seen == {
        "container",
        "script",
        "resource",
        "suspend",
        "dag",
        "steps",
        "containerSet",
        "http",
    }


def test_problem_string_is_path_colon_message() -> None:
    problem = Problem("spec.templates[3].container.args", "expected array", "schema")
    assert str(problem) == "spec.templates[3].container.args: expected array"
    assert (
        str(Problem("", "a manifest must be a mapping", "document"))
        == "(root): a manifest must be a mapping"
    )


def test_non_mapping_and_unknown_kinds_are_reported() -> None:
    assert [p.layer for p in validate(["a"])] == ["document"]
    (problem,) = validate({"apiVersion": "argoproj.io/v1alpha1", "kind": "Pod"})
    assert problem.path == "kind" and "unsupported kind" in problem.message
    (problem,) = validate({"apiVersion": "v1", "kind": "Workflow"})
    assert problem.path == "apiVersion"


def test_every_cel_rule_compiles_with_celpy() -> None:
    rules = crd_rules()
    # The v4.1.2 CRD attaches 38 rules to schema nodes: 10 distinct expressions.
    assert rules.compiled == 10
    assert rules.skipped == ()  # none skipped today; keep the count small if celpy lags
