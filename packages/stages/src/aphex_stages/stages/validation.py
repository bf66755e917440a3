"""``aphex-stage-validation``: check that the commit can be built and deployed, before anything runs.

Every check runs and every problem is reported at once:

* the configuration at the commit parses (else exit 4, CONFIG_INVALID, with every problem);
* AWS credentials work (STS ``GetCallerIdentity``), and every environment's deploy role
  can be assumed and lands in the environment's account;
* the artifact bucket answers, when ``APHEX_ARTIFACT_BUCKET`` is set;
* ``cdk.json`` parses and names the ``app``; ``cdk.context.json``, if present, parses;
* every string command parses (``/bin/sh -n``) and the program of every build and test
  command is on PATH;
* node >= 18, npm >= 9, and the pinned CDK CLI matches the ``aws-cdk`` pin of the
  repository's root ``package.json`` when it has one.

Any other problem: exit 12, PRECONDITION_FAILED, with one detail line per problem.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from aphex_config import AphexConfig, Command
from aphex_generator import VALIDATION, session_name
from aphex_monitoring import RunFacts, record_run_start
from aphex_stages.artifact import check_bucket, s3_client
from aphex_stages.cdk import CDK_ENV, CdkCliNotFoundError, find_cdk_cli
from aphex_stages.cdk.cli import cli_package_version
from aphex_stages.errors import ExitCode, StageError
from aphex_stages.process import describe_command, run_command
from aphex_stages.runner import Stage, StageContext, pipeline_region
from aphex_stages.workspace import checkout_source, load_workspace_config

__all__ = [
    "MIN_NODE",
    "MIN_NPM",
    "check_aws",
    "check_cdk_files",
    "check_commands",
    "check_toolchain",
    "command_program",
    "main",
    "stage",
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


def check_commands(config: AphexConfig, root: Path, *, path_env: str | None = None) -> list[str]:
    """Problems with the programs of the build and test commands (PATH: ``path_env``)."""
    groups: list[tuple[str, Sequence[Command]]] = [("build command", config.build.commands)]
    for env in config.environments:
        if env.tests is not None:
            groups.append((f"environment {env.name}: test command", env.tests.commands))
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


def check_toolchain(root: Path, *, environ: Mapping[str, str] | None = None) -> list[str]:
    """Problems with node (>= 18), npm (>= 9) and the pinned CDK CLI (asked at once; the
    CLI's version is read from its npm package when it is in one)."""
    env = dict(os.environ if environ is None else environ)
    path_env = env.get("PATH")
    problems: list[str] = []
    asks: dict[str, tuple[list[str], Mapping[str, str]]] = {}
    for tool, minimum in (("node", MIN_NODE), ("npm", MIN_NPM)):
        program = shutil.which(tool, path=path_env)
        if program is None:
            problems.append(f"{tool} is not on PATH (the CDK CLI needs {tool} >= {_show(minimum)})")
        else:
            asks[tool] = ([program, "--version"], env)
    cli: Path | None = None
    packaged: str | None = None
    try:
        cli = find_cdk_cli(environ=env)
        packaged = cli_package_version(cli)
        if packaged is None:  # not in its npm package: ask the program
            asks["cdk"] = ([str(cli), "--version"], {**env, **CDK_ENV})
    except CdkCliNotFoundError as error:
        cli_problem = f"CDK CLI: {error}"
    with ThreadPoolExecutor(max_workers=max(1, len(asks))) as pool:
        answers = {tool: pool.submit(_tool_version, *ask) for tool, ask in asks.items()}
        versions = {tool: future.result() for tool, future in answers.items()}
    for tool, minimum in (("node", MIN_NODE), ("npm", MIN_NPM)):
        if tool not in versions:
            continue
        version, output = versions[tool]
        if version is None:
            problems.append(f"`{tool} --version` failed: {output}")
        elif version < minimum:
            problems.append(f"{tool} {_show(version)} is too old: need >= {_show(minimum)}")
    if cli is None:
        return [*problems, cli_problem]
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


# -- AWS ------------------------------------------------------------------------------------


def _aws_reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")
    if isinstance(error, BotoConnectionError | HTTPClientError):
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the STS endpoint"
        return f"cannot reach {endpoint}: {error}"
    return str(error)


def _sts(region: str, credentials: Mapping[str, str] | None = None) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=(credentials or {}).get("AccessKeyId"),
        aws_secret_access_key=(credentials or {}).get("SecretAccessKey"),
        aws_session_token=(credentials or {}).get("SessionToken"),
    )
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 3)
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=5,
        read_timeout=20,
    )
    return session.client("sts", region_name=region, config=config)


