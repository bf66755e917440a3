"""`aphex run --local --images` end to end for the other example apps: each is copied into a
git repository and its whole pipeline runs in the images build-support/images.sh builds, its
own packages coming from its config's `toolchain`, installed in the deployer.

- examples/ts-app: a TypeScript CDK app; the toolchain is `npm ci` of its lock, its
  node_modules linked into the tree for `npx ts-node`; a node post-deployment test.
- examples/lambda-app: a Python CDK app with a Lambda function whose code is a file asset,
  published (zipped) to the bootstrap bucket of the embedded AWS; a boto3 test finds it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from aphex_generator import ImageKind
from aphex_testing.cdk import ensure_cdk_cli
from aphex_testing.sample_env import find_repo_root
from aphex_testing.sample_repo import IMAGES, SampleRepo, built_image_ids, run_sample

TOOLCHAIN = re.compile(r"toolchain \w+: (installed|ready in the cache)")


@pytest.fixture
def image_ids() -> dict[str, str]:
    """Each image's ID (read per test: the images may be rebuilt between the tests); fails, never skips, without them."""
    return built_image_ids()


@pytest.fixture(autouse=True)
def host_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS settings of the host (none reach a container anyway); the pinned CDK CLI, with
    which the runner bootstraps its embedded AWS."""
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


def _app(tmp_path: Path, name: str) -> SampleRepo:
    return SampleRepo(tmp_path / "app", source=find_repo_root() / "examples" / name)


def _phases(text: str, pipeline: str) -> dict[str, str]:
    """task -> status from the summary table of the last workflow run of `pipeline`.

    (`aphex_testing.sample_repo.phases` knows only the sample app's pipeline name.)
    """
    rows = [line.split() for line in text.splitlines() if line.startswith(f"{pipeline}-")]
    assert rows, f"no task of a workflow of {pipeline} in the summary:\n{text}"
    last = rows[-1][0]
    return {row[1]: row[2] for row in rows if row[0] == last}


def _run(app: SampleRepo, pipeline: str, image_ids: dict[str, str]) -> tuple[str, Path]:
    """Run the app's pipeline in the images; assert every task succeeded in its image.
    The output, and the folder of the run's logs and records."""
    code, text = run_sample(app, images=True)
    assert code == 0, text
    tasks = _phases(text, pipeline)
    expected = {"validation", "build", "pipeline-deployment", "deploy-dev", "test-dev", "on-exit"}
    assert expected <= set(tasks), text
    for task, status in tasks.items():
        assert status == "succeeded", f"{task}: {status}\n{text}"
    (workflow,) = (path.name for path in app.paths.runs.iterdir())
    assert workflow.startswith(f"{pipeline}-"), workflow
    runs = app.paths.runs / workflow
    for task in tasks:
        image = json.loads((runs / f"{task}.json").read_text())["image"]
        assert image["id"] == image_ids[image["name"]], (task, image)
        kind = ImageKind.BUILDER if task in ("validation", "build") else ImageKind.DEPLOYER
        assert image["name"] == IMAGES[kind], (task, image)
    return text, runs


def test_typescript_app_deploys_with_its_npm_toolchain(
    tmp_path: Path, image_ids: dict[str, str]
) -> None:
    app = _app(tmp_path, "ts-app")
    text, runs = _run(app, "aphex-ts", image_ids)
    deploy_log = (runs / "deploy-dev.log").read_text()
    # aws-cdk-lib, ts-node and typescript came from `npm ci` of the app's lock, in a pod.
    assert TOOLCHAIN.search(deploy_log), deploy_log
    assert "TsStorageStack" in deploy_log, deploy_log
    assert re.search(
        r"dev\s+TsStorageStack\s+BucketName\s+TS_STORAGE_STACK_BUCKET_NAME\s+\S+", text
    ), text
    test_log = (runs / "test-dev.log").read_text()
    assert TOOLCHAIN.search(test_log), test_log
    assert "ok: bucket " in test_log, test_log


def test_lambda_app_publishes_its_code_asset(tmp_path: Path, image_ids: dict[str, str]) -> None:
    app = _app(tmp_path, "lambda-app")
    text, runs = _run(app, "aphex-lambda", image_ids)
    deploy_log = (runs / "deploy-dev.log").read_text()
    assert TOOLCHAIN.search(deploy_log), deploy_log
    assert "FunctionStack" in deploy_log, deploy_log
    match = re.search(
        r"dev\s+FunctionStack\s+FunctionName\s+FUNCTION_STACK_FUNCTION_NAME\s+(\S+)", text
    )
    assert match, text
    # The boto3 test found the function (GetFunction) that the stack's outputs name.
    test_log = (runs / "test-dev.log").read_text()
    assert (
        f"function {match.group(1)}: arn:aws:lambda:us-east-1:111111111111:" in test_log
    ), test_log
    assert re.search(r"\b1 passed\b", test_log), test_log
