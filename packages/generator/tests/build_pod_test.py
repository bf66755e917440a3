"""The build pod: a container set whose checkout alone gets a private repository's token,
whose build commands run with no AWS identity and no token, and whose last container
uploads the artifact as the build identity."""

from __future__ import annotations

from typing import Any

import pytest
from generator_cases import SETTINGS, config_from, minimal_config, sample

from aphex_generator import (
    BUILD,
    BUILD_CONTAINER,
    BUILD_OUTPUT_MOUNT,
    BUILD_OUTPUT_VOLUME,
    CHECKOUT,
    CHECKOUT_CONTAINER,
    GIT_TOKEN_MOUNT,
    GIT_TOKEN_PATH,
    GIT_TOKEN_VOLUME,
    IRSA_SKIP_ANNOTATION,
    OUTPUTS_DIR,
    SOURCE_MOUNT,
    SOURCE_VOLUME,
    UPLOAD,
    UPLOAD_CONTAINER,
    Annotation,
    EnvVar,
    Output,
    SecretRef,
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
    checkout, build, upload = template["containerSet"]["containers"]
    names = (checkout["name"], build["name"], upload["name"])
    assert names == (CHECKOUT_CONTAINER, BUILD_CONTAINER, UPLOAD_CONTAINER)
    assert names == ("checkout", "build", "main")
    commands = [c["command"] for c in (checkout, build, upload)]
    assert commands == [[CHECKOUT.script], [BUILD.script], [UPLOAD.script]]
    assert "dependencies" not in checkout
    assert build["dependencies"] == [CHECKOUT_CONTAINER]
    assert upload["dependencies"] == [BUILD_CONTAINER]
    assert checkout["args"] == build["args"] == upload["args"]
    # The pod identity webhook keeps the role's web identity out of checkout and build.
    skipped = template["metadata"]["annotations"][IRSA_SKIP_ANNOTATION]
    assert skipped.split(",") == [CHECKOUT_CONTAINER, BUILD_CONTAINER]
    # The checkout is shared by checkout and build, the packaged artifact by build and
    # upload: each container mounts only what it uses.
    source = {"name": SOURCE_VOLUME, "mountPath": SOURCE_MOUNT}
    output = {"name": BUILD_OUTPUT_VOLUME, "mountPath": BUILD_OUTPUT_MOUNT}
    assert checkout["volumeMounts"] == [source]
    assert build["volumeMounts"] == [source, output]
    assert upload["volumeMounts"] == [output]
    for volume in (SOURCE_VOLUME, BUILD_OUTPUT_VOLUME):
        assert {"name": volume, "emptyDir": {}} in doc["spec"]["volumes"]
    env = [{e["name"]: e.get("value") for e in c["env"]} for c in (checkout, build, upload)]
    assert env[0][EnvVar.SOURCE] == env[1][EnvVar.SOURCE] == SOURCE_MOUNT
    assert env[1][EnvVar.BUILD_OUTPUT] == env[2][EnvVar.BUILD_OUTPUT] == BUILD_OUTPUT_MOUNT
    # The output is Argo's to read from `main`, as a workflow-wide digest.
    (output_parameter,) = template["outputs"]["parameters"]
    assert output_parameter["name"] == output_parameter["globalName"] == Output.ARTIFACT_SHA256
    path = output_parameter["valueFrom"]["path"]
    assert path == f"{OUTPUTS_DIR}/{Output.ARTIFACT_SHA256}"
    assert template["retryStrategy"]["retryPolicy"] == "OnTransientError"
    assert validate(doc) == []


def test_the_build_container_gets_no_aws_identity_and_no_secret() -> None:
    data = minimal_config()
    data["pipeline"]["notifications"] = {"slack_webhook_secret": "slack", "github_status": True}
    settings = SETTINGS.with_changes(
        aws_region="eu-west-1", git_token_secret=SecretRef("repo-token", "token")
    )
    doc = render_workflow_template(config_from(data), settings)
    checkout, build, upload = _build(doc)["containerSet"]["containers"]
    names = {e["name"] for e in build["env"]}
    assert not names & CREDENTIALS
    assert EnvVar.ARTIFACT_BUCKET not in names  # nothing to use it with
    assert EnvVar.GIT_TOKEN_FILE not in names
    assert all("valueFrom" not in e for e in build["env"])  # no Secret, no field reference
    assert GIT_TOKEN_VOLUME not in {m["name"] for m in build["volumeMounts"]}
    assert {e["name"]: e["value"] for e in build["env"]}[EnvVar.REGION] == "eu-west-1"
    assert EnvVar.ARTIFACT_BUCKET in {e["name"] for e in upload["env"]}
    assert "envFrom" not in build
    # The builder's resources go to the commands; checkout and upload are small.
    assert build["resources"] == settings.builder_resources.as_manifest()
    assert upload["resources"] == checkout["resources"] != build["resources"]


def test_a_private_repositorys_token_reaches_only_what_clones() -> None:
    settings = SETTINGS.with_changes(git_token_secret=SecretRef("repo-token", "pat"))
    doc = render_workflow_template(config_from(minimal_config()), settings)
    assert validate(doc) == []
    volume = {
        "name": GIT_TOKEN_VOLUME,
        "secret": {"secretName": "repo-token", "items": [{"key": "pat", "path": "token"}]},
    }
    assert volume in doc["spec"]["volumes"]
    mount = {"name": GIT_TOKEN_VOLUME, "mountPath": GIT_TOKEN_MOUNT, "readOnly": True}
    containers = {
        f"{t['name']}/{c.get('name', '')}": c
        for t in doc["spec"]["templates"]
        for c in (
            [t["container"]]
            if "container" in t
            else t.get("containerSet", {}).get("containers", [])
        )
    }
    holders = {
        name
        for name, c in containers.items()
        if mount in (c.get("volumeMounts") or [])
        and {"name": EnvVar.GIT_TOKEN_FILE, "value": GIT_TOKEN_PATH} in c["env"]
    }
    assert holders == {"validation/", "build/checkout", "pipeline-deployment/"}
    for name, container in containers.items():
        if name not in holders:  # no token, as a file or a variable
            assert GIT_TOKEN_VOLUME not in {m["name"] for m in container.get("volumeMounts") or []}
            assert EnvVar.GIT_TOKEN_FILE not in {e["name"] for e in container["env"]}
    # The pipeline deployment renders the template again with the same Secret.
    pipeline = containers["pipeline-deployment/"]
    env = {e["name"]: e.get("value") for e in pipeline["env"]}
    assert env[EnvVar.GIT_TOKEN_SECRET] == "repo-token:pat"
    # No token Secret: a public repository, nothing mounted.
    public = render_workflow_template(config_from(minimal_config()), SETTINGS)
    assert GIT_TOKEN_VOLUME not in {v["name"] for v in public["spec"]["volumes"]}


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
