"""The text of the files `aphex init` writes: the config, the example post-deploy test and
the test requirements. Pure functions of what init found; nothing is read or written here."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aphex_stages.init.options import PLACEHOLDER_ACCOUNT
from aphex_stages.init.project import NODE, PYTHON, Project
from aphex_stages.init.synth import AppStack

__all__ = [
    "REQUIREMENTS_TEST",
    "SCHEMA_FILE",
    "TEST_FILE",
    "EnvironmentPlan",
    "render_config",
    "render_requirements",
    "render_test",
]

SCHEMA_FILE = "aphex-config.schema.json"
TEST_FILE = "tests/post_deploy/test_stacks.py"
REQUIREMENTS_TEST = "requirements-test.txt"
TEST_COMMAND = ["python3", "-m", "pytest", "tests/post_deploy", "-q"]
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})
_PIP = ["--quiet", "--disable-pip-version-check"]


@dataclass(frozen=True)
class EnvironmentPlan:
    """One environment of the generated config."""

    name: str
    account: str
    region: str
    depends_on: tuple[str, ...]


def _scalar(value: str) -> str:
    """`value` as a YAML scalar: plain when that reads back as the same string."""
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value)


def _flow(values: Sequence[str], indent: int = 6, width: int = 96) -> str:
    """A YAML flow sequence of quoted strings, continued on lines indented by `indent`
    when it would pass `width` columns."""
    items = [json.dumps(value) for value in values]
    lines = ["[" + (items[0] if items else "")]
    for item in items[1:]:
        if len(lines[-1]) + len(item) + 2 + indent > width:
            lines[-1] += ","
            lines.append(" " * (indent + 1) + item)
        else:
            lines[-1] += ", " + item
    return "\n".join(lines) + "]"


def _toolchain(project: Project) -> list[str]:
    venv = [["python3", "-m", "venv", "venv"]]
    if project.kind == PYTHON:
        files = ["requirements.txt", REQUIREMENTS_TEST]
        pip = ["venv/bin/pip", "install", *_PIP, "-r", "requirements.txt", "-r", REQUIREMENTS_TEST]
        comment = [
            "# The app's own packages (aws-cdk-lib for synth; pytest and boto3 for the tests) in the",
            "# deployer: a venv made once per change of the requirements, in a cache the deploy and",
            "# test pods share, put first on PATH for the app's command and the test commands.",
        ]
        return [*comment, *_toolchain_lines(files, [*venv, pip], [], ["venv/bin"])]
    pip = ["venv/bin/pip", "install", *_PIP, "-r", REQUIREMENTS_TEST]
    if project.kind == NODE:
        files = [
            "package.json",
            *(["package-lock.json"] if project.has_lock else []),
            REQUIREMENTS_TEST,
        ]
        npm = ["npm", "ci" if project.has_lock else "install", "--no-audit", "--no-fund"]
        comment = [
            "# The app's own packages in the deployer: `npm ci` of the lock (node_modules linked into",
            "# the app's tree, node_modules/.bin first on PATH for cdk.json's command), and a venv",
            "# with pytest and boto3 for the post-deploy test; made once per change of these files.",
        ]
        return [
            *comment,
            *_toolchain_lines(
                files, [npm, *venv, pip], ["node_modules"], ["node_modules/.bin", "venv/bin"]
            ),
        ]
    comment = [
        "# A venv with pytest and boto3 for the post-deploy test. The deployer image has Python",
        "# 3.11, Node.js 22 and the CDK CLI: add what your app's synth needs to files and install.",
    ]
    return [*comment, *_toolchain_lines([REQUIREMENTS_TEST], [*venv, pip], [], ["venv/bin"])]


def _toolchain_lines(
    files: list[str], install: list[list[str]], link: list[str], path: list[str]
) -> list[str]:
    lines = ["toolchain:", f"  files: [{', '.join(files)}]", "  install:"]
    lines += [f"    - {_flow(command)}" for command in install]
    if link:
        lines.append(f"  link: [{', '.join(link)}]")
    lines += [f"  path: [{', '.join(path)}]", "  timeout_minutes: 15"]
    return lines


def _build(project: Project) -> list[str]:
    if project.kind == PYTHON:
        comment = "# The builder has no venv of the app: check that its Python sources compile."
        targets = [*project.python_sources, "tests"]
    else:
        comment = "# The builder has node, npm and python3, not the app's packages: check the test's syntax."
        targets = ["tests"]
    command = ["python3", "-m", "compileall", "-q", *dict.fromkeys(targets)]
    return [comment, "build:", "  commands:", f"    - {_flow(command)}", "  timeout_minutes: 10"]


def _environment(env: EnvironmentPlan, stacks: Sequence[AppStack]) -> list[str]:
    lines = [
        f"  - name: {env.name}",
        f"    account: {json.dumps(env.account)}",
        f"    region: {_scalar(env.region)}",
        "    stacks:",
        *(f"      - name: {_scalar(stack.name)}" for stack in stacks),
        "    tests:",
        "      commands:",
        f"        - {_flow(TEST_COMMAND, indent=10)}",
        "      timeout_minutes: 10",
        f"    depends_on: [{', '.join(env.depends_on)}]",
    ]
    return lines


def render_config(
    *,
    name: str,
    repository: str,
    repository_known: bool,
    branch: str,
    project: Project,
    stacks: Sequence[AppStack],
    environments: Sequence[EnvironmentPlan],
    placeholder_account: bool,
) -> str:
    """The text of ``aphex-config.yaml``; its first line points editors at the schema."""
    lines = [
        f"# yaml-language-server: $schema=./{SCHEMA_FILE}",
        f"# AphexPipeline configuration of {name}, written by `aphex init`; `aphex validate` checks",
        "# it. Each environment deploys the app's stacks in this order (dependencies first, as",
        "# `cdk synth` gave them), then runs the post-deploy tests in tests/post_deploy.",
    ]
    if placeholder_account:
        lines += [
            f"# {PLACEHOLDER_ACCOUNT} is a placeholder account, the one `aphex run --local`"
            " deploys to in",
            "# its embedded AWS: put your own accounts here before installing the pipeline on AWS.",
        ]
    lines += ["version: 1", "pipeline:", f"  name: {_scalar(name)}"]
    if not repository_known:
        lines.append(
            "  # a placeholder (the folder has no git remote origin): your repository's URL"
        )
    lines += [f"  repository: {_scalar(repository)}", f"  branch: {_scalar(branch)}"]
    lines += _toolchain(project)
    lines += _build(project)
    lines.append("environments:")
    for env in environments:
        lines += _environment(env, stacks)
    return "\n".join(lines) + "\n"


def render_requirements() -> str:
    """``requirements-test.txt``: the post-deploy test's packages."""
    return (
        "# Packages of the post-deployment tests (tests/post_deploy), installed by the toolchain\n"
        "# of aphex-config.yaml. Pin exact versions for repeatable runs.\n"
        "pytest>=8\n"
        "boto3>=1.34\n"
    )


