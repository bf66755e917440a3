"""``{{...}}`` variables follow Argo's reference: no false alarm on documented variables,
and each kind of typo gives exactly one problem, with a did-you-mean where one is close."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from generator_cases import DATA

from aphex_generator import validate

CORPUS = [d for d in yaml.safe_load_all((DATA / "valid" / "workflows.yaml").read_text()) if d]


def _doc(name: str) -> dict[str, Any]:
    """A fresh copy of the valid manifest named (or generateName'd) ``name``."""
    (found,) = (
        d for d in CORPUS if name in (d["metadata"].get("name"), d["metadata"].get("generateName"))
    )
    return copy.deepcopy(found)


def _assert_valid_with(name: str, *variables: str) -> None:
    doc = _doc(name)
    text = yaml.safe_dump(doc, width=1000)
    for variable in variables:
        assert variable in text, f"{name} no longer uses {variable}"
    assert [str(p) for p in validate(doc)] == []


def _problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.layer, str(p)) for p in validate(doc)]


def _workflow(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


# -- documented variables the validator once refused ------------------------------------


def test_input_artifact_path_is_accepted() -> None:
    _assert_valid_with(
        "artifact-paths-",
        "{{inputs.artifacts.data.path}}",
        "{{outputs.parameters.size.path}}",
        "{{outputs.artifacts.report.path}}",
    )


def test_step_result_in_a_steps_templates_outputs_is_accepted() -> None:
    _assert_valid_with(
        "node-outputs-",
        "parameter: '{{steps.flip.outputs.result}}'",
        "{{=sprig.upper(steps.flip.outputs.result)}}",
        "{{steps.fan.outputs.result}}",
        "parameter: '{{tasks.echo.outputs.parameters.said}}'",
    )


def test_resources_duration_in_metrics_is_accepted() -> None:
    _assert_valid_with(
        "resource-metrics-",
        "{{resourcesDuration.cpu}}",
        "{{resourcesDuration.memory}}",
        "{{exitCode}}",
        "{{outputs.result}}",
    )


def test_workflow_annotations_and_labels_are_accepted() -> None:
    _assert_valid_with(
        "metadata-vars-",
        "{{workflow.annotations}}",
        "{{workflow.labels}}",
        "{{workflow.annotations.example.io/owner}}",
        "{{workflow.labels.app}}",
    )


def test_steps_name_and_tasks_name_are_accepted() -> None:
    _assert_valid_with("node-names-", "{{steps.name}}", "{{tasks.name}}", "{{node.name}}")


def test_parameters_supplied_at_submission_are_accepted() -> None:
    # A WorkflowTemplate's arguments may come at submission (Argo accepts any name there);
    # a Workflow may declare a parameter without a value (argo submit -p gives it).
    _assert_valid_with("submit-time-parameters", "{{workflow.parameters.region}}")
    _assert_valid_with("parameter-without-value-", "{{workflow.parameters.target}}")


def test_global_and_exit_handler_variables_are_accepted() -> None:
    _assert_valid_with(
        "global-variables-",
        "{{workflow.creationTimestamp.Y}}",
        "{{workflow.priority}}",
        "{{workflow.scheduledTime}}",
        "{{workflow.failures}}",
        "{{workflow.outputs.parameters.stamp}}",
    )


def test_loops_retries_and_expressions_are_accepted() -> None:
    _assert_valid_with(
        "loops-retries-expressions-",
        "{{item.name}}",
        "{{steps.each.outputs.parameters}}",
        "lastRetry.exitCode",
        "inputs.parameters['my-param']",
        "{{user.username}}",  # not an Argo root: Argo leaves it for other templating
    )


@pytest.mark.parametrize(
    "expression",
    [
        "{{=foo(}}",  # cannot be parsed: left alone
        "{{='unterminated}}",
        "{{=let steps = 1; steps.anything}}",
        "{{=inputs.parameters.my-param}}",  # hyphenated name written bare: not read
        "{{=map([1, 2], {# * 2})}}",
    ],
)
def test_expressions_that_cannot_be_read_with_certainty_are_accepted(expression: str) -> None:
    doc = _doc("parameter-without-value-")
    doc["spec"]["templates"][0]["container"]["command"].append(expression)
    assert _problems(doc) == []


def test_an_inlined_template_reads_earlier_steps_and_its_loop_item() -> None:
    # Argo substitutes an inline template with its step's scope.
    doc = _workflow(
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: inline-}
        spec:
          entrypoint: main
          templates:
            - name: main
              steps:
                - - {name: flip, template: flip}
                - - name: show
                    withItems: [a, b]
                    inline:
                      container:
                        image: alpine:3.19
                        command: [echo, "{{steps.flip.outputs.result}}", "{{item}}"]
            - name: flip
              script: {image: alpine:3.19, command: [sh], source: echo heads}
        """
    )
    assert _problems(doc) == []


# -- typos: exactly one problem each -----------------------------------------------------


def test_misspelt_workflow_variable_is_caught() -> None:
    doc = _doc("parameter-without-value-")
    doc["spec"]["templates"][0]["container"]["command"][1] = "{{workflow.paramters.target}}"
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[0].container.command[1]: '{{workflow.paramters.target}}' is not a "
            "known workflow variable (did you mean '{{workflow.parameters.target}}'?)",
        )
    ]


def test_a_parameter_supplied_at_submission_is_valid_in_a_workflow() -> None:
    """`argo submit -p zone=eu` adds a parameter the manifest does not declare."""
    doc = _doc("parameter-without-value-")
    doc["spec"]["templates"][0]["container"]["command"][1] = "{{workflow.parameters.zone}}"
    assert _problems(doc) == []


def test_undeclared_workflow_parameter_in_a_cron_workflow_is_caught() -> None:
    """A CronWorkflow submits itself: nothing can supply an undeclared parameter."""
    doc = _workflow(
        """
        apiVersion: argoproj.io/v1alpha1
        kind: CronWorkflow
        metadata: {name: nightly}
        spec:
          schedule: "0 1 * * *"
          workflowSpec:
            entrypoint: main
            templates:
              - name: main
                container: {image: alpine:3.19, command: [echo, "{{workflow.parameters.zone}}"]}
        """
    )
    problems = [message for _layer, message in _problems(doc)]
    assert any("undeclared workflow parameter 'zone'" in m for m in problems), problems


def test_near_miss_of_a_declared_parameter_in_a_workflow_is_caught() -> None:
    doc = _doc("parameter-without-value-")
    command = doc["spec"]["templates"][0]["container"]["command"]
    declared = doc["spec"]["arguments"]["parameters"][0]["name"]
    command[1] = "{{workflow.parameters." + declared[:-1] + "}}"
    problems = [message for _layer, message in _problems(doc)]
    assert any(f"did you mean {declared!r}" in m for m in problems), problems


def test_near_miss_of_a_declared_parameter_in_a_template_is_caught() -> None:
    doc = _doc("submit-time-parameters")
    doc["spec"]["templates"][0]["container"]["args"][0] = "{{workflow.parameters.targt}}"
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[0].container.args[0]: '{{workflow.parameters.targt}}' refers to "
            "undeclared workflow parameter 'targt' (did you mean 'target'?)",
        )
    ]


def test_misspelt_input_parameter_is_caught() -> None:
    doc = _workflow(
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: typo-}
        spec:
          entrypoint: hello
          arguments: {parameters: [{name: name, value: world}]}
          templates:
            - name: hello
              inputs: {parameters: [{name: name}]}
              container: {image: alpine:3.19, command: [echo, "{{inputs.parameters.nmae}}"]}
        """
    )
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[0].container.command[1]: '{{inputs.parameters.nmae}}' refers to "
            "undeclared input parameter 'nmae' (did you mean 'name'?)",
        )
    ]


