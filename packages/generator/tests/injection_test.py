"""Hostile strings in aphex-config.yaml never reach a manifest: aphex_config refuses them,
and the renderer refuses any value that would look like an Argo expression."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from generator_cases import SETTINGS, config_from, minimal_config, sample

from aphex_config import ConfigError
from aphex_generator import render_workflow_template

HOSTILE = [
    "{{workflow.name}}",
    "dev{{inputs.parameters.x}}",
    "$(id)",
    "`id`",
    "a;rm -rf /",
    "a b",
    "a\nb",
    "{{=sprig.env('X')}}",
]


def _with_env(**env: Any) -> dict[str, Any]:
    data = minimal_config()
    data["environments"][0].update(env)
    return data


FIELDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "pipeline.name": lambda v: minimal_config(name=v),
    "pipeline.repository": lambda v: minimal_config(repository=f"https://github.com/acme/{v}.git"),
    "pipeline.branch": lambda v: minimal_config(branch=v),
    "pipeline.namespace": lambda v: minimal_config(namespace=v),
    "pipeline.images": lambda v: minimal_config(images={"builder": f"repo/img:{v}"}),
    "environments": lambda v: _with_env(name=v),
    "environments.stacks": lambda v: _with_env(stacks=[{"name": f"App{v}"}]),
    "environments.region": lambda v: _with_env(region=v),
}


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_aphex_config_rejects_hostile_values(field: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(FIELDS[field](value))
    assert any(p.path.startswith(field.split(".")[0]) for p in caught.value.problems)


def test_renderer_refuses_expression_like_values_even_if_the_model_is_bypassed() -> None:
    config = sample("linear")
    env = config.environments[0].model_copy(update={"name": "dev{{workflow.uid}}"})
    forged = config.model_copy(update={"environments": (env, *config.environments[1:])})
    with pytest.raises(ValueError, match="cannot be rendered"):
        render_workflow_template(forged, SETTINGS)


def test_config_values_appear_only_as_literals(linear_template: dict[str, Any]) -> None:
    """Every {{...}} in the output is one of the generator's own, fixed expressions."""
    allowed = {
        "{{workflow.parameters.commit-sha}}",
        "{{workflow.parameters.repo-url}}",
        "{{workflow.parameters.redeploy-by}}",  # argv entries of two stages, as the commit
        "{{workflow.parameters.redeploy-reason}}",
        "{{workflow.name}}",
        "{{workflow.uid}}",
        "{{workflow.status}}",
        "{{workflow.failures}}",
        "{{tasks.pipeline-deployment.outputs.parameters.superseded}}",  # the stage's own output
        "{{workflow.outputs.parameters.artifact-sha256}}",  # the build stage's own output
        "{{duration}}",  # metrics: Argo's own template variables
        "{{status}}",
    }
    found = set(re.findall(r"\{\{.*?\}\}", repr(linear_template)))
    assert found <= allowed, found - allowed
