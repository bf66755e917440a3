"""Mutations of a rendered template are each caught by the layer meant to catch them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from generator_cases import SETTINGS, sample

from aphex_generator import render_events, validate


def _tpl(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = (t for t in doc["spec"]["templates"] if t["name"] == name)
    return found


def _tasks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return _tpl(doc, "pipeline")["dag"]["tasks"]


def _index(doc: dict[str, Any], name: str) -> int:
    return [t["name"] for t in doc["spec"]["templates"]].index(name)


def test_unmodified_template_is_valid(template: dict[str, Any]) -> None:
    assert validate(template) == []


def _layers(problems: list[Any]) -> set[str]:
    return {p.layer for p in problems}


def test_typo_in_a_field_name_is_a_schema_problem(template: dict[str, Any]) -> None:
    deploy = _tpl(template, "deploy-dev")
    deploy["retryStratgy"] = deploy.pop("retryStrategy")
    problems = validate(template)
    i = _index(template, "deploy-dev")
    assert [(p.layer, str(p)) for p in problems] == [
        (
            "schema",
            f"spec.templates[{i}].retryStratgy: unknown field (did you mean 'retryStrategy'?)",
        )
    ]


def test_typo_deep_inside_a_container_is_caught(template: dict[str, Any]) -> None:
    _tpl(template, "validation")["container"]["imagePullPolicyy"] = "Always"
    (problem,) = validate(template)
    assert problem.layer == "schema"
    assert problem.path.endswith("container.imagePullPolicyy")
    assert "did you mean 'imagePullPolicy'" in problem.message


def test_wrong_type_is_a_schema_problem(template: dict[str, Any]) -> None:
    template["spec"]["ttlStrategy"]["secondsAfterSuccess"] = "one day"
    problems = validate(template)
    assert _layers(problems) == {"schema", "crd"} or _layers(problems) == {"schema"}
    assert problems[0].path == "spec.ttlStrategy.secondsAfterSuccess"
    assert "expected integer, got string" in problems[0].message


def test_args_must_be_an_array(template: dict[str, Any]) -> None:
    _tpl(template, "validation")["container"]["args"] = "--pipeline x"
    problems = validate(template)
    i = _index(template, "validation")
    assert problems[0].layer == "schema"
    assert str(problems[0]).startswith(f"spec.templates[{i}].container.args: expected array")


def test_singular_mutex_removed_in_v4_is_a_schema_problem(template: dict[str, Any]) -> None:
    deploy = _tpl(template, "deploy-dev")
    deploy["synchronization"] = {"mutex": {"name": "aphex-orders-service-dev"}}
    (problem,) = validate(template)
    assert problem.layer == "schema"
    assert problem.path.endswith("synchronization.mutex")
    assert "did you mean 'mutexes'" in problem.message


def test_enum_violation_is_a_crd_problem(template: dict[str, Any]) -> None:
    _tpl(template, "build")["retryStrategy"]["retryPolicy"] = "Sometimes"
    (problem,) = validate(template)  # the JSON schema has no enum here; the CRD has
    assert problem.layer == "crd"
    assert problem.path.endswith("retryStrategy.retryPolicy")
    assert "'Sometimes' is not one of" in problem.message


def test_depends_with_dependencies_is_a_cel_problem(template: dict[str, Any]) -> None:
    _tasks(template)[1]["dependencies"] = ["validation"]
    (problem,) = validate(template)
    assert problem.layer == "cel"
    assert (
        str(problem)
        == "spec.templates[0].dag.tasks[1]: cannot use both 'depends' and 'dependencies'"
    )


def test_two_template_types_is_a_cel_problem(template: dict[str, Any]) -> None:
    _tpl(template, "build")["suspend"] = {}
    (problem,) = validate(template)
    assert (problem.layer, str(problem)) == (
        "cel",
        "spec.templates: template must have at most one template type",
    )


def test_deadline_on_a_dag_is_a_cel_problem(template: dict[str, Any]) -> None:
    _tpl(template, "pipeline")["activeDeadlineSeconds"] = 60
    (problem,) = validate(template)
    assert problem.layer == "cel" and "only valid for leaf templates" in problem.message


def test_dangling_template_reference_is_a_lint_problem(template: dict[str, Any]) -> None:
    _tasks(template)[3]["template"] = "deploy-nowhere"
    (problem,) = validate(template)
    assert (problem.layer, str(problem)) == (
        "lint",
        "spec.templates[0].dag.tasks[3].template: template 'deploy-nowhere' is not a template "
        "of this workflow",
    )


def test_missing_exit_handler_is_a_lint_problem(template: dict[str, Any]) -> None:
    template["spec"]["onExit"] = "exit-handlr"
    (problem,) = validate(template)
    assert problem.layer == "lint" and problem.path == "spec.onExit"


def test_dependency_cycle_is_a_lint_problem(template: dict[str, Any]) -> None:
    _tasks(template)[0]["depends"] = "deploy-prod.Succeeded"
    (problem,) = validate(template)
    assert problem.layer == "lint"
    assert problem.message.startswith("dependency cycle: ")
    assert "validation" in problem.message and "deploy-prod" in problem.message


def test_unknown_task_in_depends_is_a_lint_problem(template: dict[str, Any]) -> None:
    _tasks(template)[2]["depends"] = "biuld.Succeeded"
    (problem,) = validate(template)
    assert (problem.layer, problem.message) == ("lint", "depends on unknown task 'biuld'")


def test_undeclared_parameter_reference_is_a_lint_problem(template: dict[str, Any]) -> None:
    _tpl(template, "validation")["container"]["args"][3] = "{{workflow.parameters.commit}}"
    (problem,) = validate(template)
    assert problem.layer == "lint"
    assert (
        problem.message
        == "'{{workflow.parameters.commit}}' refers to undeclared workflow parameter 'commit' "
        "(did you mean 'commit-sha'?)"
    )
    _tpl(template, "validation")["container"]["args"][3] = "{{inputs.parameters.commit-sha}}"
    (problem,) = validate(template)
    assert "undeclared input parameter 'commit-sha'" in problem.message


def test_unknown_argo_variable_is_a_lint_problem(template: dict[str, Any]) -> None:
    _tpl(template, "exit-handler")["container"]["args"][-1] = "{{workflow.failure}}"
    (problem,) = validate(template)
    assert problem.message == (
        "'{{workflow.failure}}' is not a known workflow variable "
        "(did you mean '{{workflow.failures}}'?)"
    )


def test_wrong_kind_of_events_field_is_an_events_problem() -> None:
    bus, source, sensor = render_events(sample("linear"), SETTINGS)
    sensor = copy.deepcopy(sensor)
    sensor["spec"]["dependencies"][0]["filter"] = sensor["spec"]["dependencies"][0].pop("filters")
    (problem,) = validate(sensor)
    assert problem.layer == "events"
    assert str(problem) == "spec.dependencies[0].filter: unknown field (did you mean 'filters'?)"


def test_embedded_workflow_is_checked_as_a_workflow() -> None:
    sensor = copy.deepcopy(render_events(sample("linear"), SETTINGS)[2])
    resource = sensor["spec"]["triggers"][0]["template"]["argoWorkflow"]["source"]["resource"]
    resource["spec"]["workflowTemplateRf"] = resource["spec"].pop("workflowTemplateRef")
    problems = validate(sensor)
    assert problems and {p.layer for p in problems} <= {"schema", "crd"}
    assert problems[0].path == (
        "spec.triggers[0].template.argoWorkflow.source.resource.spec.workflowTemplateRf"
    )


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("typo", lambda d: d["spec"].__setitem__("entrypont", "pipeline"), "schema"),
    (
        "mutex",
        lambda d: _tpl(d, "deploy-prod").__setitem__("synchronization", {"mutex": {"name": "x"}}),
        "schema",
    ),
    ("both-deps", lambda d: _tasks(d)[2].__setitem__("dependencies", ["build"]), "cel"),
    ("dangling", lambda d: _tasks(d)[0].__setitem__("template", "validate"), "lint"),
]


@pytest.mark.parametrize("name,mutate,layer", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_first_problem_comes_from_the_expected_layer(
    template: dict[str, Any], name: str, mutate: Callable[[dict[str, Any]], None], layer: str
) -> None:
    mutate(template)
    problems = validate(template)
    assert problems and problems[0].layer == layer, [f"{p.layer} {p}" for p in problems]
