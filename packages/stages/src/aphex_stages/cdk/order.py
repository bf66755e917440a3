"""Deploy several stacks with one CLI run, in the caller's order, and know what got deployed.

``cdk deploy A B`` orders stacks by their dependencies and otherwise as the app defined them,
and writes no outputs file when a stack fails. So, before one ``cdk deploy`` of all stacks:
:func:`chain_in_order` makes each stack of the assembly depend on the one listed before it
(the manifest's ``dependencies``), which fixes the order. After a failure,
:func:`completed_outputs` reads back from CloudFormation which stacks, in that order, are
deployed and their outputs.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from aphex_stages.cdk.assembly import CloudAssembly
from aphex_stages.cdk.aws import AwsTarget, boto3_client
from aphex_stages.cdk.errors import CdkError
from aphex_stages.jsonfile import write_json_atomically

_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


def chain_in_order(assembly: CloudAssembly, stacks: Sequence[str]) -> None:
    """Make each of `stacks` (names or artifact ids) depend on the one before it."""
    manifest_file = assembly.directory / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_file.read_text("utf-8"))
    artifacts = manifest.get("artifacts") or {}
    ids = [assembly.stack(name).artifact_id for name in stacks]
    for index, stack_id in enumerate(ids):
        later = [other for other in ids[index + 1 :] if other in _needs(artifacts, stack_id)]
        if later:
            raise CdkError(
                f"stack {stacks[index]} depends on {later[0]}, which is listed after it; list"
                " the stacks of the environment in deploy order in aphex-config.yaml"
            )
    for before, after in itertools.pairwise(ids):
        dependencies = artifacts[after].setdefault("dependencies", [])
        if before not in dependencies:
            dependencies.append(before)
    write_json_atomically(manifest_file, manifest)


def _needs(artifacts: dict[str, Any], artifact_id: str) -> set[str]:
    """Every artifact `artifact_id` depends on, directly or not."""
    found: set[str] = set()
    pending = list(artifacts.get(artifact_id, {}).get("dependencies") or [])
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(artifacts.get(current, {}).get("dependencies") or [])
    return found


def completed_outputs(
    target: AwsTarget, assembly: CloudAssembly, stacks: Sequence[str]
) -> tuple[dict[str, dict[str, str]], str | None]:
    """The outputs of the leading `stacks` that are deployed, and the first one that is not.

    Read from CloudFormation with `target`'s credentials; a stack counts as deployed when
    its status is a successful create, update or import.
    """
    cloudformation = boto3_client(target, "cloudformation")
    outputs: dict[str, dict[str, str]] = {}
    for name in stacks:
        stack_name = assembly.stack(name).name
        try:
            found = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        except Exception:  # missing or unreadable (moto may answer 500): not known deployed
            return outputs, name
        if found.get("StackStatus") not in _DONE:
            return outputs, name
        outputs[name] = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}
    return outputs, None
