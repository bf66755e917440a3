"""YAML reading: anchors, merge keys, encodings, limits."""

from __future__ import annotations

import time

import pytest
from config_cases import BASE, edit, problems_of

from aphex_config import ConfigError, parse_config
from aphex_config.loader import HAVE_LIBYAML

ANCHORS = """\
version: 1
pipeline: {name: p, repository: "ssh://git@example.com/acme/p.git"}
build: {commands: [make]}
environments:
  - &base
    name: dev
    account: "111111111111"
    region: us-east-1
    stacks: &stacks [{name: Network}, {name: Api}]
  - <<: *base
    name: prod
    region: eu-west-1
    stacks: *stacks
"""


def test_anchors_aliases_and_merge_keys_are_allowed() -> None:
    config = parse_config(ANCHORS)
    prod = config.environment("prod")
    assert prod.account == "111111111111"
    assert prod.region == "eu-west-1"
    assert [s.name for s in prod.stacks] == ["Network", "Api"]


def test_unknown_key_from_a_merge_points_at_its_definition() -> None:
    text = ANCHORS.replace("    region: us-east-1\n", "    region: us-east-1\n    regin: x\n")
    problems = problems_of(text)
    assert [(p.path, p.line, p.column) for p in problems] == [
        ("environments[0].regin", 9, 5),
        ("environments[1].regin", 9, 5),
    ]


def test_bom_and_crlf_are_accepted() -> None:
    text = "\ufeff" + BASE.replace("\n", "\r\n")
    assert parse_config(text) == parse_config(BASE)
    assert parse_config(text.encode("utf-8")) == parse_config(BASE)


def test_newlines_are_allowed_in_commands_only() -> None:
    text = edit("    - make build", '    - "set -e\\nmake build"\n    - ["sh", "-c", "a\\n\\tb"]')
    config = parse_config(text)
    assert config.build.commands == ("set -e\nmake build", ("sh", "-c", "a\n\tb"))
    problems_of(edit("name: orders-service", 'name: "orders\\n"'))


def test_shell_metacharacters_are_allowed_in_commands() -> None:
    text = edit(
        "    - make build", "    - 'make build && echo $HOME | tee \"out\" ; `id` > /dev/null'"
    )
    assert "&&" in parse_config(text).build.commands[0]


def test_lone_surrogate_is_a_config_error() -> None:
    problems = problems_of(BASE + "# \ud800\n")
    assert problems[0].line == 19


def test_timestamps_are_kept_as_written_and_booleans_are_not_strings() -> None:
    for branch in ("'2024-01-01'", "2024-01-01"):
        text = edit("  repository:", f"  branch: {branch}\n  repository:")
        assert parse_config(text).pipeline.branch == "2024-01-01"
    problems = problems_of(edit("  repository:", "  branch: yes\n  repository:"))
    assert problems[0].path == "pipeline.branch"
    assert "got true; quote it" in problems[0].message


def test_huge_integer_is_a_config_error() -> None:
    problems = problems_of(edit("version: 1", "version: " + "9" * 5000))
    assert problems[0].path == "version"


@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_deep_nesting_fails_fast_without_crashing(opener: str) -> None:
    depth = 200_000 if opener == "[" else 2_000
    text = ("  " * 0).join(opener for _ in range(depth))
    start = time.perf_counter()
    problems = problems_of(text)
    assert time.perf_counter() - start < 1.0
    assert problems[0].path == "<document>"


def test_many_nodes_are_refused() -> None:
    text = "a: [" + ",".join(["1"] * 150_000) + "]\n"
    start = time.perf_counter()
    problems = problems_of(text)
    assert time.perf_counter() - start < 2.0
    assert "more than 100000 YAML nodes" in problems[0].message


def test_exactly_1_mib_is_accepted_by_size() -> None:
    text = BASE + "#" * (1024 * 1024 - len(BASE) - 1) + "\n"
    assert len(text.encode()) == 1024 * 1024
    assert parse_config(text).pipeline.name == "orders-service"


def test_duplicate_anchor_and_undefined_alias_are_config_errors() -> None:
    assert "invalid YAML" in problems_of(edit("build:", "x: *nope\nbuild:"))[0].message
    text = edit("build:", "x: &a 1\ny: &a 2\nbuild:")
    assert "invalid YAML" in problems_of(text)[0].message


def test_multiple_documents_are_refused() -> None:
    assert "invalid YAML" in problems_of(BASE + "---\n" + BASE)[0].message


def test_libyaml_is_used_when_available() -> None:
    import yaml  # type: ignore[import-untyped, unused-ignore]

    assert bool(getattr(yaml, "__with_libyaml__", False)) == HAVE_LIBYAML


def test_the_garbage_collectors_state_is_the_callers_after_a_load() -> None:
    import gc  # loading pauses it (bench/scale.py shows why); it must come back as it was

    assert gc.isenabled()
    parse_config(BASE)
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        parse_config("version: 1\n")
    assert gc.isenabled()
    gc.disable()
    try:
        parse_config(BASE)
        assert not gc.isenabled()
    finally:
        gc.enable()
