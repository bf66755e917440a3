"""The CEL layer: rules evaluated where the CRD attaches them, and exactly as celpy would."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from generator_cases import DATA

from aphex_generator.validation.cel import Rule, _evaluate, _Node, check_cel, clear_memo, crd_rules


def _rules() -> list[Rule]:
    seen: dict[str, Rule] = {}

    def walk(node: _Node) -> None:
        for rule in node.rules:
            seen.setdefault(rule.rule, rule)
        for child in node.props.values():
            walk(child)
        for child in (node.items, node.values):
            if child is not None:
                walk(child)

    walk(crd_rules().root)
    return list(seen.values())


def _samples(template: dict[str, Any]) -> list[Any]:
    """Values of every shape the rules meet: tasks, templates, artifacts, gauges..."""
    docs = [template]
    for path in sorted((DATA / "valid").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    values: list[Any] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            values.append(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            values.append(node)
            for value in node:
                collect(value)

    for doc in docs:
        collect(doc)
    values += [
        {"depends": "a", "dependencies": ["a"], "name": "t"},
        {"depends": "a", "continueOn": {"failed": True}, "name": "t"},
        {"depends": "a", "name": "1t"},
        {"name": "1t"},
        {"s3": {}, "git": {}},
        {"count": "1", "end": "2"},
        {"manifest": "x", "manifestFrom": {}},
        {"realtime": True, "value": "{{resourcesDuration.cpu}}"},
        [{"name": "a", "container": {}, "script": {}}],
        [{"name": "a", "dag": {"tasks": []}, "timeout": "1m"}],
        [{"name": "a", "dag": {"tasks": []}, "timeout": ""}],
        [{"name": "a", "steps": [], "activeDeadlineSeconds": 3}],
    ]
    return values


def test_fast_evaluation_agrees_with_plain_celpy(linear_template: dict[str, Any]) -> None:
    env = celpy.Environment()
    samples = _samples(copy.deepcopy(linear_template))
    checked = 0
    for rule in _rules():
        plain = env.program(env.compile(rule.rule))
        for value in samples:
            if rule.each and not isinstance(value, list):
                continue
            if not rule.each and not isinstance(value, dict):
                continue
            try:
                expected = bool(plain.evaluate({"self": celpy.json_to_cel(value)}))
            except Exception:
                continue  # a rule error: both report it; compared in other tests
            clear_memo()
            assert (_evaluate(rule, value) is None) == expected, (rule.rule, value)
            assert (_evaluate(rule, value) is None) == expected  # from the memo
            checked += 1
    assert checked > 500


def test_rules_run_at_the_node_they_are_attached_to() -> None:
    doc = {
        "spec": {
            "templates": [
                {
                    "name": "a",
                    "dag": {"tasks": [{"name": "x", "depends": "y", "dependencies": ["y"]}]},
                },
                {
                    "name": "b",
                    "inputs": {"artifacts": [{"name": "z", "s3": {}, "raw": {"data": ""}}]},
                },
            ]
        }
    }
    assert [(p.path, p.message) for p in check_cel(doc)] == [
        ("spec.templates[0].dag.tasks[0]", "cannot use both 'depends' and 'dependencies'"),
        ("spec.templates[1].inputs.artifacts[0]", "at most one artifact location can be specified"),
    ]


@pytest.mark.parametrize("value", ["not a list", 3])
def test_wrongly_typed_nodes_are_left_to_the_schema_layers(value: Any) -> None:
    assert check_cel({"spec": {"templates": value}}) == []
