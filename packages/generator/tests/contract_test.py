"""The stage contract: one table of stages, names that are plain strings, the session rule."""

from __future__ import annotations

import json

import pytest
from generator_cases import SETTINGS, sample

from aphex_generator import (
    BUILD,
    BUILD_OUTPUT_VOLUME,
    CHECKOUT,
    ENVIRONMENT,
    NOTIFY,
    PIPELINE,
    PREVIEW,
    SOURCE_VOLUME,
    STAGES,
    TEMPLATE_ENV,
    TEST,
    TOOLCHAIN_MOUNT,
    TOOLCHAIN_VOLUME,
    UPLOAD,
    EnvVar,
    Identity,
    ImageKind,
    Label,
    Option,
    Param,
    console_scripts,
    dump_yaml,
    identities,
    identity_role_name,
    identity_rules,
    identity_service_account,
    render_workflow_template,
    session_name,
    stage_by_name,
    stages_of_image,
    validate,
    workflow_rules,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_every_stage_has_a_unique_name_script_and_task() -> None:
    for attribute in ("name", "script", "entry_point"):
        values = [getattr(stage, attribute) for stage in STAGES]
        assert len(set(values)) == len(values), attribute
    # One task per stage, except the build pod's three containers (checkout, commands, upload).
    tasks = [stage.task for stage in STAGES if stage not in (CHECKOUT, UPLOAD)]
    assert len(set(tasks)) == len(tasks)
    assert UPLOAD.task == BUILD.task
    assert BUILD.identity is None and UPLOAD.identity is Identity.BUILD
    assert {stage.image for stage in STAGES} == set(ImageKind)
    assert stage_by_name("environment").takes_environment
    with pytest.raises(KeyError):
        stage_by_name("nope")


def test_images_split_the_stages() -> None:
    builder = {stage.script for stage in stages_of_image("builder")}
    deployer = {stage.script for stage in stages_of_image(ImageKind.DEPLOYER)}
    assert builder == {
        "aphex-stage-validation",
        "aphex-stage-checkout",
        "aphex-stage-build",
        "aphex-stage-upload",
    }
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
    templates = doc["spec"]["templates"]
    containers = [t["container"] for t in templates if "container" in t]
    containers += [
        c for t in templates if "containerSet" in t for c in t["containerSet"]["containers"]
    ]
    assert {c["command"][0] for c in containers} == set(console_scripts())
    for container in containers:
        names = [e["name"] for e in container["env"]]
        # No bucket for checkout and build: they have no identity to use it with.
        unprivileged = [n for n in TEMPLATE_ENV if n != EnvVar.ARTIFACT_BUCKET]
        if container["command"] == [BUILD.script]:
            assert names == [*unprivileged, EnvVar.SOURCE, EnvVar.BUILD_OUTPUT]
            continue
        if container["command"] == [CHECKOUT.script]:
            assert names == [*unprivileged, EnvVar.SOURCE]
            continue
        assert names[: len(TEMPLATE_ENV)] == list(TEMPLATE_ENV)
        if container["command"] == [PIPELINE.script]:  # what it needs to render itself again
            assert names[len(TEMPLATE_ENV) :] == [EnvVar.SERVICE_ACCOUNT]
        elif container["command"] == [NOTIFY.script]:  # where the run is reported
            assert names[len(TEMPLATE_ENV) :] == [EnvVar.SNS_TOPIC_ARN, EnvVar.GITHUB_TOKEN]
        elif container["command"] == [UPLOAD.script]:  # where the build packaged the artifact
            assert names[len(TEMPLATE_ENV) :] == [EnvVar.BUILD_OUTPUT]
        elif container["command"] in (
            [ENVIRONMENT.script],
            [TEST.script],
            [PREVIEW.script],
        ):  # the deploy role's
            assert names[len(TEMPLATE_ENV) :] == [EnvVar.EXTERNAL_ID]
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
        assert doc["spec"]["volumes"] == [
            {"name": SOURCE_VOLUME, "emptyDir": {}},
            {"name": BUILD_OUTPUT_VOLUME, "emptyDir": {}},
            {"name": TOOLCHAIN_VOLUME, **source},
        ]
        mounted = {
            t["name"]
            for t in doc["spec"]["templates"]
            if "container" in t and t["container"].get("volumeMounts")
        }
        assert mounted == {"deploy-dev", "test-dev"}
        (deploy,) = (t for t in doc["spec"]["templates"] if t["name"] == "deploy-dev")
        env = {e["name"]: e.get("value") for e in deploy["container"]["env"]}
        assert env[EnvVar.TOOLCHAIN_CACHE] == TOOLCHAIN_MOUNT
        assert validate(doc) == []
    plain = render_workflow_template(config_from(minimal_config()), SETTINGS)
    assert plain["spec"]["volumes"] == [
        {"name": SOURCE_VOLUME, "emptyDir": {}},
        {"name": BUILD_OUTPUT_VOLUME, "emptyDir": {}},
    ]


def test_each_kind_of_work_has_its_own_service_account_and_role() -> None:
    base = "aphex-pipeline"
    accounts = {
        identity_service_account(base, Identity.BUILD),
        identity_service_account(base, Identity.PIPELINE),
        identity_service_account(base, Identity.NOTIFY),
        identity_service_account(base, Identity.DEPLOY, "dev"),
        identity_service_account(base, Identity.DEPLOY, "prod"),
    }
    assert len(accounts) == 5
    assert identities(["dev", "prod"]) == [
        (Identity.BUILD, None),
        (Identity.PIPELINE, None),
        (Identity.DEPLOY, "dev"),
        (Identity.DEPLOY, "prod"),
        (Identity.NOTIFY, None),
    ]
    assert identity_service_account(base, Identity.PIPELINE) == base
    assert identity_role_name("orders", Identity.DEPLOY, "prod") == "aphex-orders-deploy-prod"
    long = identity_role_name("p" * 60, Identity.DEPLOY, "e" * 60)
    assert len(long) <= 64 and long != identity_role_name("p" * 60, Identity.DEPLOY, "e" * 59)
    with pytest.raises(ValueError):
        identity_service_account(base, Identity.DEPLOY)
    with pytest.raises(ValueError):
        identity_role_name("orders", Identity.BUILD, "prod")


def test_only_the_pipeline_identity_may_touch_its_template() -> None:
    rules = identity_rules("orders", Identity.BUILD)
    assert [r["resources"] for r in rules] == [["workflowtaskresults"]]
    assert identity_rules("orders", Identity.PIPELINE) == workflow_rules("orders")
