"""The pipeline only moves forward: its heads, advanced with conditional writes; a redeploy
is the one way back, and the head records it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from aphex_generator import environment_head_key, head_key
from aphex_stages.artifact import s3_client
from aphex_stages.head import Redeploy, advance_head
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


KEY = head_key("shop")


def _stored(s3, bucket: str, key: str = KEY) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_newer_commit_advances_and_an_older_one_is_stale(s3, bucket) -> None:
    assert advance_head(s3, bucket, KEY, OLD, T0) is None  # the first head
    assert advance_head(s3, bucket, KEY, NEW, T0 + timedelta(minutes=5)) is None
    assert _stored(s3, bucket)["commit"] == NEW
    # The older commit's run arrives late (or its webhook is replayed): it is stale.
    stale = advance_head(s3, bucket, KEY, OLD, T0)
    assert stale is not None and stale.commit == NEW
    assert _stored(s3, bucket)["commit"] == NEW
    # The head's own run (a retry, a restart) goes on.
    assert advance_head(s3, bucket, KEY, NEW, T0 + timedelta(minutes=5)) is None


def test_concurrent_runs_leave_the_newest_as_head(s3, bucket) -> None:
    """Ten pipeline stages at once: conditional writes leave the newest commit as head,
    whatever the order, and each older one either wrote first or saw a newer head."""
    commits = [(f"{i:040x}", T0 + timedelta(minutes=i)) for i in range(10)]
    results: dict[str, object] = {}

    def run(commit: str, when: datetime) -> None:
        results[commit] = advance_head(s3_client(), bucket, KEY, commit, when)

    threads = [threading.Thread(target=run, args=pair) for pair in reversed(commits)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _stored(s3, bucket)["commit"] == commits[-1][0]
    assert results[commits[-1][0]] is None


def test_a_redeploy_goes_back_and_records_who_asked_and_why(s3, bucket) -> None:
    assert advance_head(s3, bucket, KEY, OLD, T0) is None
    assert advance_head(s3, bucket, KEY, NEW, T0 + timedelta(minutes=5)) is None
    asked = Redeploy(by="ops@example.com", reason="NEW breaks checkout")
    assert advance_head(s3, bucket, KEY, OLD, T0, redeploy=asked) is None
    stored = _stored(s3, bucket)
    assert stored["commit"] == OLD
    assert stored["redeploy"] == {
        "by": "ops@example.com",
        "reason": "NEW breaks checkout",
        "replaced": NEW,
    }
    # From there on the pipeline moves forward again: NEW is newer than the head.
    assert advance_head(s3, bucket, KEY, NEW, T0 + timedelta(minutes=5)) is None
    assert "redeploy" not in _stored(s3, bucket)


def test_each_environment_has_its_own_head(s3, bucket) -> None:
    dev, prod = environment_head_key("shop", "dev"), environment_head_key("shop", "prod")
    assert dev != prod and KEY not in (dev, prod)
    assert advance_head(s3, bucket, dev, NEW, T0 + timedelta(minutes=5)) is None
    # prod has not seen NEW yet: OLD (held at its gate) may still go there, not to dev.
    assert advance_head(s3, bucket, prod, OLD, T0) is None
    stale = advance_head(s3, bucket, dev, OLD, T0)
    assert stale is not None and stale.commit == NEW
    assert _stored(s3, bucket, dev)["commit"] == NEW
