"""The models: defaults, derived views, immutability, the contract's API."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_cases import BASE, CONTRACT_EXAMPLE, edit
from pydantic import ValidationError

import aphex_config
from aphex_config import (
    AphexConfig,
    BuildSettings,
    ConfigError,
    Environment,
    Images,
    Notifications,
    PipelineSettings,
    Problem,
    Stack,
    TestSettings,
    load_config,
    parse_config,
)


def test_contract_example_loads_with_every_field() -> None:
    config = parse_config(CONTRACT_EXAMPLE)
    assert config.version == 1
    assert config.pipeline.name == "orders-service"
    assert config.pipeline.repository == "https://github.com/acme/orders-service.git"
    assert config.pipeline.branch == "main"
    assert config.pipeline.namespace == "argo"
    assert config.pipeline.artifact_retention_days == 90
    assert isinstance(config.pipeline.images, Images)
    assert str(config.pipeline.images.builder).endswith("/aphex/builder:1.0.0")
    assert isinstance(config.pipeline.notifications, Notifications)
    assert config.pipeline.notifications.github_status is True
    assert config.pipeline.notifications.slack_webhook_secret == "aphex-slack"
    assert config.build.commands == ("pip install -r requirements.txt", ("npm", "ci"))
    assert config.build.artifacts == ("dist/**", "cdk.json")
    assert config.build.timeout_minutes == 30
    dev = config.environment("dev")
    assert dev.account == "111111111111"
    assert dev.stacks == (Stack(name="NetworkStack"), Stack(name="ApiStack"))
    assert dict(dev.context) == {"stage": "dev"}
    assert isinstance(dev.tests, TestSettings)
    assert dev.tests.commands == ("pytest tests/smoke",)
    assert dev.tests.timeout_minutes == 15
    assert dev.depends_on == ()
    assert dev.approval == "manual"
    assert config.environment("prod").depends_on == ("dev",)


def test_defaults_from_the_contract() -> None:
    config = parse_config(BASE)
    assert config.pipeline.branch == "main"
    assert config.pipeline.namespace == "argo"
    assert config.pipeline.artifact_retention_days == 90
    assert config.pipeline.images is None
    assert config.pipeline.notifications is None
    assert config.build.artifacts is None
    assert config.build.timeout_minutes == 30
    dev = config.environment("dev")
    assert dev.role_arn is None
    assert dev.depends_on is None
    assert dev.approval == "none"
    assert dev.tests is None
    assert dict(dev.context) == {}


def test_types_of_collections() -> None:
    config = parse_config(CONTRACT_EXAMPLE)
    assert isinstance(config.environments, tuple)
    assert isinstance(config.build.commands, tuple)
    assert isinstance(config.build.commands[1], tuple)
    assert all(isinstance(env, Environment) for env in config.environments)
    assert isinstance(config.pipeline, PipelineSettings)
    assert isinstance(config.build, BuildSettings)


def test_effective_role_arn() -> None:
    config = parse_config(CONTRACT_EXAMPLE)
    assert config.environment("dev").effective_role_arn == (
        "arn:aws:iam::111111111111:role/aphex-deploy"
    )
    assert config.environment("prod").role_arn is None
    assert config.environment("prod").effective_role_arn == (
        "arn:aws:iam::222222222222:role/aphex-deploy"
    )


def test_effective_depends_on_is_linear_by_default() -> None:
    text = edit(
        "    depends_on: [dev]\n", "  - {name: qa, account: '3333333333ab', region: us-east-1}\n"
    )
    text = text.replace("'3333333333ab'", "'333333333333', stacks: [{name: S}]")
    config = parse_config(text)
    assert config.effective_depends_on("dev") == ()
    assert config.effective_depends_on("prod") == ("dev",)
    assert config.effective_depends_on("qa") == ("prod",)
    assert [[e.name for e in wave] for wave in config.waves()] == [["dev"], ["prod"], ["qa"]]


def test_empty_depends_on_means_first_wave() -> None:
    config = parse_config(edit("depends_on: [dev]", "depends_on: []"))
    assert config.effective_depends_on("prod") == ()
    assert [[e.name for e in wave] for wave in config.waves()] == [["dev", "prod"]]


WAVES = """\
version: 1
pipeline: {name: p, repository: "https://example.com/p.git"}
build: {commands: [make]}
environments:
  - {name: prod-eu, account: "111111111111", region: eu-west-1, stacks: [{name: S}], depends_on: [staging]}
  - {name: dev, account: "111111111111", region: us-east-1, stacks: [{name: S}], depends_on: []}
  - {name: qa, account: "111111111111", region: us-east-1, stacks: [{name: S}], depends_on: []}
  - {name: staging, account: "111111111111", region: us-east-1, stacks: [{name: S}], depends_on: [dev, qa]}
  - {name: prod-us, account: "222222222222", region: us-east-1, stacks: [{name: S}], depends_on: [staging]}
  - {name: audit, account: "222222222222", region: us-east-1, stacks: [{name: S}], depends_on: [dev, prod-us]}
