"""What each image carries: the stages of the contract, and nothing of the other image's.

The images' pexes are what Pants puts in them (`images/closures.txt`, written by
`images/closures.sh`; CI re-runs it and fails on a diff). These tests check that listing:
each image's pex starts at its contract stages' modules, the builder carries none of the
deployer's weight (Kubernetes client, renderer and validators, CDK), and neither carries
moto (local runs only: `aphex-stages[local]`). The built images are checked again by
running them (images/tests/built_images_test.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from aphex_generator import ImageKind, stages_of_image

IMAGES = [kind.value for kind in ImageKind]
#: Every image also carries the module that writes its console scripts.
SETUP_MODULE = "aphex_stages.image"


def _repo_path(relative: str) -> Path:
    """A repository path: in the sandbox when Pants put it there, else via APHEX_REPO_ROOT."""
    local = Path(relative)
    if local.exists():
        return local
    return Path(os.environ.get("APHEX_REPO_ROOT", ".")) / relative


def _listing() -> dict[str, set[str]]:
    """images/closures.txt: Pants' transitive dependencies of each image's pex."""
    sections: dict[str, set[str]] = {}
    current: set[str] = set()
    for line in _repo_path("images/closures.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), set())
        elif line and not line.startswith("#"):
            current.add(line.split("@", 1)[0])  # a parametrized target: its file
    return sections


def _module_path(module: str) -> str:
    package = module.split(".")[0].removeprefix("aphex_")
    return f"packages/{package}/src/{module.replace('.', '/')}.py"


def _requirements(image: str) -> set[str]:
    return {line.split("#", 1)[1] for line in _listing()[image] if "#" in line}


@pytest.mark.parametrize("image", IMAGES)
def test_the_pex_starts_at_the_contract_stages(image: str) -> None:
    """images/<image>/BUILD lists exactly the modules of its stages (and the script writer)."""
    build = _repo_path(f"images/{image}/BUILD").read_text(encoding="utf-8")
    listed = set(re.findall(r'"(packages/[^"]+\.py)"', build))
    expected = {_module_path(stage.module) for stage in stages_of_image(image)}
    assert listed == expected | {_module_path(SETUP_MODULE)}
    assert expected <= _listing()[image]


@pytest.mark.parametrize("image", IMAGES)
def test_the_dockerfile_names_no_stage(image: str) -> None:
    """The console scripts are written from the contract, never listed in a Dockerfile."""
    text = _repo_path(f"images/{image}/Dockerfile").read_text(encoding="utf-8")
    assert f"-m {SETUP_MODULE} {image} " in text
    for stage in stages_of_image("builder") + stages_of_image("deployer"):
        assert stage.script not in text and stage.module not in text


@pytest.mark.parametrize("image", IMAGES)
def test_no_image_carries_moto(image: str) -> None:
    assert not {name for name in _requirements(image) if name.lower().startswith("moto")}
    assert not [p for p in _listing()[image] if "/local/" in p], "the local runner is not in it"


def test_builder_carries_no_deployer_weight() -> None:
    builder = _listing()["builder"]
    assert not {"kubernetes", "jsonschema", "cel-python", "aws-cdk-lib"} & _requirements("builder")
    generator = {p for p in builder if p.startswith("packages/generator/")}
    assert generator == {
        "packages/generator/src/aphex_generator/__init__.py",
        "packages/generator/src/aphex_generator/bucket.py",
        "packages/generator/src/aphex_generator/contract.py",
        "packages/generator/src/aphex_generator/rbac.py",
        "packages/generator/src/aphex_generator/version.py",
    }, "the builder needs only the standard-library part: the contract, the keys, the RBAC"
    deployer_stages = {
        _module_path(stage.module)
        for stage in stages_of_image("deployer")
        if stage.module.startswith("aphex_stages.")  # monitoring's CLI comes with monitoring
    }
    assert not deployer_stages & builder
    assert "packages/stages/src/aphex_stages/cluster/kube.py" not in builder


def test_deployer_carries_what_its_stages_import() -> None:
    deployer = _listing()["deployer"]
    # The pipeline stage renders, validates and applies the WorkflowTemplate.
    for module in (
        "aphex_generator.workflow",
        "aphex_generator.validation.cel",
        "aphex_stages.selfupdate",
        "aphex_stages.cluster.kube",
        "aphex_monitoring.cli",
    ):
        assert _module_path(module) in deployer, module
    assert {"kubernetes", "jsonschema", "cel-python", "boto3"} <= _requirements("deployer")
    assert "aws-cdk-lib" not in _requirements("deployer"), "the infra app has its own venv"
