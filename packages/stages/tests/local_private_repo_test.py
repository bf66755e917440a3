"""A private repository in a local run: the git server asks for a token, and only what
clones holds it.

The token is the local Secret ``aphex-git-token`` (``.aphex/local/secrets/``). Validation,
the build pod's checkout container and the pipeline deployment mount it read-only; the
build commands run in the next container of the build pod, which has neither the mount nor
the variable, and the Secret's files are gone by the time it starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from aphex_generator import GIT_TOKEN_MOUNT, LOCAL_GIT_TOKEN_KEY, LOCAL_GIT_TOKEN_SECRET, EnvVar
from aphex_testing import pytest_plugin
from aphex_testing.cdk import ensure_cdk_cli
from aphex_testing.moto_server import MotoServer
from aphex_testing.sample_repo import SampleRepo, built_image_ids, phases, run_sample

TOKEN = "repo-token-only-the-checkout-holds"

PROBE = '''"""A build command looking for the repository token."""
import os
import sys
from pathlib import Path

reversed_token, roots, mount, variable = sys.argv[1:5]
token = reversed_token[::-1]  # never written as it is: not in the config, not in a log
print("probe: token variable set:", variable in os.environ)
print("probe: token in my environment:", any(token in v for v in os.environ.values()))
print("probe: token mount exists:", Path(mount).exists())
def holds_token(path):
    try:
        return path.is_file() and token in path.read_text(errors="ignore")
    except OSError:
        return False


found = [str(p) for root in roots.split(",") for p in Path(root).rglob("*") if holds_token(p)]
print("probe: files holding the token:", found)
'''


#: A moto server of the test's own (the shared harness's fixture).
server = pytest_plugin.fresh_moto_server


@pytest.fixture(autouse=True)
def app_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


def _private_sample(tmp_path: Path, images: bool) -> SampleRepo:
    sample = SampleRepo(tmp_path / "app")
    (sample.path / "probe.py").write_text(PROBE)
    # On the host, the run's folder (the host's own files are not the pod's); in the
    # image, every folder a secret could be mounted or copied to, and the checkout.
    roots = "/var,/run,/tmp,/home,/root,." if images else str(sample.paths.runs)
    probe = [
        "python3" if images else sys.executable,
        "probe.py",
        TOKEN[::-1],
        roots,
        GIT_TOKEN_MOUNT,
        EnvVar.GIT_TOKEN_FILE,
    ]

    def probe_and_one_environment(data: dict) -> None:
        data["environments"] = data["environments"][:1]
        data["build"]["commands"].append(probe)

    sample.edit_config(probe_and_one_environment)
    sample.commit("a build command that looks for the repository token")
    secret = sample.paths.secrets / LOCAL_GIT_TOKEN_SECRET
    secret.mkdir(parents=True)
    (secret / LOCAL_GIT_TOKEN_KEY).write_text(TOKEN + "\n")
    return sample


@pytest.mark.parametrize("images", [False, True], ids=["host", "images"])
def test_a_private_repository_clones_with_a_token_the_build_commands_never_see(
    server: MotoServer, tmp_path: Path, images: bool
) -> None:
    if images:
        built_image_ids()  # fails, never skips, without the images
    sample = _private_sample(tmp_path, images)
    code, text = run_sample(sample, aws_endpoint=server.endpoint, images=images)
    assert code == 0, text
    assert f"private repository: cloned with the token of {LOCAL_GIT_TOKEN_SECRET}" in text
    tasks = phases(text)
    for task in ("validation", "build", "pipeline-deployment", "deploy-dev"):
        assert tasks[task] == "succeeded", text
    (run_dir,) = list(sample.paths.runs.iterdir())
    build_log = (run_dir / "build.log").read_text()
    # The checkout container cloned (the server refuses a clone without the token) ...
    assert "==> container checkout" in build_log and "checked out" in build_log
    # ... and the build commands, in the next container, found no trace of the token.
    assert "probe: token variable set: False" in build_log
    assert "probe: token in my environment: False" in build_log
    assert "probe: token mount exists: False" in build_log
    assert "probe: files holding the token: []" in build_log
    assert TOKEN not in text
    # The Secret's files lived only as long as the containers that mounted them.
    leftovers = [
        p for p in run_dir.rglob("*") if p.is_file() and TOKEN in p.read_text("utf-8", "ignore")
    ]
    assert leftovers == []
