"""A new user's first five minutes, end to end, with a CDK app that is not the sample.

The app is the CDK's own public starter, `cdk init sample-app --language python` (an SQS
queue subscribed to an SNS topic), made by the pinned CDK CLI: it has no aphex files.
Then, as the README's "Use it on your own CDK app" says:

1. `pip install aphex-stages[local]` into a venv of its own (the wheels Pants built, the
   rest from the package index), and the app's requirements into the app's venv;
2. `aphex init`, with aphex's venv first on PATH (so its `python3` would shadow the app's
   if aphex let it);
3. commit;
4. `aphex run --local`: two environments deployed, with no other step.

The CDK CLI is found on PATH (as after `npm install -g aws-cdk`), never through
``APHEX_CDK_CLI``; nothing of AphexPipeline's own checkout is in the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aphex_testing.cdk import ensure_cdk_cli

APP = "hello-cdk"
STACK = "HelloCdkStack"  # what `cdk init` names the stack of a folder hello-cdk
WHEELS = ("aphex_config", "aphex_generator", "aphex_monitoring", "aphex_stages")


def _wheel_folder() -> Path:
    """The folder holding the four wheels: the test's sandbox (Pants puts the packages the
    test depends on there) or, run by hand, `dist/` after `./pants package`."""
    for folder in (Path.cwd(), Path.cwd() / "dist"):
        if all(list(folder.glob(f"{name}-*-py3-none-any.whl")) for name in WHEELS):
            return folder
    pytest.fail("no aphex wheels in the sandbox or dist/: run `./pants package ::` first")


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 1500):
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _ok(completed: subprocess.CompletedProcess[str], what: str) -> str:
    assert completed.returncode == 0, (
        f"{what} exited {completed.returncode}\n{completed.stdout[-3000:]}\n"
        f"{completed.stderr[-3000:]}"
    )
    return completed.stdout


def _base_python() -> str:
    """The machine's Python (not a venv's): what a user makes venvs with."""
    return str(Path(sys.base_prefix) / "bin" / "python3")


def test_pip_install_init_commit_run_deploys_two_environments(tmp_path: Path) -> None:
    cdk = ensure_cdk_cli()
    home_bin = tmp_path / "bin"  # `npm install -g aws-cdk` puts cdk on PATH
    home_bin.mkdir()
    (home_bin / "cdk").symlink_to(cdk)
    system_path = os.pathsep.join(
        part for part in ("/usr/local/bin", "/usr/bin", "/bin") if Path(part).is_dir()
    )
    keep = ("HOME", "LANG", "APHEX_TOOLCHAIN_CACHE", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = os.pathsep.join([str(home_bin), system_path])
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()

    # The app, as a user has it: the CDK's public starter and its own venv.
    app = tmp_path / APP
    app.mkdir()
    _ok(
        _run(["cdk", "init", "sample-app", "--language", "python", "--generate-only"], app, env),
        "cdk init",
    )
    assert not list(app.glob("aphex*")) and STACK in (app / "app.py").read_text()
    _ok(_run([_base_python(), "-m", "venv", ".venv"], app, env), "python -m venv (app)")
    pip = ["--quiet", "--disable-pip-version-check"]
    _ok(
        _run([".venv/bin/pip", "install", *pip, "-r", "requirements.txt"], app, env),
        "pip install -r requirements.txt",
    )

    # 1. pip install, into aphex's own venv (as pipx would).
    tools = tmp_path / "aphex-venv"
    _ok(_run([_base_python(), "-m", "venv", str(tools)], tmp_path, env), "python -m venv")
    wheels = _wheel_folder()
    _ok(
        _run(
            [
                str(tools / "bin/pip"),
                "install",
                *pip,
                "--find-links",
                str(wheels),
                "aphex-stages[local]",
            ],
            tmp_path,
            env,
        ),
        "pip install aphex-stages[local]",
    )
    # The user's shell: aphex's venv activated first, then the app's.
    user = {
        **env,
        "PATH": os.pathsep.join([str(tools / "bin"), str(app / ".venv/bin"), env["PATH"]]),
        "VIRTUAL_ENV": str(tools),
    }
    aphex = str(tools / "bin" / "aphex")

    # 2. aphex init: the config from the app's own assembly.
    init = _run([aphex, "init"], app, user, timeout=600)
    _ok(init, "aphex init")
    config = (app / "aphex-config.yaml").read_text()
    assert config.startswith("# yaml-language-server: $schema=")
    assert config.count(f"- name: {STACK}") == 2, config
    assert ".aphex/" in (app / ".gitignore").read_text().splitlines()
    assert list((app / "tests" / "post_deploy").glob("test_*.py"))
    again = _run([aphex, "init"], app, user, timeout=600)
    assert again.returncode == 1 and "exists" in again.stderr and not again.stdout.strip()
    assert (app / "aphex-config.yaml").read_text() == config

    # 3. commit.
    git = ["git", "-c", "user.name=New User", "-c", "user.email=new@example.com"]
    _ok(_run(["git", "init", "--quiet", "--initial-branch=main"], app, user), "git init")
    _ok(_run([*git, "add", "-A"], app, user), "git add")
    _ok(_run([*git, "commit", "--quiet", "-m", "aphex init"], app, user), "git commit")
    sha = _ok(_run(["git", "rev-parse", "HEAD"], app, user), "git rev-parse").strip()

    # 4. aphex run --local: both environments deployed.
    run = _run([aphex, "run", "--local"], app, user)
    output = _ok(run, "aphex run --local")
    assert "pipeline succeeded" in output
    assert ".aphex" not in _ok(_run(["git", "status", "--porcelain"], app, user), "git status")

    deployed = json.loads(_ok(_run([aphex, "runs", "deployed", "-o", "json"], app, user), "runs"))
    text = json.dumps(deployed)
    for environment in ("dev", "staging"):
        assert environment in text, deployed
    assert sha in text or sha[:12] in text, deployed
    assert not list((tmp_path / "tmp").iterdir()), "a temporary file was left behind"
    shutil.rmtree(tools, ignore_errors=True)  # 1 GB: do not keep it until pytest's cleanup
