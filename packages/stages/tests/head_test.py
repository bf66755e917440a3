"""The pipeline only moves forward: <pipeline>/head.json, advanced with conditional writes."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from aphex_stages.artifact import s3_client
from aphex_stages.head import advance_head, head_key
from aphex_testing import pytest_plugin

aws_env = pytest_plugin.aws_env
moto_server = pytest_plugin.moto_server
unique_name = pytest_plugin.unique_name

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD, NEW = "a" * 40, "b" * 40


@pytest.fixture()
def s3(aws_env):
    return s3_client()


@pytest.fixture()
def bucket(s3, unique_name):
    name = unique_name("head")
    s3.create_bucket(Bucket=name)
    return name


def _stored(s3, bucket: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=head_key("shop"))["Body"].read())


def test_a_newer_commit_advances_and_an_older_one_is_stale(s3, bucket) -> None:
    assert advance_head(s3, bucket, "shop", OLD, T0) is None  # the first head
    assert advance_head(s3, bucket, "shop", NEW, T0 + timedelta(minutes=5)) is None
    assert _stored(s3, bucket)["commit"] == NEW
    # The older commit's run arrives late (or its webhook is replayed): it is stale.
    stale = advance_head(s3, bucket, "shop", OLD, T0)
    assert stale is not None and stale.commit == NEW
    assert _stored(s3, bucket)["commit"] == NEW
    # The head's own run (a retry, a restart) goes on.
    assert advance_head(s3, bucket, "shop", NEW, T0 + timedelta(minutes=5)) is None


def test_concurrent_runs_leave_the_newest_as_head(s3, bucket) -> None:
    """Ten pipeline stages at once: conditional writes leave the newest commit as head,
    whatever the order, and each older one either wrote first or saw a newer head."""
    commits = [(f"{i:040x}", T0 + timedelta(minutes=i)) for i in range(10)]
    results: dict[str, object] = {}

    def run(commit: str, when: datetime) -> None:
        results[commit] = advance_head(s3_client(), bucket, "shop", commit, when)

    threads = [threading.Thread(target=run, args=pair) for pair in reversed(commits)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _stored(s3, bucket)["commit"] == commits[-1][0]
    assert results[commits[-1][0]] is None
