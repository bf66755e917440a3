"""The shared moto harness (testing/aphex_testing) itself."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from aphex_testing import MotoServer, MotoServerError, free_port, start_moto_server


def test_fresh_server_lifecycle(fresh_moto_server: MotoServer) -> None:
    server = fresh_moto_server
    assert server.endpoint == f"http://localhost:{server.port}"
    assert server.is_running()
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="harness")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["harness"]
    server.reset()
    assert s3.list_buckets()["Buckets"] == []
    assert server.log_path.exists() and "moto-api/reset" in server.log_text()
    server.stop()
    assert not server.is_running()
    server.stop()  # idempotent


def test_aws_env_points_boto3_at_the_session_server(aws_env: Any) -> None:
    import os

    assert os.environ["AWS_ENDPOINT_URL"] == aws_env.endpoint
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert boto3.client("sts").get_caller_identity()["Account"]


def test_start_failure_names_the_log(tmp_path: Any) -> None:
    port = free_port()
    blocker = start_moto_server(port=port, log_dir=tmp_path)
    try:
        with pytest.raises(MotoServerError, match=str(tmp_path)):
            second = start_moto_server(port=port, log_dir=tmp_path, timeout=5)
            second.stop()  # only reached if the harness wrongly accepted it
    finally:
        blocker.stop()
