"""Checks of a commit's files and tools, run in the image that has the tools.

The validation stage (builder image) checks the build commands' programs, node and npm;
the pipeline stage (deployer image) checks the test commands' programs and the pinned CDK
CLI before anything deploys. Each check returns its problems as one line each.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aphex_config import AphexConfig, Command
from aphex_stages.cdk import CDK_ENV, CdkCliNotFoundError, find_cdk_cli
from aphex_stages.cdk.cli import cli_package_version, package_version
from aphex_stages.process import describe_command, run_command

__all__ = [
    "MIN_NODE",
    "MIN_NPM",
    "build_commands",
    "check_cdk_files",
    "check_commands",
    "check_toolchain",
    "command_program",
    "test_commands",
]

MIN_NODE = (18, 0, 0)
MIN_NPM = (9, 0, 0)

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_PIN = re.compile(r"\s*(\^|~|>=|=)?\s*v?(\d+)\.(\d+)\.(\d+)\s*")
# Shell words that are not programs on PATH: the rest of such a command cannot be checked.
_SHELL_WORDS = frozenset(
    """! . : [ [[ { ( alias bg break case cd command continue declare echo eval exec exit
    export false fg for function getopts hash if jobs kill let local popd printf pushd pwd
    read readonly return select set shift source test time times trap true type typeset
    ulimit umask unalias unset until wait while""".split()
)


# -- commands -------------------------------------------------------------------------------


def command_program(command: Command) -> str | None:
    """The program a command starts, or None when the shell runs it itself (``cd``, ``(``).

    An argv's first entry; for a string, its first word after ``NAME=value`` assignments.
    Raises ValueError when a string command is not valid shell quoting.
    """
    if not isinstance(command, str):
        return command[0] if command else None
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    for word in lexer:
        if _ASSIGNMENT.fullmatch(word):
            continue
        return None if word in _SHELL_WORDS or not word[0].isprintable() else word
    return None


def _program_problem(program: str, root: Path, path_env: str | None) -> str | None:
    if "/" in program:
        target = Path(program) if program.startswith("/") else root / program
        if program.startswith("/") and not target.exists():
            return f"`{program}` does not exist"
        if target.exists() and not os.access(target, os.X_OK):
            return f"`{program}` is not executable (git add --chmod=+x)"
        return None  # a relative path the build may create
    if shutil.which(program, path=path_env) is None:
        return f"`{program}` is not on PATH"
    return None


def _shell_syntax_problem(command: Command) -> str | None:
    """``/bin/sh -n`` (parse, do not run) of a string command: its complaint, if any."""
    if not isinstance(command, str):
        return None
    lines: list[str] = []
    result = run_command(
        ["/bin/sh", "-n", "-c", command], cwd=Path.cwd(), timeout=10, on_line=lines.append
    )
    if result.ok:
        return None
    return "shell syntax error: " + (" ".join(lines).strip() or f"exit {result.exit_code}")


CommandGroup = tuple[str, Sequence[Command]]


def build_commands(config: AphexConfig) -> list[CommandGroup]:
    """The build commands (they run in the builder image)."""
    return [("build command", config.build.commands)]


def test_commands(config: AphexConfig) -> list[CommandGroup]:
    """Each environment's test commands (they run in the deployer image)."""
    return [
        (f"environment {env.name}: test command", env.tests.commands)
        for env in config.environments
        if env.tests is not None
    ]


def check_commands(
    groups: Sequence[CommandGroup], root: Path, *, path_env: str | None = None
) -> list[str]:
    """Problems with the programs of `groups`' commands (PATH: ``path_env``)."""
    problems: list[str] = []
    for label, commands in groups:
        for number, command in enumerate(commands, start=1):
            where = f"{label} {number} `{describe_command(command, 80)}`"
            syntax = _shell_syntax_problem(command)
            if syntax:
                problems.append(f"{where}: {syntax}")
                continue
            try:
                program = command_program(command)
            except ValueError as error:
                problems.append(f"{where}: cannot be parsed as shell words: {error}")
                continue
            problem = program and _program_problem(program, root, path_env)
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


# -- CDK files ------------------------------------------------------------------------------


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except json.JSONDecodeError as error:
        return None, f"{path.name} is not valid JSON: {error.msg} at line {error.lineno}"
    except (OSError, UnicodeDecodeError) as error:
        return None, f"{path.name} cannot be read: {error}"


def check_cdk_files(root: Path) -> list[str]:
    """Problems with ``cdk.json`` (must name the ``app``) and ``cdk.context.json`` (if present)."""
    problems: list[str] = []
    cdk_json = root / "cdk.json"
    if not cdk_json.is_file():
        problems.append("cdk.json is missing at the repository root; the CDK app cannot be run")
    else:
        document, error = _read_json(cdk_json)
        if error:
            problems.append(error)
        elif not isinstance(document, dict):
            problems.append("cdk.json is not a JSON object")
        else:
            app = document.get("app")
            if not isinstance(app, str) or not app.strip():
                problems.append('cdk.json has no "app" (the command that runs the CDK app)')
            context = document.get("context", {})
            if not isinstance(context, dict):
                problems.append('cdk.json "context" is not an object')
    context_json = root / "cdk.context.json"
    if context_json.exists():
        document, error = _read_json(context_json)
        if error:
            problems.append(error)
        elif not isinstance(document, dict):
            problems.append("cdk.context.json is not a JSON object")
    return problems


# -- toolchain ------------------------------------------------------------------------------


def _version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _tool_version(
    argv: Sequence[str], env: Mapping[str, str]
) -> tuple[tuple[int, ...] | None, str]:
    lines: list[str] = []
    result = run_command(argv, cwd=Path.cwd(), env=env, timeout=60, on_line=lines.append)
    output = " ".join(line.strip() for line in lines if line.strip())
    if not result.ok:
        return None, output or f"exit {result.exit_code}"
    return _version(output), output


def _pin(root: Path) -> str | None:
    document, error = _read_json(root / "package.json")
    if error or not isinstance(document, dict):
        return None
    for section in ("devDependencies", "dependencies"):
        deps = document.get(section)
        if isinstance(deps, dict) and isinstance(deps.get("aws-cdk"), str):
            return str(deps["aws-cdk"])
    return None


def _satisfies(version: tuple[int, ...], spec: str) -> bool | None:
    match = _PIN.fullmatch(spec)
    if not match:
        return None
    want = (int(match[2]), int(match[3]), int(match[4]))
    operator = match[1] or "="
    if operator == "=":
        return version == want
    if operator == ">=":
        return version >= want
    if operator == "^":
        return version >= want and version[0] == want[0]
    return version >= want and version[:2] == want[:2]


def _show(version: Iterable[int]) -> str:
    return ".".join(str(part) for part in version)


def check_toolchain(
    root: Path, *, environ: Mapping[str, str] | None = None, cdk: bool = True
) -> list[str]:
    """Problems with node (>= 18), npm (>= 9) and, with `cdk`, the pinned CDK CLI (asked at
    once; the CLI's version is read from its npm package when it is in one)."""
    env = dict(os.environ if environ is None else environ)
    path_env = env.get("PATH")
    problems: list[str] = []
    asks: dict[str, tuple[list[str], Mapping[str, str]]] = {}
    known: dict[str, tuple[tuple[int, ...] | None, str]] = {}
    for tool, minimum in (("node", MIN_NODE), ("npm", MIN_NPM)):
        program = shutil.which(tool, path=path_env)
        if program is None:
            problems.append(f"{tool} is not on PATH (the CDK CLI needs {tool} >= {_show(minimum)})")
        elif tool == "npm" and (packaged_npm := package_version(program, "npm")):
            known[tool] = (_version(packaged_npm), packaged_npm)  # no node start-up
        else:
            asks[tool] = ([program, "--version"], env)
    cli: Path | None = None
    packaged: str | None = None
    cli_problem = ""
    try:
        if cdk:
            cli = find_cdk_cli(environ=env)
            packaged = cli_package_version(cli)
            if packaged is None:  # not in its npm package: ask the program
                asks["cdk"] = ([str(cli), "--version"], {**env, **CDK_ENV})
    except CdkCliNotFoundError as error:
        cli_problem = f"CDK CLI: {error}"
    with ThreadPoolExecutor(max_workers=max(1, len(asks))) as pool:
        answers = {tool: pool.submit(_tool_version, *ask) for tool, ask in asks.items()}
        versions = {tool: future.result() for tool, future in answers.items()}
    versions.update(known)
    for tool, minimum in (("node", MIN_NODE), ("npm", MIN_NPM)):
        if tool not in versions:
            continue
        version, output = versions[tool]
        if version is None:
            problems.append(f"`{tool} --version` failed: {output}")
        elif version < minimum:
            problems.append(f"{tool} {_show(version)} is too old: need >= {_show(minimum)}")
    if cli is None:
        return [*problems, cli_problem] if cli_problem else problems
    version, output = (_version(packaged), packaged) if packaged else versions["cdk"]
    if version is None:
        problems.append(f"`{cli} --version` failed: {output}")
        return problems
    pin = _pin(root)
    if pin is not None and _satisfies(version, pin) is False:
        problems.append(
            f"CDK CLI {_show(version)} at {cli} does not match the aws-cdk pin {pin!r} of"
            " package.json; use a builder image with that CLI or change the pin"
        )
    return problems
