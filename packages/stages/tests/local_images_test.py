"""`aphex run --local --images` end to end: every task of the sample app's pipeline runs as a
container of the image its template names (the images build-support/images.sh builds;
`build-support/ci.sh` builds them before the tests), as a pod would on a cluster.

The tests share one repository and run in order:
1. the first run deploys dev, staging and prod; each task's run record names its image and
   the image's ID; the app's packages come from its toolchain, installed in the deployer;
2. one push adds an environment and breaks staging's test: the pipeline stage applies the
   new topology and supersedes the run, the restart deploys dev, qa and staging, staging's
   test fails and prod is not deployed.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from aphex_generator import ImageKind
from aphex_testing.cdk import ensure_cdk_cli
from aphex_testing.sample_repo import IMAGES, SampleRepo, built_image_ids, phases, run_sample


@pytest.fixture(scope="module")
def image_ids() -> dict[str, str]:
    """Each image's ID (once for the module); fails, never skips, without them."""
    return built_image_ids()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleRepo:
    return SampleRepo(tmp_path_factory.mktemp("local-images") / "app")


@pytest.fixture(autouse=True)
def host_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS settings of the host (none reach a container anyway); the pinned CDK CLI, with
    which the runner bootstraps its embedded AWS."""
    monkeypatch.setenv("APHEX_CDK_CLI", str(ensure_cdk_cli()))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


def _records(sample: SampleRepo, workflow: str) -> dict[str, dict[str, Any]]:
    folder = sample.paths.runs / workflow
    return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}


def test_first_run_runs_every_task_in_its_image(
    sample: SampleRepo, image_ids: dict[str, str]
) -> None:
    code, text = run_sample(sample, images=True)
    assert code == 0, text
    tasks = phases(text)
    for task in ("validation", "build", "pipeline-deployment", "approve-prod", "on-exit"):
        assert tasks[task] == "succeeded", text
    for environment in ("dev", "staging", "prod"):
        assert tasks[f"deploy-{environment}"] == "succeeded", text
        assert tasks[f"test-{environment}"] == "succeeded", text
    (workflow,) = (path.name for path in sample.paths.runs.iterdir())
    records = _records(sample, workflow)
    container_tasks = [name for name in tasks if name != "approve-prod"]
    for task in container_tasks:
        record = records[task]
        image = record["image"]
        assert image["name"] in IMAGES.values(), record
        assert image["id"] == image_ids[image["name"]], record
    # validation and build in the builder; everything else in the deployer.
    assert records["build"]["image"]["name"] == IMAGES[ImageKind.BUILDER]
    assert records["validation"]["image"]["name"] == IMAGES[ImageKind.BUILDER]
    assert records["deploy-dev"]["image"]["name"] == IMAGES[ImageKind.DEPLOYER]
    # The app's own packages came from its toolchain, installed (or reused) in a pod.
    deploy_log = (sample.paths.runs / workflow / "deploy-dev.log").read_text()
    assert re.search(r"toolchain \w+: (installed|ready in the cache)", deploy_log), deploy_log


def test_one_push_adds_qa_and_a_failing_staging_test_stops_prod(
    sample: SampleRepo, image_ids: dict[str, str]
) -> None:
    def add_qa_and_break_staging(data: dict[str, Any]) -> None:
        environments = data["environments"]
        dev = next(e for e in environments if e["name"] == "dev")
        staging = next(e for e in environments if e["name"] == "staging")
        staging["tests"]["commands"] = [
            ["python3", "-c", "import sys; print('staging smoke test failed'); sys.exit(1)"]
        ]
        qa = {
            **json.loads(json.dumps(dev)),
            "name": "qa",
            "account": "222222222222",
            "region": "eu-west-1",
            "context": {"stage": "qa"},
            "depends_on": ["dev"],
        }
        environments.append(qa)

    sample.edit_config(add_qa_and_break_staging)
    sha = sample.commit("add qa; staging's test fails")
    code, text = run_sample(sample, images=True)
    assert code == 1, text
    first, restarted = phases(text, 0), phases(text, -1)
    assert first["pipeline-deployment"] == "succeeded", text
    assert "deploy-qa" not in first, text  # the old topology
    assert re.search(r"\(run\)\s+succeeded: superseded", text), text
    assert "environment added: qa" in text
    for environment in ("dev", "qa", "staging"):
        assert restarted.get(f"deploy-{environment}") == "succeeded", text
    assert restarted.get("test-staging") == "failed", text
    assert restarted.get("deploy-prod") == "omitted", text
    assert "pipeline failed at task test-staging" in text
    restart = f"aphex-sample-{sha[:12]}-r1"
    records = _records(sample, restart)
    assert records["deploy-qa"]["image"]["id"] == image_ids[IMAGES[ImageKind.DEPLOYER]]
    assert (
        "staging smoke test failed"
        in (sample.paths.runs / restart / "test-staging.log").read_text()
    )
