"""What each image carries: the import closure of the stages it runs (static analysis).

Starting at each image's entry modules (the console scripts of its Dockerfile), follow every
import statement (module level, function level and TYPE_CHECKING alike, as Pants' dependency
inference does) through the first-party sources, and collect the third-party distributions
reached. The builder must not carry the deployer's weight (Kubernetes client, generator,
CDK); the deployer must carry what its stages import.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from functools import cache
from pathlib import Path

import pytest

SOURCE_ROOTS = ("packages/config/src", "packages/generator/src", "packages/monitoring/src")
SOURCE_ROOTS += ("packages/stages/src",)
FIRST_PARTY = ("aphex_config", "aphex_generator", "aphex_monitoring", "aphex_stages")

#: docs/contracts.md: the console script of each stage, by image.
CONTRACT = {
    "builder": {"aphex-stage-validation", "aphex-stage-build"},
    "deployer": {
        "aphex-stage-pipeline",
        "aphex-stage-environment",
        "aphex-stage-test",
        "aphex-monitor",
    },
}


def _repo_path(relative: str) -> Path:
    """A repository path: in the sandbox when Pants put it there, else via APHEX_REPO_ROOT."""
    local = Path(relative)
    if local.exists():
        return local
    return Path(os.environ.get("APHEX_REPO_ROOT", ".")) / relative


def _module_file(module: str) -> Path | None:
    """The source of ``module``: from the sandbox, else from the repository."""
    parts = module.split(".")
    repo = Path(os.environ.get("APHEX_REPO_ROOT", "."))
    for root in SOURCE_ROOTS:
        for base in (Path(root).joinpath(*parts), (repo / root).joinpath(*parts)):
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
    return None


def _resolve(name: str, module: str, level: int, is_package: bool) -> str:
    if level == 0:
        return name
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (level - 1)]
    return ".".join([*package, name] if name else package)


@cache
def _imports(module: str) -> frozenset[str]:
    """Absolute names imported anywhere in ``module`` (``from a import b`` gives a and a.b)."""
    path = _module_file(module)
    if path is None:
        return frozenset()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = _resolve(node.module or "", module, node.level, is_package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(found)


def closure(entry_modules: list[str]) -> tuple[set[str], set[str]]:
    """(first-party modules, third-party top-level names) reached from ``entry_modules``."""
    first: set[str] = set()
    third: set[str] = set()
    todo = list(entry_modules)
    while todo:
        name = todo.pop()
        top = name.split(".")[0]
        if top not in FIRST_PARTY:
            if top not in sys.stdlib_module_names:
                third.add(top)
            continue
        parts = name.split(".")
        # Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c.
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if candidate not in first and _module_file(candidate) is not None:
                first.add(candidate)
                todo.extend(_imports(candidate))
    return first, third


def entrypoints(image: str) -> dict[str, str]:
    """Console script -> ``module:function`` from the image's Dockerfile."""
    text = _repo_path(f"images/{image}/Dockerfile").read_text(encoding="utf-8")
    (specs,) = re.findall(r'^ENV APHEX_ENTRYPOINTS="([^"]+)"', text, re.MULTILINE)
    return dict(spec.split("=", 1) for spec in specs.split())


def _entry_modules(image: str) -> list[str]:
    return [target.split(":")[0] for target in entrypoints(image).values()]


def _console_scripts() -> dict[str, str]:
    """aphex_stages.entrypoints.CONSOLE_SCRIPTS, read without importing it."""
    path = _module_file("aphex_stages.entrypoints")
    assert path is not None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "CONSOLE_SCRIPTS":
            return dict(ast.literal_eval(node.value))  # type: ignore[arg-type]
    raise AssertionError("no CONSOLE_SCRIPTS in aphex_stages.entrypoints")


@pytest.mark.parametrize("image", sorted(CONTRACT))
def test_console_scripts_follow_the_contract(image: str) -> None:
    scripts = entrypoints(image)
    assert set(scripts) == CONTRACT[image]
    table = _console_scripts()
    assert {name: table[name] for name in scripts} == scripts
    for target in scripts.values():
        module, function = target.split(":")
        path = _module_file(module)
        assert path is not None, f"{module} does not exist"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert function in names, f"{module} has no {function}"


@pytest.mark.parametrize("image", sorted(CONTRACT))
def test_pex_holds_exactly_the_entry_modules(image: str) -> None:
    """The pex_binary of images/<image>/BUILD depends on the Dockerfile's entry modules."""
    build = _repo_path(f"images/{image}/BUILD")
    if not build.exists():  # not yet enabled (docker backend): see images/README
        build = _repo_path(f"images/{image}/BUILD_pending")
    listed = set(re.findall(r'"packages/[^"]+/src/([^"]+)\.py"', build.read_text()))
    assert {m.replace("/", ".") for m in listed} == set(_entry_modules(image))


def test_builder_carries_no_deployer_weight() -> None:
    first, third = closure(_entry_modules("builder"))
    assert not {"kubernetes", "aws_cdk", "jsii"} & third, third
    assert not [m for m in first if m.startswith("aphex_generator")]
    assert (
        not {
            "aphex_stages.stages.pipeline",
            "aphex_stages.stages.environment",
            "aphex_stages.stages.post_deploy",
            "aphex_stages.cluster.kube",
        }
        & first
    )


def test_deployer_carries_what_its_stages_import() -> None:
    first, third = closure(_entry_modules("deployer"))
    assert set(_entry_modules("deployer")) <= first
    assert "aphex_monitoring.cli" in first
    assert {m.split(".")[0] for m in first} >= {"aphex_config", "aphex_stages", "aphex_monitoring"}
    assert "aws_cdk" not in third, "the infra app has its own venv in the image"
    # The pipeline stage renders the WorkflowTemplate and applies it through the API server.
    assert "aphex_generator.workflow" in first
    assert "kubernetes" in third
    # Whatever the stages import from the generator or the Kubernetes client must be in it.
    pipeline_first, pipeline_third = closure(["aphex_stages.stages.pipeline"])
    assert pipeline_first <= first and pipeline_third <= third


def _pants_listing() -> dict[str, set[str]]:
    """images/closures.txt (images/closures.sh): Pants' transitive dependencies, by image."""
    if not _repo_path("images/builder/BUILD").exists():
        pytest.skip("images/closures.sh needs the image targets (images/*/BUILD_pending)")
    sections: dict[str, set[str]] = {}
    current: set[str] = set()
    for line in _repo_path("images/closures.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), set())
        elif line and not line.startswith("#"):
            current.add(line)
    return sections


@pytest.mark.parametrize("image", sorted(CONTRACT))
def test_pants_closure_matches_the_import_analysis(image: str) -> None:
    """Both views of the image agree, so neither can silently drift."""
    listed = {p for p in _pants_listing()[image] if p.endswith(".py")}
    first, _ = closure(_entry_modules(image))
    files = {str(_module_file(m)) for m in first}
    files = {f[f.index("packages/") :] for f in files}
    # Pants skips ancestor __init__.py files that are empty.
    files = {f for f in files if not f.endswith("__init__.py") or _repo_path(f).stat().st_size}
    assert listed == files


def test_pants_builder_closure_has_no_deployer_requirements() -> None:
    builder = _pants_listing()["builder"]
    for name in ("kubernetes", "jsonschema", "cel-python", "aws-cdk-lib"):
        assert f"3rdparty/python:packages#{name}" not in builder
    assert not [p for p in builder if p.startswith("packages/generator/")]
