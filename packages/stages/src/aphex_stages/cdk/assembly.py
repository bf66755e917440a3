"""Read a synthesized cloud assembly (``manifest.json``): its stacks and missing context."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aphex_stages.cdk.errors import CdkError

__all__ = ["CloudAssembly", "StackArtifact", "read_cloud_assembly"]

_STACK_TYPE = "aws:cloudformation:stack"


@dataclass(frozen=True)
class StackArtifact:
    """One stack of an assembly. ``name`` is the CloudFormation stack name."""

    artifact_id: str
    name: str
    account: str | None
    region: str | None
    template_file: Path
    dependencies: tuple[str, ...]


@dataclass(frozen=True)
class CloudAssembly:
    """A cloud assembly directory, as ``cdk synth --output DIR`` left it."""

    directory: Path
    stacks: tuple[StackArtifact, ...]
    missing_context: tuple[str, ...]
    manifest: dict[str, Any]

    @property
    def stack_names(self) -> tuple[str, ...]:
        return tuple(stack.name for stack in self.stacks)

    def stack(self, name: str) -> StackArtifact:
        """The stack whose CloudFormation name or artifact id is ``name`` (KeyError if none)."""
        for stack in self.stacks:
            if name in (stack.name, stack.artifact_id):
                return stack
        raise KeyError(name)

    def template(self, name: str) -> dict[str, Any]:
        """The parsed CloudFormation template of stack ``name``."""
        loaded: dict[str, Any] = json.loads(self.stack(name).template_file.read_text("utf-8"))
        return loaded


def _environment(value: object) -> tuple[str | None, str | None]:
    # "aws://111111111111/us-east-1"; "unknown-account"/"unknown-region" for env-agnostic stacks.
    if not isinstance(value, str) or not value.startswith("aws://"):
        return None, None
    account, _, region = value.removeprefix("aws://").partition("/")
    return (
        None if account.startswith("unknown") else account,
        None if not region or region.startswith("unknown") else region,
    )


def read_cloud_assembly(directory: str | os.PathLike[str]) -> CloudAssembly:
    """Parse ``directory/manifest.json``; raise :class:`CdkError` if it is absent or invalid."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CdkError(f"{root} is not a cloud assembly: no manifest.json") from None
    except (OSError, ValueError) as error:
        raise CdkError(f"cannot read {manifest_path}: {error}") from error
    if not isinstance(manifest, dict):
        raise CdkError(f"{manifest_path}: not a JSON object")
    stacks: list[StackArtifact] = []
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        if not isinstance(artifact, dict) or artifact.get("type") != _STACK_TYPE:
            continue
        properties = artifact.get("properties") or {}
        account, region = _environment(artifact.get("environment"))
        stacks.append(
            StackArtifact(
                artifact_id=artifact_id,
                name=str(properties.get("stackName") or artifact_id),
                account=account,
                region=region,
                template_file=root / str(properties.get("templateFile", "")),
                dependencies=tuple(str(dep) for dep in artifact.get("dependencies") or ()),
            )
        )
    missing = tuple(
        str(entry.get("key")) for entry in manifest.get("missing") or () if isinstance(entry, dict)
    )
    return CloudAssembly(
        directory=root, stacks=tuple(stacks), missing_context=missing, manifest=manifest
    )
