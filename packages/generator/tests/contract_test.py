"""The stage contract: one table of stages, names that are plain strings, the session rule."""

from __future__ import annotations

import json

import pytest
from generator_cases import SETTINGS, sample

from aphex_generator import (
    ENVIRONMENT,
    NOTIFY,
    PIPELINE,
    STAGES,
    TEMPLATE_ENV,
    TOOLCHAIN_MOUNT,
    TOOLCHAIN_VOLUME,
    EnvVar,
    ImageKind,
    Label,
    Option,
    Param,
    console_scripts,
    dump_yaml,
    render_workflow_template,
    session_name,
    stage_by_name,
    stages_of_image,
    validate,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_every_stage_has_a_unique_name_script_and_task() -> None:
    for attribute in ("name", "script", "task", "entry_point"):
        values = [getattr(stage, attribute) for stage in STAGES]
        assert len(set(values)) == len(values), attribute
    assert {stage.image for stage in STAGES} == set(ImageKind)
    assert stage_by_name("environment").takes_environment
    with pytest.raises(KeyError):
        stage_by_name("nope")


def test_images_split_the_stages() -> None:
    builder = {stage.script for stage in stages_of_image("builder")}
    deployer = {stage.script for stage in stages_of_image(ImageKind.DEPLOYER)}
    assert builder == {"aphex-stage-validation", "aphex-stage-build"}
    assert not builder & deployer and builder | deployer == set(console_scripts())
    assert console_scripts("builder") == {
        s.script: s.entry_point for s in stages_of_image("builder")
    }


def test_contract_names_are_plain_strings() -> None:
    for namespace in (EnvVar, Label, Option, Param):
        values = namespace.values()
        assert values and all(type(value) is str for value in values), namespace  # noqa: E721
        assert len(set(values)) == len(values), namespace


def test_the_template_uses_the_contract_and_dumps_cleanly() -> None:
    settings = SETTINGS.with_changes(aws_region="eu-west-1")
    doc = render_workflow_template(sample("approval"), settings)
    text = dump_yaml(doc)  # a StrEnum anywhere in the document would make this fail
    assert json.loads(json.dumps(doc)) == doc
    containers = [t["container"] for t in doc["spec"]["templates"] if "container" in t]
    assert {c["command"][0] for c in containers} == set(console_scripts())
    for container in containers:
        names = [e["name"] for e in container["env"]]
        assert names[: len(TEMPLATE_ENV)] == list(TEMPLATE_ENV)
        if container["command"] == [PIPELINE.script]:  # what it needs to render itself again
            assert names[len(TEMPLATE_ENV) :] == [EnvVar.SERVICE_ACCOUNT]
        elif container["command"] == [NOTIFY.script]:  # where the run is reported
            assert names[len(TEMPLATE_ENV) :] == [EnvVar.SNS_TOPIC_ARN, EnvVar.GITHUB_TOKEN]
        else:
            assert names == list(TEMPLATE_ENV)
        assert Option.PIPELINE in container["args"] and Option.COMMIT in container["args"]
        # Only the stages that move a head learn of a redeploy.
        moves_head = container["command"][0] in (PIPELINE.script, ENVIRONMENT.script)
        assert (Option.REDEPLOY_REASON in container["args"]) is moves_head
    parameters = doc["spec"]["arguments"]["parameters"]
    assert [p["name"] for p in parameters] == list(Param.values())
    # A push's run (the Sensor sets only the commit) is never a redeploy.
    assert [p.get("value") for p in parameters[2:]] == ["", ""]
    assert "{{workflow.parameters.commit-sha}}" in text


def test_session_name_carries_pipeline_and_twelve_characters_of_the_commit() -> None:
    assert session_name("shop", SHA) == "aphex-shop-0123456789ab"
    long = session_name("p" * 63, SHA)
    assert len(long) == 64 and long.startswith("aphex-ppp") and long.endswith("-0123456789ab")
    assert session_name("a" * 56 + "-" + "b", SHA).count("--") == 0


def test_a_toolchain_gives_the_deploy_and_test_pods_a_cache_volume() -> None:
    from generator_cases import config_from, minimal_config

    data = minimal_config()
    data["toolchain"] = {"files": ["requirements.txt"], "install": [["pip", "install", "x"]]}
    data["environments"][0]["tests"] = {"commands": ["pytest"]}
    for claim, source in (
        (None, {"emptyDir": {}}),
        ("aphex-tc", {"persistentVolumeClaim": {"claimName": "aphex-tc"}}),
    ):
        settings = SETTINGS.with_changes(toolchain_cache_claim=claim)
        doc = render_workflow_template(config_from(data), settings)
        assert doc["spec"]["volumes"] == [{"name": TOOLCHAIN_VOLUME, **source}]
        mounted = {
            t["name"]
            for t in doc["spec"]["templates"]
            if "container" in t and t["container"].get("volumeMounts")
        }
        assert mounted == {"deploy-dev", "test-dev"}
        (deploy,) = (t for t in doc["spec"]["templates"] if t["name"] == "deploy-dev")
        env = {e["name"]: e["value"] for e in deploy["container"]["env"]}
        assert env[EnvVar.TOOLCHAIN_CACHE] == TOOLCHAIN_MOUNT
        assert validate(doc) == []
    plain = render_workflow_template(config_from(minimal_config()), SETTINGS)
    assert "volumes" not in plain["spec"]