def check_aws(config: AphexConfig, *, pipeline: str, commit: str, log: Any) -> list[str]:
    """Problems with the credentials and with assuming each environment's deploy role."""
    region = pipeline_region()
    try:
        identity = _sts(region).get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        return [
            f"AWS credentials: sts:GetCallerIdentity failed ({_aws_reason(error)}); "
            "deploy roles not checked"
        ]
    log.info("AWS identity %s (account %s)", identity.get("Arn"), identity.get("Account"))
    problems: list[str] = []
    session = session_name(pipeline, commit)
    for env in config.environments:
        role = env.effective_role_arn
        try:
            issued = _sts(env.region).assume_role(
                RoleArn=role,
                RoleSessionName=session,
                DurationSeconds=900,
                ExternalId=pipeline,  # what the target-account stack's trust requires
            )["Credentials"]
            assumed = _sts(env.region, issued).get_caller_identity()
        except (BotoCoreError, ClientError) as error:
            problems.append(
                f"environment {env.name}: cannot assume {role} ({_aws_reason(error)}); its "
                "trust policy must allow the pipeline's role, which needs sts:AssumeRole on it"
            )
            continue
        if assumed.get("Account") != env.account:
            problems.append(
                f"environment {env.name}: {role} gave credentials for account "
                f"{assumed.get('Account')}, not {env.account}"
            )
        else:
            log.info("environment %s: can assume %s", env.name, role)
    return problems


# -- the stage ------------------------------------------------------------------------------


def _check_bucket(bucket: str | None) -> list[str]:
    if not bucket:
        return []
    try:
        check_bucket(s3_client(max_attempts=3), bucket)
    except StageError as error:
        return [f"artifact bucket: {error.cause}"]
    return []


def _run_checks(checks: Sequence[Callable[[], list[str]]]) -> list[str]:
    """Run independent checks at once (they mostly wait on AWS and on tools' processes);
    their problems in the order of `checks`."""
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = [pool.submit(check) for check in checks]
        return [problem for future in futures for problem in future.result()]


def _announce_run(context: StageContext) -> None:
    """The run starts here: a Running record and a `pending` GitHub status (bounded, never fails)."""
    inputs = context.inputs
    if inputs.workflow_name:
        record_run_start(
            RunFacts(
                pipeline=inputs.pipeline,
                workflow_name=inputs.workflow_name,
                commit_sha=inputs.commit,
                repository=inputs.repository,
                trigger="push",
            )
        )


def _work(context: StageContext) -> None:
    inputs, log = context.inputs, context.log
    _announce_run(context)
    checkout = checkout_source(context)
    root = checkout.path
    config: AphexConfig | None = None
    config_error: StageError | None = None
    try:
        config = load_workspace_config(root)
    except StageError as error:
        config_error = error
    checks: list[Callable[[], list[str]]] = []
    if config is not None:
        loaded = config
        checks.append(
            lambda: check_aws(loaded, pipeline=inputs.pipeline, commit=inputs.commit, log=log)
        )
        checks.append(lambda: check_commands(loaded, root))
    checks.append(lambda: _check_bucket(context.settings.artifact_bucket))
    checks.append(lambda: check_cdk_files(root))
    checks.append(lambda: check_toolchain(root))
    problems = _run_checks(checks)
    if config_error is not None:
        more = f"; and {len(problems)} other problems" if problems else ""
        raise StageError(
            ExitCode.CONFIG_INVALID,
            config_error.cause + more,
            details=[*config_error.details, *problems],
        )
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise StageError(ExitCode.PRECONDITION_FAILED, f"{count}: {problems[0]}", details=problems)
    assert config is not None
    log.info(
        "validation passed: %d environments, %d build commands, toolchain and CDK files ok",
        len(config.environments),
        len(config.build.commands),
    )


stage = Stage(
    spec=VALIDATION,
    description="Check credentials, deploy roles, CDK files and build tools for the commit.",
    work=_work,
)
main = stage.main
