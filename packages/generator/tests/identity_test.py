"""Each kind of work runs as its own service account (and so its own IAM role)."""

from __future__ import annotations

from typing import Any

from generator_cases import SETTINGS, config_from, sample
from layout_test import _big

from aphex_generator import (
    EXTERNAL_ID_KEY,
    EXTERNAL_ID_SECRET,
    EnvVar,
    Identity,
    identity_service_account,
    render_workflow_template,
    validate,
)

BASE = SETTINGS.service_account


def _pods(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        t["name"]: t for t in doc["spec"]["templates"] if "container" in t or "containerSet" in t
    }


def _external_id_refs(template: dict[str, Any]) -> list[dict[str, Any]]:
    containers = [template["container"]] if "container" in template else []
    containers += (template.get("containerSet") or {}).get("containers") or []
    return [
        e["valueFrom"]["secretKeyRef"]
        for c in containers
        for e in c.get("env") or []
        if e["name"] == EnvVar.EXTERNAL_ID
    ]


def test_every_pod_runs_as_the_service_account_of_its_kind_of_work() -> None:
    doc = render_workflow_template(sample("linear"), SETTINGS)
    accounts = {name: t["serviceAccountName"] for name, t in _pods(doc).items()}
    assert accounts["validation"] == identity_service_account(BASE, Identity.BUILD)
    assert accounts["build"] == identity_service_account(BASE, Identity.BUILD)
    assert accounts["pipeline-deployment"] == BASE
    assert accounts["exit-handler"] == identity_service_account(BASE, Identity.NOTIFY)
    for env in ("dev", "staging", "prod"):
        own = identity_service_account(BASE, Identity.DEPLOY, env)
        assert accounts[f"deploy-{env}"] == own
    assert accounts["test-dev"] == identity_service_account(BASE, Identity.DEPLOY, "dev")
    assert len(set(accounts.values())) == 6  # build, pipeline, notify, three environments
    assert validate(doc) == []


def test_only_deploys_and_tests_read_the_external_id_secret_and_it_is_required() -> None:
    doc = render_workflow_template(sample("linear"), SETTINGS)
    for name, template in _pods(doc).items():
        refs = _external_id_refs(template)
        if name.startswith(("deploy-", "test-")):
            assert refs == [{"name": EXTERNAL_ID_SECRET, "key": EXTERNAL_ID_KEY}], name
        else:
            assert refs == [], name
    assert "aphex-linear" not in str([_external_id_refs(t) for t in _pods(doc).values()])


def test_shared_templates_run_as_each_environments_own_account() -> None:
    config = config_from(_big(200, tests=True, manual_every=3))
    doc = render_workflow_template(config, SETTINGS)
    assert doc["metadata"]["annotations"]["aphex.io/layout"] == "compact"
    shared = _pods(doc)
    assert shared["deploy"]["serviceAccountName"] == "{{inputs.parameters.service-account}}"
    assert shared["test"]["serviceAccountName"] == "{{inputs.parameters.service-account}}"
    (environments,) = (t for t in doc["spec"]["templates"] if t["name"] == "environments")
    for task in environments["dag"]["tasks"]:
        params = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
        own = identity_service_account(BASE, Identity.DEPLOY, params["environment"])
        assert params["service-account"] == own
    assert validate(doc) == []
