"""``SetupKwargsRequest`` rule: ``version`` from the distribution's ``version.py``."""

from __future__ import annotations

from collections.abc import Iterable

from pants.backend.python.target_types import PythonProvidesField
from pants.backend.python.util_rules.package_dists import SetupKwargs, SetupKwargsRequest
from pants.engine.fs import DigestContents, GlobMatchErrorBehavior, PathGlobs
from pants.engine.rules import Get, Rule, collect_rules, rule
from pants.engine.target import InvalidFieldException, Target
from pants.engine.unions import UnionRule

from aphex_version.version_file import VersionFileError, read_version

PACKAGES_DIR = "packages/"
DIST_PREFIX = "aphex-"


def version_file_path(spec_path: str, dist_name: str) -> str:
    """``packages/config`` + ``aphex-config`` -> ``packages/config/src/aphex_config/version.py``."""
    return f"{spec_path}/src/{dist_name.replace('-', '_')}/version.py"


class AphexSetupKwargsRequest(SetupKwargsRequest):
    @classmethod
    def is_applicable(cls, target: Target) -> bool:
        if not target.has_field(PythonProvidesField):
            return False
        name = target[PythonProvidesField].value.kwargs.get("name", "")
        return target.address.spec_path.startswith(PACKAGES_DIR) and str(name).startswith(
            DIST_PREFIX
        )


@rule
async def aphex_setup_kwargs(request: AphexSetupKwargsRequest) -> SetupKwargs:
    address = request.target.address
    kwargs = request.explicit_kwargs
    if "version" in kwargs:
        raise InvalidFieldException(
            f"{address}: remove `version=` from python_artifact(); the version comes from "
            f"{version_file_path(address.spec_path, kwargs['name'])} (one source)."
        )
    path = version_file_path(address.spec_path, kwargs["name"])
    contents = await Get(
        DigestContents,
        PathGlobs(
            [path],
            glob_match_error_behavior=GlobMatchErrorBehavior.error,
            description_of_origin=f"the version of {address} (aphex_version plugin)",
        ),
    )
    try:
        version = read_version(contents[0].content.decode("utf-8"), path)
    except VersionFileError as error:
        raise InvalidFieldException(f"{address}: {error}") from error
    return SetupKwargs({**kwargs, "version": version}, address=address)


def rules() -> Iterable[Rule | UnionRule]:
    return [
        *collect_rules(),
        UnionRule(SetupKwargsRequest, AphexSetupKwargsRequest),
    ]
