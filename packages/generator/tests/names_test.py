"""names and dump_yaml: DNS-safe stable names, deterministic YAML."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from aphex_generator.dump import dump_yaml
from aphex_generator.names import dns_name, mutex_name, workflow_name_prefix

LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def test_short_valid_names_are_unchanged() -> None:
    assert dns_name("deploy-dev") == "deploy-dev"


def test_long_names_are_cut_with_a_stable_hash() -> None:
    long = "deploy-" + "x" * 80
    name = dns_name(long)
    assert len(name) == 63 and LABEL.fullmatch(name)
    assert name == dns_name(long)
    assert name != dns_name(long + "y")


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=120))
def test_any_text_becomes_a_dns_label(text: str) -> None:
    name = dns_name(text)
    assert len(name) <= 63 and LABEL.fullmatch(name)


def test_workflow_prefix_leaves_room_for_a_sha() -> None:
    assert workflow_name_prefix("orders") == "orders-"
    assert len(workflow_name_prefix("p" * 40)) + 40 <= 63


def test_dump_yaml_is_sorted_alias_free_and_stable() -> None:
    shared = {"b": 1, "a": [1, 2]}
    text = dump_yaml({"z": shared, "y": shared, "x": "{{workflow.name}}"})
    assert "&" not in text and "*" not in text
    assert text.index("x:") < text.index("y:") < text.index("z:")
    assert text == dump_yaml({"x": "{{workflow.name}}", "y": shared, "z": shared})


def test_mutexes_of_different_pairs_never_collide() -> None:
    assert mutex_name("a-b", "c") != mutex_name("a", "b-c")
    assert mutex_name("shop", "dev") == "aphex.shop.dev"
