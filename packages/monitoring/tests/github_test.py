"""GitHub commit statuses against a local HTTP server."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from monitoring_cases import T0, assert_no_secrets, stage
from pytest_httpserver import HTTPServer

from aphex_monitoring.fold import fold_run
from aphex_monitoring.http import RetryPolicy
from aphex_monitoring.notify.github import (
    GitHubStatusClient,
    github_state,
    github_token,
    parse_repository,
    status_description,
)
from aphex_monitoring.records import RunRecord

POLICY = RetryPolicy(
    connect_timeout=1, read_timeout=1, max_attempts=3, backoff_base=0.01, total_seconds=5
)
SHA = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "ghp_TestTokenValue0123456789abcdefXYZ"


def _record(status: str) -> RunRecord:
    return fold_run(
        pipeline="shop",
        workflow_name="shop-1",
        status=status,  # type: ignore[arg-type]
        stages=[
            stage(
                "environment",
                "dev",
                status="Failed" if status == "Failed" else "Succeeded",
                error="stack failed",
            )
        ],
        commit_sha=SHA,
        finished_at=T0 + timedelta(seconds=75),
        argo_url="https://argo.example.com/workflows/ci/shop-1",
    )


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://github.com/acme/shop", ("acme", "shop")),
        ("https://github.com/acme/shop.git", ("acme", "shop")),
        ("https://github.com/acme/shop/", ("acme", "shop")),
        ("https://user:pw@github.com/acme/shop.git", ("acme", "shop")),
        ("http://ghe.corp.example/acme/shop", ("acme", "shop")),
        ("git@github.com:acme/shop.git", ("acme", "shop")),
        ("github.com:acme/shop", ("acme", "shop")),
        ("ssh://git@github.com/acme/shop.git", ("acme", "shop")),
        ("ssh://git@ghe.corp.example:2222/acme/shop.git", ("acme", "shop")),
        ("git://github.com/acme/my.repo_x-1.git", ("acme", "my.repo_x-1")),
        ("https://github.com/acme", None),
        ("not a url", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_repository(url: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_repository(url) == expected


def test_states_and_description() -> None:
    assert [github_state(s) for s in ("Running", "Succeeded", "Failed", "Error", "?")] == [
        "pending",
        "success",
        "failure",
        "error",
        "error",
    ]
    assert status_description(_record("Succeeded")) == "Succeeded in 1m 15s"
    failed = status_description(_record("Failed"))
    assert failed.startswith("Failed in 1m 15s: environment (dev): stack failed")
    long = _record("Failed").model_copy(update={"error": "x" * 500})
    assert len(status_description(long)) == 140


def test_token_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    assert github_token({"APHEX_GITHUB_TOKEN_FILE": str(path)}) == TOKEN


def test_posts_status_with_bearer_token(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    path = f"/api/v3/repos/acme/shop/statuses/{SHA}"
    httpserver.expect_oneshot_request(path).respond_with_data(
        "abuse", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_oneshot_request(path).respond_with_data("boom", status=502)
    httpserver.expect_request(
        path, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json({"id": 1}, status=201)
    token = github_token({"APHEX_GITHUB_TOKEN": TOKEN})
    assert token == TOKEN
    client = GitHubStatusClient(token, api_url=httpserver.url_for("/api/v3/"), policy=POLICY)
    assert TOKEN not in repr(client)
    client.post_run_status(_record("Failed"), "git@github.com:acme/shop.git")
    assert len(httpserver.log) == 3
    request = httpserver.log[-1][0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    body = request.json
    assert body == {
        "state": "failure",
        "context": "aphex/shop",
        "description": "Failed in 1m 15s: environment (dev): stack failed",
        "target_url": "https://argo.example.com/workflows/ci/shop-1",
    }
    assert_no_secrets(caplog, capsys, TOKEN)


def test_pending_status_and_bad_inputs(httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"/repos/acme/shop/statuses/{SHA}").respond_with_json({}, status=201)
    client = GitHubStatusClient(TOKEN, api_url=httpserver.url_for("/"), policy=POLICY)
    running = _record("Succeeded").model_copy(update={"status": "Running", "argo_url": None})
    client.post_run_status(running, "https://github.com/acme/shop")
    assert httpserver.log[0][0].json == {
        "state": "pending",
        "context": "aphex/shop",
        "description": "Deployment pipeline running",
    }
    with pytest.raises(ValueError):
        client.post_run_status(running, "nonsense")
    with pytest.raises(ValueError):
        client.post_status(
            "acme", "shop", "not-a-sha", state="success", context="c", description=""
        )
