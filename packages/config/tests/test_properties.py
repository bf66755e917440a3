"""Property tests: generated valid files load and round-trip; nothing but ConfigError escapes."""

from __future__ import annotations

import os
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from config_cases import BASE, CONTRACT_EXAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aphex_config import AphexConfig, ConfigError, parse_config

# Moderate by default (the whole suite must stay well under a minute on 2 cores);
# raise it for a deeper search: APHEX_CONFIG_EXAMPLES=2000 pytest ...
EXAMPLES = int(os.environ.get("APHEX_CONFIG_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

dns_label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
account = st.from_regex(r"[0-9]{12}", fullmatch=True)
region = st.sampled_from(
    ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "il-central-1"]
)
stack_name = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,12}", fullmatch=True)
# Printable text: no control, format (zero-width, bidi) or separator characters, no '{{'.
safe_chars = st.characters(
    blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp", "Co", "Cn")  # type: ignore[arg-type, unused-ignore]
)
safe_text = st.text(safe_chars, max_size=20).filter(lambda s: "{{" not in s)
command_text = st.text(
    st.one_of(safe_chars, st.sampled_from("\n\t")), min_size=1, max_size=30
).filter(lambda s: "{{" not in s)
command = st.one_of(
    command_text,
    st.lists(command_text, min_size=1, max_size=4),
)
commands = st.lists(command, min_size=1, max_size=4)
context_value = st.one_of(
    safe_text,
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
context = st.dictionaries(
    st.from_regex(r"[A-Za-z@_][A-Za-z0-9@_.:/-]{0,15}", fullmatch=True), context_value, max_size=4
)
repository = st.sampled_from(
    [
        "https://github.com/acme/app.git",
        "ssh://git@example.com:2222/acme/app.git",
        "git@github.com:acme/app.git",
        "file:///srv/git/app",
    ]
)


def optional(key: str, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Either {} or {key: value}."""
    return st.one_of(st.just({}), strategy.map(lambda value: {key: value}))


@st.composite
def environments(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Unique names; an acyclic dependency graph, explicit or linear by default."""
    names = draw(st.lists(dns_label, min_size=1, max_size=7, unique=True))
    rank = {name: r for r, name in enumerate(draw(st.permutations(names)))}
    result = []
    for i, name in enumerate(names):
        env: dict[str, Any] = {
            "name": name,
            "account": draw(account),
            "region": draw(region),
            "stacks": [
                {"name": s} for s in draw(st.lists(stack_name, min_size=1, max_size=3, unique=True))
            ],
        }
        earlier = [n for n in names if rank[n] < rank[name]]
        linear_ok = i == 0 or rank[names[i - 1]] < rank[name]
        choices: list[st.SearchStrategy[list[str] | None]] = [st.just([])]
        if earlier:
            choices.append(st.lists(st.sampled_from(earlier), unique=True))
        if linear_ok:
            choices.append(st.just(None))
        deps = draw(st.one_of(*choices))
        if deps is not None:
            env["depends_on"] = deps
        if draw(st.booleans()):
            env["role_arn"] = f"arn:aws:iam::{env['account']}:role/deploy-{i}"
        env.update(draw(optional("context", context)))
        env.update(
            draw(
                optional(
                    "tests",
                    st.fixed_dictionaries(
                        {"commands": commands},
                        optional={"timeout_minutes": st.integers(1, 720)},
                    ),
                )
            )
        )
        env.update(draw(optional("approval", st.sampled_from(["none", "manual"]))))
        result.append(env)
    return result


configs = st.fixed_dictionaries(
    {
        "version": st.just(1),
        "pipeline": st.fixed_dictionaries(
            {"name": dns_label, "repository": repository},
            optional={
                "branch": st.sampled_from(["main", "release/v1.2", "feature_x"]),
                "namespace": dns_label,
                "artifact_retention_days": st.integers(1, 3650),
                "notifications": st.fixed_dictionaries(
                    {},
                    optional={
                        "sns_topic_arn": st.just("arn:aws:sns:us-east-1:123456789012:deploys"),
                        "slack_webhook_secret": dns_label,
                        "github_status": st.booleans(),
                    },
                ),
            },
        ),
        "build": st.fixed_dictionaries(
            {"commands": commands},
            optional={
                "artifacts": st.lists(
                    st.sampled_from(["dist/**", "cdk.json", "*.txt"]), min_size=1
                ),
                "timeout_minutes": st.integers(1, 720),
            },
        ),
        "environments": environments(),
    }
)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def parse_or_config_error(text: str | bytes) -> AphexConfig | None:
    """Parse; a ConfigError is fine, any other exception fails the test."""
    try:
        return parse_config(text)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert "\n" not in problem.message
        return None


@SETTINGS
@given(configs)
def test_generated_valid_configs_load_and_round_trip(data: dict[str, Any]) -> None:
    config = parse_config(dump(data))
    assert [e.name for e in config.environments] == [e["name"] for e in data["environments"]]
    assert config.build.commands == tuple(
        c if isinstance(c, str) else tuple(c) for c in data["build"]["commands"]
    )
    reloaded = parse_config(dump(config.model_dump(mode="json")))
    assert reloaded == config
    reloaded = parse_config(dump(config.model_dump(mode="json", exclude_defaults=True)))
    assert reloaded == config


@SETTINGS
@given(configs)
def test_waves_respect_every_dependency(data: dict[str, Any]) -> None:
    config = parse_config(dump(data))
    waves = config.waves()
    wave_of = {env.name: i for i, wave in enumerate(waves) for env in wave}
    assert sorted(wave_of) == sorted(e.name for e in config.environments)
    assert sum(len(w) for w in waves) == len(config.environments)
    order = [e.name for e in config.environments]
    for i, wave in enumerate(waves):
        assert wave, "no empty waves"
        names = [e.name for e in wave]
        assert names == sorted(names, key=order.index), "file order inside a wave"
        for env in wave:
            deps = config.effective_depends_on(env.name)
            assert all(wave_of[d] < i for d in deps)
            # Layers are tight: an environment runs right after its latest dependency.
            assert i == (max((wave_of[d] for d in deps), default=-1) + 1)


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_config_error(text: str) -> None:
    parse_or_config_error(text)


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_config_error(raw: bytes) -> None:
    parse_or_config_error(raw)


yamlish = st.text(st.sampled_from(list("ab01:-?[]{},&*!|>'\"#%@`~<= .\n\t\\")), max_size=200)


@SETTINGS
@given(yamlish)
def test_yaml_like_text_raises_only_config_error(text: str) -> None:
    parse_or_config_error(text)


SNIPPETS = [
    ":",
    "- ",
    "  ",
    "\n",
    "{{",
    "&a ",
    "*a",
    "!!binary ",
    "!x ",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "\t",
    "\x00",
    "\u202e",
    "<<: *a\n",
    "1e999",
    "0x1F",
    "~",
    "? ",
    "---\n",
    "9" * 30,
    "\ufeff",
    "\x85",
    "é",
    "%YAML 1.1\n",
    "yes",
    ".nan",
    "2024-01-01",
    "\r",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid file with a few random edits."""
    text = draw(st.sampled_from([BASE, CONTRACT_EXAMPLE]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate-line", "swap-lines"]))
        if action == "insert":
            snippet = draw(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=5)))
            text = text[:at] + snippet + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True) or [""]
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if action == "duplicate-line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text


@settings(SETTINGS, max_examples=EXAMPLES * 3)
@given(mutated())
def test_mutated_valid_files_raise_only_config_error(text: str) -> None:
    parse_or_config_error(text)
    parse_or_config_error(text.encode("utf-8", errors="surrogatepass"))