def test_unknown_task_is_caught() -> None:
    doc = _doc("node-outputs-")
    echo = doc["spec"]["templates"][1]["dag"]["tasks"][0]
    echo["arguments"]["parameters"][0]["value"] = "{{tasks.undefined-task.outputs.result}}"
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[1].dag.tasks[0].arguments.parameters[0].value: "
            "'{{tasks.undefined-task.outputs.result}}' refers to unknown task 'undefined-task'",
        )
    ]


def test_undeclared_output_of_an_existing_step_is_caught() -> None:
    doc = _workflow(
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: typo-}
        spec:
          entrypoint: main
          templates:
            - name: main
              steps:
                - - {name: x, template: produce}
                - - name: use
                    template: consume
                    arguments:
                      parameters: [{name: v, value: "{{steps.x.outputs.parameters.y}}"}]
            - name: produce
              outputs: {parameters: [{name: z, valueFrom: {path: /tmp/z}}]}
              container: {image: alpine:3.19, command: [sh, -c, "echo 1 > /tmp/z"]}
            - name: consume
              inputs: {parameters: [{name: v}]}
              container: {image: alpine:3.19, command: [echo, "{{inputs.parameters.v}}"]}
        """
    )
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[0].steps[1][0].arguments.parameters[0].value: "
            "'{{steps.x.outputs.parameters.y}}' refers to output parameter 'y', which step 'x' "
            "(template 'produce') does not declare",
        )
    ]


def test_typo_inside_an_expression_is_caught() -> None:
    doc = _doc("loops-retries-expressions-")
    args = doc["spec"]["templates"][1]["container"]["args"]
    args[0] = args[0].replace("inputs.parameters['my-param']", "inputs.parameters['my-parm']")
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[1].container.args[0]: 'inputs.parameters['my-parm']' in "
            "'{{=sprig.trim(inputs.parameters['my-parm'])}}' refers to undeclared input "
            "parameter 'my-parm' (did you mean 'my-param'?)",
        )
    ]


def test_metric_variable_outside_metrics_is_caught() -> None:
    doc = _doc("resource-metrics-")
    doc["spec"]["templates"][0]["script"]["source"] = "echo {{resourcesDuration.cpu}}"
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[0].script.source: '{{resourcesDuration.cpu}}' is only defined in "
            "metrics",
        )
    ]


def test_misspelt_argo_root_is_caught_but_other_templating_is_not() -> None:
    doc = _doc("metadata-vars-")
    doc["spec"]["templates"][0]["container"]["args"] = ["{{workflows.name}}", "{{ .Values.x }}"]
    assert _problems(doc) == [
        (
            "lint",
            "spec.templates[0].container.args[0]: '{{workflows.name}}' is not an Argo variable: "
            "Argo would leave it as written (did you mean '{{workflow.name}}'?)",
        )
    ]