"""


def test_waves_are_topological_layers_in_file_order() -> None:
    config = parse_config(WAVES)
    assert [[e.name for e in wave] for wave in config.waves()] == [
        ["dev", "qa"],
        ["staging"],
        ["prod-eu", "prod-us"],
        ["audit"],
    ]
    assert config.target_accounts() == ("111111111111", "222222222222")


def test_environment_lookup_raises_key_error() -> None:
    config = parse_config(BASE)
    with pytest.raises(KeyError):
        config.environment("nope")
    with pytest.raises(KeyError):
        config.effective_depends_on("nope")


def test_models_are_frozen() -> None:
    config = parse_config(CONTRACT_EXAMPLE)
    for model, field, value in [(config, "version", 2), (config.environments[0], "name", "x")]:
        with pytest.raises(ValidationError):
            setattr(model, field, value)
    with pytest.raises(TypeError):
        config.environments[0].context["stage"] = "x"  # type: ignore[index]
    assert hash(config.environments[1].stacks[0]) == hash(Stack(name="NetworkStack"))


def test_programmatic_construction_checks_the_same_rules() -> None:
    env = {"account": "111111111111", "region": "us-east-1", "stacks": [{"name": "S"}]}
    data = {
        "version": 1,
        "pipeline": {"name": "p", "repository": "https://example.com/p.git"},
        "build": {"commands": ["make"]},
        "environments": [
            {"name": "a", "depends_on": ["b"], **env},
            {"name": "b", **env},
        ],
    }
    with pytest.raises(ValidationError, match=r"dependency cycle: a -> b -> a"):
        AphexConfig.model_validate(data)
    data["environments"][0]["depends_on"] = []  # type: ignore[index]
    config = AphexConfig.model_validate(data)
    assert [[e.name for e in w] for w in config.waves()] == [["a"], ["b"]]
    with pytest.raises(ValidationError):
        Stack(name="bad name")


def test_equal_files_give_equal_models() -> None:
    assert parse_config(CONTRACT_EXAMPLE) == parse_config(CONTRACT_EXAMPLE.encode())


def test_load_config_reads_a_file(example_file: Path) -> None:
    assert load_config(example_file) == parse_config(CONTRACT_EXAMPLE)
    assert load_config(str(example_file)).pipeline.name == "orders-service"


def test_load_config_names_the_file_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "aphex-config.yaml"
    path.write_text(edit("version: 1", "version: 3"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:1:10: version: ")


def test_load_config_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(aphex_config.ConfigReadError) as info:
        load_config(tmp_path / "absent.yaml")
    assert isinstance(info.value, ConfigError)
    assert "cannot read file" in info.value.problems[0].message


def test_problem_format_and_error_text() -> None:
    problem = Problem("aphex-config.yaml", 14, 7, "environments[1].account", "bad")
    assert str(problem) == "aphex-config.yaml:14:7: environments[1].account: bad"
    error = ConfigError([problem, problem])
    assert error.problems == (problem, problem)
    assert str(error) == f"{problem}\n{problem}"


def test_public_api_matches_the_contract() -> None:
    names = {
        "__version__",
        "AphexConfig",
        "PipelineSettings",
        "Images",
        "Notifications",
        "BuildSettings",
        "Environment",
        "Stack",
        "TestSettings",
        "Command",
        "ConfigError",
        "Problem",
        "load_config",
        "parse_config",
    }
    assert names <= set(aphex_config.__all__)
    for name in names:
        assert hasattr(aphex_config, name)
    assert aphex_config.__version__ == "0.1.0"


TOOLCHAIN = """\
toolchain:
  files: [requirements.txt, tests/requirements.txt]
  install:
    - [python3, -m, venv, venv]
    - venv/bin/pip install -r requirements.txt -r tests/requirements.txt
  path: [venv/bin]
"""


def test_a_toolchain_is_optional_and_typed() -> None:
    assert aphex_config.parse_config(BASE).toolchain is None
    config = aphex_config.parse_config(edit("environments:\n", TOOLCHAIN + "environments:\n"))
    toolchain = config.toolchain
    assert isinstance(toolchain, aphex_config.Toolchain)
    assert toolchain.files == ("requirements.txt", "tests/requirements.txt")
    assert toolchain.install[0] == ("python3", "-m", "venv", "venv")
    assert toolchain.path == ("venv/bin",) and toolchain.link == ()
    assert toolchain.timeout_minutes == 20


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("/etc/passwd", "must be a relative path"),
        ("../outside", "no '..'"),
        ("req*.txt", "no wildcard"),
    ],
)
def test_toolchain_files_stay_inside_the_repository(entry: str, message: str) -> None:
    text = edit(
        "environments:\n", TOOLCHAIN.replace("tests/requirements.txt", entry) + "environments:\n"
    )
    with pytest.raises(aphex_config.ConfigError) as error:
        aphex_config.parse_config(text)
    (problem,) = error.value.problems
    assert problem.path == "toolchain.files[1]" and message in problem.message
