"""Test harness for the real CDK CLI against a real moto server.

* :func:`repo_root`: the AphexPipeline checkout (``APHEX_REPO_ROOT``, else found by walking
  up from this file or the working directory to the root ``package.json``). Under Pants the
  tests run in a sandbox without ``node_modules``: set ``APHEX_REPO_ROOT`` (or
  ``APHEX_CDK_CLI``) through ``[test] extra_env_vars``.
* :func:`ensure_cdk_cli`: the pinned ``node_modules/.bin/cdk`` (``APHEX_CDK_CLI`` wins; runs
  ``npm ci`` at the root when it is missing).
* :func:`ensure_sample_venv`: the venv of ``examples/sample-app`` made (once, cached in
  ``~/.cache/aphex``) by ``build-support/setup-sample-env.sh``; :func:`venv_env` puts its
  ``bin`` first on PATH for the CDK app subprocess.
* :func:`account_target` / :func:`bootstrap_local`: credentials of an account inside moto
  (STS AssumeRole of ``arn:aws:iam::<account>:role/aphex-deploy``) and ``cdk bootstrap`` of
  several account/region pairs in parallel with the real CLI.

Fixtures (import them by name into a test module or conftest):
``sample_venv`` (session), ``cdk_cli`` (session), ``cdk_moto`` (module: a moto server of
the module's own with :data:`SAMPLE_ENVIRONMENTS` bootstrapped; see :class:`CdkMoto`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aphex_stages.cdk import AwsTarget, CdkRunner, find_cdk_cli
from aphex_stages.local.bootstrap import account_target as _account_target
from aphex_stages.local.bootstrap import bootstrap_local as _bootstrap_local
from aphex_testing.moto_server import MotoServer, start_moto_server
from aphex_testing.sample_env import SampleEnvError, find_repo_root, setup_sample_env, venv_path_env

__all__ = [
    "SAMPLE_ENVIRONMENTS",
    "CdkMoto",
    "account_target",
    "bootstrap_local",
    "cdk_cli",
    "cdk_moto",
    "ensure_cdk_cli",
    "ensure_sample_venv",
    "repo_root",
    "sample_app_dir",
    "sample_venv",
    "venv_env",
]

# (account, region) of the sample's environments: dev, staging, prod.
SAMPLE_ENVIRONMENTS: tuple[tuple[str, str], ...] = (
    ("111111111111", "us-east-1"),
    ("111111111111", "us-west-2"),
    ("222222222222", "us-east-1"),
)

_lock = threading.Lock()
_venv: Path | None = None


def repo_root() -> Path:
    """The repository root (``APHEX_REPO_ROOT`` wins); fails the test when it is not found."""
    for start in (Path(__file__).resolve().parent, None):
        try:
            return find_repo_root(start)
        except SampleEnvError:
            continue
    pytest.fail("cannot find the AphexPipeline repository root; set APHEX_REPO_ROOT")


def infra_bin() -> Path:
    """The infra resolve's venv, exported by `./pants export --resolve=infra` (CI does)."""
    found = sorted((repo_root() / "dist/export/python/virtualenvs/infra").glob("*/bin"))
    if not found:
        pytest.fail("no infra venv: run `./pants export --resolve=infra` first")
    return found[-1]


def infra_app_env() -> dict[str, str]:
    """Where the pipeline's own app and its Python are (``APHEX_INFRA_APP``/``_BIN``): a
    local run then installs its stacks, one IAM role per kind of work, and enforces IAM."""
    return {"APHEX_INFRA_APP": str(repo_root() / "infra"), "APHEX_INFRA_BIN": str(infra_bin())}


def sample_app_dir() -> Path:
    return repo_root() / "examples" / "sample-app"


def ensure_cdk_cli() -> Path:
    """The pinned CDK CLI; runs ``npm ci`` at the repository root if it is not installed."""
    if os.environ.get("APHEX_CDK_CLI"):
        return find_cdk_cli()
    root = repo_root()
    with _lock:
        if not (root / "node_modules" / ".bin" / "cdk").exists():
            completed = subprocess.run(
                ["npm", "ci"], cwd=root, capture_output=True, text=True, check=False
            )
            if completed.returncode != 0:
                pytest.fail(f"npm ci failed in {root}: {completed.stderr.strip()[-500:]}")
    return find_cdk_cli(root)


def ensure_sample_venv() -> Path:
    """The sample app's venv, made by ``build-support/setup-sample-env.sh`` on first use
    (about 40 s cold; its progress goes to stderr, which pytest shows on failure)."""
    global _venv
    with _lock:
        if _venv is None:
            try:
                _venv = setup_sample_env(repo_root(), on_line=_echo)
            except SampleEnvError as error:
                pytest.fail(f"sample environment: {error}")
        return _venv


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def venv_env(venv: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """PATH (and VIRTUAL_ENV) so that ``python3`` in a subprocess is the venv's."""
    return venv_path_env(venv, base)


def account_target(server: MotoServer, account: str, region: str) -> AwsTarget:
    """A :class:`LocalAws` target whose calls land in ``account`` of the moto server."""
    return _account_target(server.endpoint, account, region, server_log=server.log_path)


def bootstrap_local(
    server: MotoServer,
    environments: Iterable[tuple[str, str]],
    *,
    cli: Path,
    timeout: float = 120.0,
    on_line: Callable[[str], None] | None = None,
) -> dict[tuple[str, str], AwsTarget]:
    """``cdk bootstrap`` each (account, region) in moto, in parallel; their targets."""
    return _bootstrap_local(
        server.endpoint,
        environments,
        cli=cli,
        timeout=timeout,
        on_line=on_line,
        server_log=server.log_path,
    )


@dataclass
class CdkMoto:
    """A moto server with the CDK bootstrapped in :data:`SAMPLE_ENVIRONMENTS`."""

    server: MotoServer
    cli: Path
    venv: Path
    targets: dict[tuple[str, str], AwsTarget]
    bootstrap_seconds: float
    lines: list[str] = field(default_factory=list)

    def target(self, account: str, region: str) -> AwsTarget:
        return self.targets[(account, region)]

    def runner(self, account: str, region: str, *, timeout: float = 300.0) -> CdkRunner:
        """A runner for that environment whose app subprocesses use the sample venv."""
        return CdkRunner(
            target=self.target(account, region),
            cli=self.cli,
            timeout=timeout,
            env=venv_env(self.venv),
            on_line=self.lines.append,
        )


@pytest.fixture(scope="session")
def sample_venv() -> Path:
    return ensure_sample_venv()


@pytest.fixture(scope="session")
def cdk_cli() -> Path:
    return ensure_cdk_cli()


@pytest.fixture(scope="module")
def cdk_moto(
    tmp_path_factory: pytest.TempPathFactory, cdk_cli: Path, sample_venv: Path
) -> Iterator[CdkMoto]:
    """A moto server of this module's own, bootstrapped for the sample's environments."""
    server = start_moto_server(log_dir=tmp_path_factory.mktemp("moto-cdk"))
    try:
        started = time.monotonic()
        targets = bootstrap_local(server, SAMPLE_ENVIRONMENTS, cli=cdk_cli)
        yield CdkMoto(
            server=server,
            cli=cdk_cli,
            venv=sample_venv,
            targets=targets,
            bootstrap_seconds=time.monotonic() - started,
        )
    finally:
        server.stop()