_TEST = '''"""Post-deployment tests of {name}, written by `aphex init`: every stack is deployed.

The pipeline runs them after an environment's stacks deploy (`tests.commands` in
aphex-config.yaml), with that environment's AWS region and read-only credentials, and each
stack output as a variable `<STACK>_<OUTPUT>` in upper snake case (`StorageStack` /
`BucketName` -> `STORAGE_STACK_BUCKET_NAME`). Add tests of your resources here, reading
their names from those variables.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest

# The app's stacks in deploy order, each with the variable of each of its outputs.
STACKS: dict[str, dict[str, str]] = {stacks}
DEPLOYED = {{"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}}


@pytest.fixture(scope="module")
def cloudformation() -> Any:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        pytest.fail("AWS_REGION is not set: run these tests with the environment's AWS settings")
    return boto3.client("cloudformation", region_name=region)


def describe(cloudformation: Any, stack: str) -> dict[str, Any]:
    found: dict[str, Any] = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return found


@pytest.mark.parametrize("stack", list(STACKS))
def test_stack_is_deployed(cloudformation: Any, stack: str) -> None:
    status = describe(cloudformation, stack)["StackStatus"]
    assert status in DEPLOYED, f"{{stack}} is {{status}}"


@pytest.mark.parametrize("stack", list(STACKS))
def test_outputs_reach_the_tests(cloudformation: Any, stack: str) -> None:
    for output in describe(cloudformation, stack).get("Outputs") or []:
        variable = STACKS[stack].get(output["OutputKey"])
        if variable:
            assert os.environ.get(variable) == output["OutputValue"], f"{{variable}} is not set"
'''


def render_test(name: str, stacks: Sequence[AppStack]) -> str:
    """``tests/post_deploy/test_stacks.py``: each stack is deployed and its outputs reach
    the tests (passes for stacks without outputs too)."""
    listed = {stack.name: stack.outputs for stack in stacks}
    return _TEST.format(name=name, stacks=json.dumps(listed, indent=4))
