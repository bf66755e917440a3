"""The two layouts: per-environment templates, and the compact one beyond the CRD's limits."""

from __future__ import annotations

from typing import Any

import yaml
from generator_cases import DATA, SETTINGS, config_from, deployed_environments, sample

from aphex_generator import render_workflow_template, validate
from aphex_generator.expressions import ENV_PARAM
from aphex_generator.workflow import MAX_DAG_TASKS, MAX_TEMPLATES


def _big(count: int, tests: bool, manual_every: int = 0) -> dict[str, Any]:
    envs: list[dict[str, Any]] = []
    for index in range(count):
        env: dict[str, Any] = {
            "name": f"e{index:03d}",
            "account": "111111111111",
            "region": "us-east-1",
            "stacks": [{"name": "App"}],
        }
        if index % 10 == 0:
            env["depends_on"] = []  # a new wave root every ten environments
        if tests:
            env["tests"] = {"commands": ["pytest"], "timeout_minutes": 1 + index % 7}
        if manual_every and index % manual_every == 0:
            env["approval"] = "manual"
        envs.append(env)
    return {
        "version": 1,
        "pipeline": {"name": "big", "repository": "https://github.com/acme/big.git"},
        "build": {"commands": ["make"]},
        "environments": envs,
    }


def _layout(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["annotations"]["aphex.io/layout"])


def _task_names(doc: dict[str, Any]) -> list[str]:
    return [
        t["name"] for tpl in doc["spec"]["templates"] for t in tpl.get("dag", {}).get("tasks", [])
    ]


def test_small_pipelines_get_one_template_per_environment() -> None:
    doc = render_workflow_template(sample("linear"), SETTINGS)
    assert _layout(doc) == "per-environment"
    names = {tpl["name"] for tpl in doc["spec"]["templates"]}
    assert {"deploy-dev", "deploy-staging", "deploy-prod", "test-dev"} <= names
    assert ENV_PARAM not in str(doc)
    assert "inputs" not in str(doc)


def test_two_hundred_environments_stay_within_crd_limits() -> None:
    config = config_from(_big(200, tests=True, manual_every=3))
    doc = render_workflow_template(config, SETTINGS)
    assert _layout(doc) == "compact"
    assert len(doc["spec"]["templates"]) <= MAX_TEMPLATES
    for tpl in doc["spec"]["templates"]:
        assert len(tpl.get("dag", {}).get("tasks", [])) <= MAX_DAG_TASKS
    assert validate(doc) == []
    assert sorted(deployed_environments(doc)) == sorted(e.name for e in config.environments)


def test_layout_switches_exactly_at_the_limit() -> None:
    # 5 fixed templates + N deploy templates; tasks: 3 + N.
    fits = render_workflow_template(config_from(_big(MAX_TEMPLATES - 5, tests=False)), SETTINGS)
    assert _layout(fits) == "per-environment"
    assert len(fits["spec"]["templates"]) == MAX_TEMPLATES
    assert validate(fits) == []
    over = render_workflow_template(config_from(_big(MAX_TEMPLATES - 4, tests=False)), SETTINGS)
    assert _layout(over) == "compact"
    assert validate(over) == []


def test_compact_layout_keeps_gates_tests_and_order() -> None:
    config = config_from(_big(100, tests=True, manual_every=4))
    doc = render_workflow_template(config, SETTINGS)
    assert _layout(doc) == "compact"
    assert validate(doc) == []
    templates = {tpl["name"]: tpl for tpl in doc["spec"]["templates"]}
    env_tasks = {t["name"]: t for t in templates["environments"]["dag"]["tasks"]}
    assert env_tasks["env-e000"]["template"] == "environment-gated-tested"
    assert env_tasks["env-e001"]["template"] == "environment-tested"
    assert env_tasks["env-e001"]["depends"] == "env-e000.Succeeded"
    assert "depends" not in env_tasks["env-e010"]
    gated = templates["environment-gated-tested"]["dag"]["tasks"]
    assert [t["name"] for t in gated] == ["preview", "approve", "deploy", "test"]
    assert gated[1]["depends"] == "preview.Succeeded" and gated[2]["depends"] == "approve.Succeeded"
    preview_args = {p["name"]: p["value"] for p in gated[0]["arguments"]["parameters"]}
    assert preview_args == {
        "environment": ENV_PARAM,
        "service-account": "{{inputs.parameters.service-account}}",
    }
    assert templates["preview"]["serviceAccountName"] == "{{inputs.parameters.service-account}}"
    for shared in (
        "preview",
        "deploy",
        "test",
    ):  # deploys and tests of one environment never overlap
        assert templates[shared]["synchronization"] == {
            "mutexes": [{"name": f"aphex.big.{ENV_PARAM}"}]
        }
    assert "environments" in _task_names(doc)


def test_a_longer_deploy_timeout_lengthens_the_deploy_pod() -> None:
    """The pod outlives the stage's own deploy timeout, so the stage can name what hangs."""
    data = yaml.safe_load((DATA / "linear.yaml").read_text())
    data["environments"][0]["deploy_timeout_minutes"] = 120
    config = config_from(data)
    templates = {
        t["name"]: t for t in render_workflow_template(config, SETTINGS)["spec"]["templates"]
    }
    first, other = (env.name for env in config.environments[:2])
    assert templates[f"deploy-{first}"]["activeDeadlineSeconds"] == 120 * 60 + 30 * 60
    assert templates[f"deploy-{other}"]["activeDeadlineSeconds"] == SETTINGS.timeouts.environment
