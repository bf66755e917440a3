"""The artifact bucket's key layout that the stages write and infra's policies grant."""

from __future__ import annotations

from datetime import UTC, datetime

import aphex_generator as g

SHA = "a" * g.COMMIT_LENGTH


def test_an_upload_time_has_the_fixed_length_the_policies_match() -> None:
    for when in (datetime(2026, 1, 2, 3, 4, 5, 0, UTC), datetime.now(UTC)):
        assert len(when.strftime(g.UPLOAD_TIME_FORMAT)) == g.UPLOAD_TIME_LENGTH


def test_an_uploads_keys_are_under_its_commit() -> None:
    upload = g.upload_prefix("shop", SHA, "20260102T030405000000Z")
    assert upload == f"shop/{SHA}/20260102T030405000000Z/"
    assert upload.startswith(g.commit_prefix("shop", SHA))
    assert g.latest_key("shop", SHA) == f"shop/{SHA}/{g.LATEST_FILE}"
    assert upload + g.outputs_name("prod") == upload + "outputs/prod.json"
    assert g.changeset_json_name("prod") == "changesets/prod.json"
    assert g.changeset_text_name("prod") == "changesets/prod.txt"
    assert g.tests_prefix("prod") == "tests/prod/"


def test_the_heads_records_and_logs_are_never_under_a_commit() -> None:
    # infra's policies tell an artifact by its 40-character segment: no other key has one.
    others = [
        g.head_key("shop"),
        g.environment_head_key("shop", "prod"),
        g.infra_record_key("shop"),
        g.argo_logs_prefix("shop") + "wf/pod/main.log",
    ]
    for key in others:
        assert key.startswith("shop/")
        assert all(len(part) != g.COMMIT_LENGTH for part in key.split("/")), key
