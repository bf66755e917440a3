"""The aphex-generate CLI: commands, output formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from generator_cases import DATA, GOLDEN

from aphex_generator.cli import main

LINEAR = str(DATA / "linear.yaml")


def test_render_prints_the_golden_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", LINEAR]) == 0
    assert capsys.readouterr().out == (GOLDEN / "linear.workflowtemplate.yaml").read_text()


def test_render_json_and_settings_flags(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "render",
        LINEAR,
        "--output",
        "json",
        "--bucket",
        "b",
        "--namespace",
        "ns",
        "--service-account",
        "sa",
        "--builder-image",
        "reg/b:1",
        "--deployer-image",
        "reg/d:1",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metadata"]["namespace"] == "ns"
    assert doc["spec"]["serviceAccountName"] == "sa"
    containers = {
        f"{t['name']}/{c['name']}": c
        for t in doc["spec"]["templates"]
        if "containerSet" in t
        for c in t["containerSet"]["containers"]
    }
    containers.update(
        {t["name"]: t["container"] for t in doc["spec"]["templates"] if "container" in t}
    )
    images = {name: c["image"] for name, c in containers.items()}
    assert images["build/build"] == images["build/main"] == "reg/b:1"
    assert images["deploy-dev"] == "reg/d:1"
    assert {"name": "APHEX_ARTIFACT_BUCKET", "value": "b"} in containers["build/main"]["env"]


def test_events_needs_a_webhook_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", LINEAR]) == 2
    assert "--webhook-secret" in capsys.readouterr().err
    assert main(["events", LINEAR, "--webhook-secret", "gh:key"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["EventBus", "EventSource", "Sensor"]
    assert docs[1]["spec"]["github"]["push"]["webhookSecret"] == {"name": "gh", "key": "key"}


def test_validate_ok_and_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    assert main(["render", LINEAR]) == 0
    good.write_text(capsys.readouterr().out)
    assert main(["validate", str(good), str(DATA / "valid" / "events.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("retryPolicy:", "retryPolcy:", 1))
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert (
        "spec.templates[1].retryStrategy.retryPolcy: unknown field (did you mean 'retryPolicy'?)"
        in out
    )
    assert main(["validate", str(bad), "--output", "json"]) == 1
    (problem,) = json.loads(capsys.readouterr().out)
    assert problem["layer"] == "schema" and problem["file"] == str(bad)


def test_diff_templates_or_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", LINEAR, LINEAR]) == 0
    assert capsys.readouterr().out == "no topology change\n"
    old = tmp_path / "old.yaml"
    main(["render", LINEAR])
    old.write_text(capsys.readouterr().out)
    assert main(["diff", str(old), str(DATA / "approval.yaml")]) == 0
    assert "approval gate added before prod" in capsys.readouterr().out


def test_config_errors_exit_1_with_one_line_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "aphex-config.yaml"
    bad.write_text("version: 1\npipeline: {name: Bad_Name, repository: x}\n")
    assert main(["render", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{bad}:2:18: pipeline.name: must be a DNS-1123 label" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["render"],
        ["bogus"],
        ["render", "/nonexistent/aphex-config.yaml"],
        ["validate", "/nonexistent.yaml"],
    ],
)
def test_usage_and_io_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_invalid_yaml_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    assert main(["validate", str(bad)]) == 1
    assert "not valid YAML" in capsys.readouterr().err
