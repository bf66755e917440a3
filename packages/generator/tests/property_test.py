"""Property tests: any valid config renders to a valid, deterministic, faithful template."""

from __future__ import annotations

import json
from typing import Any

from generator_cases import SETTINGS, config_from, deployed_environments
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aphex_generator import Annotation, dump_yaml, render_events, render_workflow_template, validate

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5})?", fullmatch=True)


@st.composite
def configs(draw: Any, max_envs: int = 12) -> dict[str, Any]:
    names = draw(st.lists(NAMES, min_size=1, max_size=max_envs, unique=True))
    envs = []
    for index, name in enumerate(names):
        env: dict[str, Any] = {
            "name": name,
            "account": draw(st.sampled_from(["111111111111", "222222222222"])),
            "region": draw(st.sampled_from(["us-east-1", "eu-west-1"])),
            "stacks": [
                {"name": s}
                for s in draw(
                    st.lists(
                        st.sampled_from(["Net", "Api", "Db"]), min_size=1, max_size=3, unique=True
                    )
                )
            ],
        }
        mode = draw(st.sampled_from(["default", "first-wave", "subset"]))
        if mode == "first-wave":
            env["depends_on"] = []
        elif mode == "subset" and index:
            env["depends_on"] = draw(
                st.lists(st.sampled_from(names[:index]), max_size=3, unique=True)
            )
        if draw(st.booleans()):
            env["approval"] = "manual"
        if draw(st.booleans()):
            env["tests"] = {"commands": ["pytest"], "timeout_minutes": draw(st.integers(1, 720))}
        envs.append(env)
    return {
        "version": 1,
        "pipeline": {
            "name": draw(NAMES),
            "repository": "https://github.com/acme/app.git",
            "branch": draw(st.sampled_from(["main", "release/v1.2", "feature+x"])),
        },
        "build": {"commands": ["make"], "timeout_minutes": draw(st.integers(1, 720))},
        "environments": envs,
    }


def _env_tasks(doc: dict[str, Any]) -> dict[str, tuple[str, set[str]]]:
    """task name -> (environment it deploys or '', names of tasks it waits for)."""
    out: dict[str, tuple[str, set[str]]] = {}
    for tpl in doc["spec"]["templates"]:
        for task in tpl.get("dag", {}).get("tasks", []):
            deps = {part.split(".")[0] for part in task.get("depends", "").split(" && ") if part}
            out[task["name"]] = ("", deps)
    return out


def _ancestors(tasks: dict[str, tuple[str, set[str]]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = [name]
    while stack:
        for dep in tasks[stack.pop()][1]:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def _deploy_task(doc: dict[str, Any], env: str) -> str:
    layout = doc["metadata"]["annotations"]["aphex.io/layout"]
    return f"deploy-{env}" if layout == "per-environment" else f"env-{env}"


PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(configs())
def test_random_config_renders_valid_deterministic_template(data: dict[str, Any]) -> None:
    config = config_from(data)
    doc = render_workflow_template(config, SETTINGS)
    assert validate(doc) == []
    again = render_workflow_template(config_from(data), SETTINGS)
    assert dump_yaml(doc) == dump_yaml(again)
    for manifest in render_events(config, SETTINGS):
        assert validate(manifest) == []


@PROPERTY
@given(configs())
def test_dag_order_respects_depends_on(data: dict[str, Any]) -> None:
    config = config_from(data)
    doc = render_workflow_template(config, SETTINGS)
    tasks = _env_tasks(doc)
    for env in config.environments:
        mine = _deploy_task(doc, env.name)
        before = _ancestors(tasks, mine)
        for dep in config.effective_depends_on(env.name):
            assert _deploy_task(doc, dep) in before, (env.name, dep)
        if doc["metadata"]["annotations"]["aphex.io/layout"] == "per-environment":
            assert "pipeline-deployment" in before
            if env.approval == "manual":
                assert f"approve-{env.name}" in before


@PROPERTY
@given(configs())
def test_every_environment_appears_exactly_once(data: dict[str, Any]) -> None:
    config = config_from(data)
    doc = render_workflow_template(config, SETTINGS)
    assert sorted(deployed_environments(doc)) == sorted(env.name for env in config.environments)
    topology = json.loads(doc["metadata"]["annotations"][Annotation.TOPOLOGY])
    assert [e["name"] for e in topology["environments"]] == [e.name for e in config.environments]
