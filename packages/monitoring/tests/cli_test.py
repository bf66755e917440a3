"""``aphex-monitor`` through ``main([...])``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from monitoring_cases import assert_no_secrets, client
from pytest_httpserver import HTTPServer

from aphex_monitoring.cli import main
from aphex_monitoring.records import utcnow
from aphex_monitoring.store import RunStore
from aphex_testing.pytest_plugin import apply_aws_env

SHA = "1234567890abcdef1234567890abcdef12345678"


@pytest.fixture()
def fast_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APHEX_MONITOR_DEADLINE_SECONDS", "5")
    monkeypatch.setenv("APHEX_MONITOR_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("APHEX_MONITOR_READ_TIMEOUT", "2")
    monkeypatch.setenv("APHEX_MONITOR_MAX_ATTEMPTS", "1")


def _record(
    pipeline: str, workflow: str, stage: str, env: str | None, status: str, minutes: int
) -> int:
    started = (utcnow() - timedelta(minutes=minutes)).isoformat()
    finished = (utcnow() - timedelta(minutes=minutes - 1)).isoformat()
    argv = [
        "record",
        "--pipeline",
        pipeline,
        "--workflow-name",
        workflow,
        "--stage",
        stage,
        "--status",
        status,
        "--started-at",
        started,
        "--finished-at",
        finished,
        "--output-key",
        "Url",
    ]
    if env:
        argv += ["--environment", env]
    if status != "Succeeded":
        argv += ["--error", "it broke\nbadly"]
    return main(argv)


def _notify(pipeline: str, workflow: str, status: str, failures: str = "") -> int:
    return main(
        [
            "notify",
            "--pipeline",
            pipeline,
            "--commit",
            SHA,
            "--workflow-name",
            workflow,
            "--workflow-uid",
            f"uid-{workflow}",
            "--status",
            status,
            "--failures",
            failures,
        ]
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["record", "--help"],
        ["notify", "--help"],
        ["start", "--help"],
        ["runs", "--help"],
        ["runs", "list", "--help"],
        ["runs", "show", "--help"],
        ["runs", "deployed", "--help"],
        ["--version"],
    ],
)
def test_help_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["notify", "--pipeline", "p"],
        # A pipeline name becomes part of S3 keys: a path is a usage error, never exit 0.
        ["notify", "--pipeline", "../x", "--commit", "a", "--workflow-name", "w", "--status", "X"],
        ["runs", "list", "--pipeline", "a/b"],
        [
            "record",
            "--pipeline",
            "p",
            "--workflow-name",
            "w",
            "--stage",
            "build",
            "--status",
            "Succeeded",
            "--started-at",
            "yesterday",
        ],
        [
            "record",
            "--pipeline",
            "p",
            "--workflow-name",
            "w",
            "--stage",
            "Bad Stage",
            "--status",
            "Succeeded",
            "--started-at",
            "2026-01-01T00:00:00Z",
        ],
        [
            "record",
            "--pipeline",
            "p",
            "--workflow-name",
            "w",
            "--stage",
            "build",
            "--status",
            "Sideways",
            "--started-at",
            "2026-01-01T00:00:00Z",
        ],
        ["runs", "list", "--limit", "0"],
        ["runs", "list"],  # no bucket configured
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


def test_record_notify_and_read_back(
    aws_env: Any,
    bucket: str,
    pipeline: str,
    fast_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("APHEX_ARTIFACT_BUCKET", bucket)
    first, second = f"{pipeline}-aaa11", f"{pipeline}-bbb22"
    assert _record(pipeline, first, "build", None, "Succeeded", 30) == 0
    assert _record(pipeline, first, "environment", "dev", "Succeeded", 28) == 0
    assert _notify(pipeline, first, "Succeeded", "null") == 0
    assert _record(pipeline, second, "environment", "dev", "Succeeded", 10) == 0
    assert _record(pipeline, second, "environment", "prod", "Failed", 8) == 0
    failures = '[{"displayName":"prod","message":"boom","templateName":"env","phase":"Failed"}]'
    assert _notify(pipeline, second, "Failed", failures) == 0
    capsys.readouterr()

    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["STARTED", "PIPELINE", "WORKFLOW", "STATUS"]
    assert second in lines[1] and "Failed" in lines[1]
    assert first in lines[2] and "Succeeded" in lines[2]

    assert main(["runs", "list", "--status", "succeeded", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["workflow_name"] for r in data] == [first]
    assert main(["runs", "list", "--environment", "prod", "--output", "json"]) == 0
    assert [r["workflow_name"] for r in json.loads(capsys.readouterr().out)] == [second]

    assert main(["runs", "show", second]) == 0
    out = capsys.readouterr().out
    assert "status:    Failed" in out and "error:     prod: boom" in out
    assert "it broke badly" in out
    assert main(["runs", "show", second, "--output", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["workflow_uid"] == f"uid-{second}"
    assert shown["stages"][0]["output_keys"] == ["Url"]

    assert main(["runs", "deployed", "--pipeline", pipeline]) == 0
    out = capsys.readouterr().out
    assert "dev" in out and second in out and "1234567" in out and "prod" not in out
    assert main(["runs", "deployed", "--output", "json", "--pipeline", pipeline]) == 0
    (pointer,) = json.loads(capsys.readouterr().out)
    assert pointer["environment"] == "dev" and pointer["workflow_name"] == second

    assert main(["runs", "show", "no-such-run"]) == 1
    assert "no run named" in capsys.readouterr().err


def test_start_then_notify_keeps_the_record_key(
    aws_env: Any, bucket: str, pipeline: str, fast_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = f"{pipeline}-s1"
    base = [
        "--pipeline",
        pipeline,
        "--commit",
        SHA,
        "--workflow-name",
        workflow,
        "--bucket",
        bucket,
        "--repository",
        "https://github.com/acme/shop",
    ]
    assert (
        main(["start", *base, "--trigger", "push", "--started-at", "2026-11-01T23:59:00+00:00"])
        == 0
    )
    assert (
        main(["notify", *base, "--status", "Succeeded", "--failures", "", "--output", "json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["run_key"] == f"runs/{pipeline}/2026/11/01/{workflow}.json"
    assert result["record"]["trigger"] == "push"
    assert result["outcomes"]["github status"] == "skipped"
    store = RunStore(bucket, client("s3"))
    assert [r.status for r in store.list_runs(pipeline=pipeline)] == ["Succeeded"]


def test_notify_never_fails_and_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
    dead_port: int,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    apply_aws_env(monkeypatch, f"http://localhost:{dead_port}")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "AwsSecretKeyForTheCliTest01")
    monkeypatch.setenv("APHEX_MONITOR_DEADLINE_SECONDS", "3")
    monkeypatch.setenv("APHEX_MONITOR_CONNECT_TIMEOUT", "0.5")
    monkeypatch.setenv("APHEX_MONITOR_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("APHEX_ARTIFACT_BUCKET", "bucket")
    monkeypatch.setenv("APHEX_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t")
    hook = "/services/TCLI/BCLI/cli-hook-secret"
    httpserver.expect_request(hook).respond_with_data("down", status=503)
    monkeypatch.setenv("APHEX_SLACK_WEBHOOK_URL", httpserver.url_for(hook))
    monkeypatch.setenv("APHEX_GITHUB_TOKEN", "ghp_CliTestToken0123456789abcdefghijk")
    monkeypatch.setenv("APHEX_GITHUB_API_URL", f"http://127.0.0.1:{dead_port}")
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    code = main(
        [
            "-vv",
            "notify",
            "--pipeline",
            "shop",
            "--commit",
            SHA,
            "--workflow-name",
            "w1",
            "--workflow-uid",
            "u1",
            "--status",
            "Failed",
            "--failures",
            "{broken",
            "--repository",
            "git@github.com:acme/shop.git",
        ]
    )
    assert code == 0
    assert time.monotonic() - started < 3 + 2 + 3
    assert len(httpserver.log) >= 2  # slack retried the 503
    assert "slack failed" in caplog.text
    assert_no_secrets(
        caplog,
        capsys,
        "cli-hook-secret",
        "ghp_CliTestToken0123456789abcdefghijk",
        "AwsSecretKeyForTheCliTest01",
    )


def test_runs_reports_unreachable_s3_as_failure(
    monkeypatch: pytest.MonkeyPatch, dead_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_aws_env(monkeypatch, f"http://localhost:{dead_port}")
    monkeypatch.setenv("APHEX_MONITOR_MAX_ATTEMPTS", "1")
    assert main(["runs", "deployed", "--bucket", "b"]) == 1
    err = capsys.readouterr().err
    assert "cannot read runs" in err and "Traceback" not in err


def test_record_without_bucket_is_a_warning_not_a_failure(
    capsys: pytest.CaptureFixture[str], unique_name: Callable[[str], str]
) -> None:
    code = main(
        [
            "record",
            "--pipeline",
            "p",
            "--workflow-name",
            unique_name("w"),
            "--stage",
            "build",
            "--status",
            "Succeeded",
            "--started-at",
            "2026-01-01T00:00:00Z",
        ]
    )
    assert code == 0
    assert "no artifact bucket" in capsys.readouterr().err
