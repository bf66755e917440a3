"""diff_topology(): what changed between two rendered WorkflowTemplates."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from generator_cases import SETTINGS, config_from, sample

from aphex_generator import TopologyDiff, diff_topology, render_workflow_template


def _render(data: dict[str, Any]) -> dict[str, Any]:
    return render_workflow_template(config_from(data), SETTINGS)


def _env(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "account": "111111111111",
        "region": "us-east-1",
        "stacks": [{"name": "App"}],
        **extra,
    }


def _config(*envs: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "pipeline": {"name": "demo", "repository": "https://github.com/acme/demo.git"},
        "build": {"commands": ["make"]},
        "environments": list(envs),
    }


BASE = _config(_env("dev"), _env("staging"), _env("prod"))


def test_same_template_has_no_change() -> None:
    diff = diff_topology(_render(BASE), _render(copy.deepcopy(BASE)))
    assert not diff.changed
    assert diff == TopologyDiff()
    assert diff.render_lines() == ["no topology change"]


def test_added_and_removed_environments() -> None:
    new = _config(_env("dev"), _env("qa"), _env("prod"))
    diff = diff_topology(_render(BASE), _render(new))
    assert diff.changed
    assert diff.added == ("qa",) and diff.removed == ("staging",)
    assert diff.render_lines() == [
        "environment added: qa",
        "environment removed: staging",
        "dependencies of prod changed: [staging] -> [qa]",
    ]


def test_order_and_dependency_changes() -> None:
    new = _config(
        _env("dev"), _env("prod", depends_on=["dev"]), _env("staging", depends_on=["dev"])
    )
    lines = diff_topology(_render(BASE), _render(new)).render_lines()
    assert lines == [
        "order changed: dev, staging, prod -> dev, prod, staging",
        "dependencies of prod changed: [staging] -> [dev]",
    ]


def test_gates_tests_and_stacks() -> None:
    new = _config(
        _env("dev", tests={"commands": ["pytest"]}),
        _env("staging", stacks=[{"name": "App"}, {"name": "Db"}]),
        _env("prod", approval="manual"),
    )
    diff = diff_topology(_render(BASE), _render(new))
    assert diff.render_lines() == [
        "approval gate added before prod",
        "tests added to dev",
        "stacks of staging changed: [App] -> [App, Db]",
    ]
    back = diff_topology(_render(new), _render(BASE))
    assert back.gates_removed == ("prod",) and back.tests_removed == ("dev",)


def test_diff_across_layouts() -> None:
    small = render_workflow_template(sample("linear"), SETTINGS)
    envs = [_env(f"e{i:03d}", tests={"commands": ["t"]}) for i in range(120)]
    big = _render(_config(*envs))
    assert big["metadata"]["annotations"]["aphex.io/layout"] == "compact"
    diff = diff_topology(big, big)
    assert not diff.changed
    assert len(diff_topology(small, big).added) == 120


def test_foreign_template_is_refused() -> None:
    with pytest.raises(ValueError, match="aphex.io/topology"):
        diff_topology({"metadata": {}}, _render(BASE))
