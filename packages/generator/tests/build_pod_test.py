"""The build pod: a container set whose build commands run with no AWS identity and whose
second container uploads the artifact as the build identity."""

from __future__ import annotations

from typing import Any

import pytest
from generator_cases import SETTINGS, config_from, minimal_config, sample

from aphex_generator import (
    BUILD,
    BUILD_CONTAINER,
    BUILD_OUTPUT_MOUNT,
    BUILD_OUTPUT_VOLUME,
    IRSA_SKIP_ANNOTATION,
    OUTPUTS_DIR,
    UPLOAD,
    UPLOAD_CONTAINER,
    Annotation,
    EnvVar,
    Output,
    render_workflow_template,
    validate,
)
from aphex_generator.validation.lint import lint_workflow

#: Variables that would hand a container an AWS identity or a secret.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_PROFILE",
}


def _many_environments(count: int) -> dict[str, Any]:
    """A config past the per-environment layout's limits (the compact layout)."""
    data = minimal_config()
    data["environments"] = [
        {
            "name": f"e{i:03d}",
            "account": "111111111111",
            "region": "us-east-1",
            "stacks": [{"name": "App"}],
            "tests": {"commands": ["pytest"]},
        }
        for i in range(count)
    ]
    return data


def _build(doc: dict[str, Any]) -> dict[str, Any]:
    (template,) = (t for t in doc["spec"]["templates"] if t["name"] == BUILD.task)
    return template


def _documents() -> list[tuple[str, dict[str, Any]]]:
    settings = SETTINGS.with_changes(aws_region="eu-west-1")
    compact = render_workflow_template(config_from(_many_environments(200)), settings)
    assert compact["metadata"]["annotations"][Annotation.LAYOUT] == "compact"
    docs = [
        (name, render_workflow_template(sample(name), settings))
        for name in ("linear", "approval", "waves")
    ]
    return [*docs, ("compact", compact)]


@pytest.mark.parametrize("name,doc", _documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_layout_renders_the_build_as_a_container_set(name: str, doc: dict[str, Any]) -> None:
    template = _build(doc)
    assert "container" not in template
    build, upload = template["containerSet"]["containers"]
    assert (
        (build["name"], upload["name"]) == (BUILD_CONTAINER, UPLOAD_CONTAINER) == ("build", "main")
    )
    assert build["command"] == [BUILD.script] and upload["command"] == [UPLOAD.script]
    assert "dependencies" not in build and upload["dependencies"] == [BUILD_CONTAINER]
    assert build["args"] == upload["args"]
    # The pod identity webhook keeps the role's web identity out of the build container.
    assert template["metadata"]["annotations"] == {IRSA_SKIP_ANNOTATION: BUILD_CONTAINER}
    # One shared emptyDir, mounted in both containers (the container set's own mounts).
    mount = {"name": BUILD_OUTPUT_VOLUME, "mountPath": BUILD_OUTPUT_MOUNT}
    assert template["containerSet"]["volumeMounts"] == [mount]
    assert {"name": BUILD_OUTPUT_VOLUME, "emptyDir": {}} in doc["spec"]["volumes"]
    for container in (build, upload):
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[EnvVar.BUILD_OUTPUT] == BUILD_OUTPUT_MOUNT
        assert "volumeMounts" not in container
    # The output is Argo's to read from `main`, as a workflow-wide digest.
    (output,) = template["outputs"]["parameters"]
    assert output["name"] == output["globalName"] == Output.ARTIFACT_SHA256
    assert output["valueFrom"]["path"] == f"{OUTPUTS_DIR}/{Output.ARTIFACT_SHA256}"
    assert template["retryStrategy"]["retryPolicy"] == "OnTransientError"
    assert validate(doc) == []


def test_the_build_container_gets_no_aws_identity_and_no_secret() -> None:
    data = minimal_config()
    data["pipeline"]["notifications"] = {"slack_webhook_secret": "slack", "github_status": True}
    settings = SETTINGS.with_changes(aws_region="eu-west-1")
    doc = render_workflow_template(config_from(data), settings)
    build, upload = _build(doc)["containerSet"]["containers"]
    names = {e["name"] for e in build["env"]}
    assert not names & CREDENTIALS
    assert EnvVar.ARTIFACT_BUCKET not in names  # nothing to use it with
    assert all("valueFrom" not in e for e in build["env"])  # no Secret, no field reference
    assert {e["name"]: e["value"] for e in build["env"]}[EnvVar.REGION] == "eu-west-1"
    assert EnvVar.ARTIFACT_BUCKET in {e["name"] for e in upload["env"]}
    assert "envFrom" not in build
    # The builder's resources go to the commands; the upload container is small.
    assert build["resources"] == settings.builder_resources.as_manifest()
    assert upload["resources"] != build["resources"]


def test_the_deadline_is_the_builds_timeout() -> None:
    data = minimal_config()
    data["build"]["timeout_minutes"] = 45
    template = _build(render_workflow_template(config_from(data), SETTINGS))
    assert template["activeDeadlineSeconds"] == 45 * 60


def _with_containers(containers: list[dict[str, Any]], outputs: bool = True) -> dict[str, Any]:
    doc = render_workflow_template(config_from(minimal_config()), SETTINGS)
    template = _build(doc)
    template["containerSet"]["containers"] = containers
    if not outputs:
        del template["outputs"]
    return doc


def test_lint_checks_a_container_sets_dependencies_and_main() -> None:
    first = {"name": "a", "image": "x"}
    messages = [
        p.message
        for p in lint_workflow(
            _with_containers([first, {**first, "name": "main", "dependencies": ["b"]}])
        )
    ]
    assert messages == ["depends on unknown container 'b'"]
    cycle = [
        {"name": "a", "image": "x", "dependencies": ["main"]},
        {"name": "main", "image": "x", "dependencies": ["a"]},
    ]
    assert any("dependency cycle" in p.message for p in lint_workflow(_with_containers(cycle)))
    no_main = [first, {"name": "b", "image": "x"}]
    assert any("named 'main'" in p.message for p in lint_workflow(_with_containers(no_main)))
    without_outputs = lint_workflow(_with_containers(no_main, outputs=False))
    assert not [p for p in without_outputs if "containerSet" in p.path]
    assert any(
        "duplicate container" in p.message for p in lint_workflow(_with_containers([first, first]))
    )
