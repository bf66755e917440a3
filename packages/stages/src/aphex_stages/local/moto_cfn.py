"""Make moto 5.2's CloudFormation update an IAM role the way AWS does.

A stack update that changes an ``AWS::IAM::Role`` reaches moto's
``Role.update_from_cloudformation_json``, which only sets the description (and sets the
maximum session duration from a property that does not exist): the trust policy, the
inline ``Policies`` and the ``ManagedPolicyArns`` stay as the role was created. Local runs
keep their AWS between runs (:mod:`aphex_stages.local.aws_state`), so the pipeline's own
stacks are updated, not created, when a commit adds an environment: the target account's
deploy role must then trust the new environment's role, as it does on AWS.

:func:`install` replaces that method (``python -m aphex_stages.local.moto_server`` calls it).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["install", "update_role_from_cloudformation"]

_installed = False


def update_role_from_cloudformation(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    """``Role.update_from_cloudformation_json``, corrected: the role's trust policy,
    description and maximum session duration become what the template says, its
    ``Policies`` are put and its ``ManagedPolicyArns`` attached. A policy the template no
    longer names stays: the role's policies cannot tell which came from its own properties
    and which from ``AWS::IAM::Policy`` resources naming it (what the CDK makes)."""
    from moto.iam.models import iam_backends  # pants: no-infer-dep
    from moto.utilities.utils import get_partition  # pants: no-infer-dep

    backend = iam_backends[account_id][get_partition(region_name)]
    properties = cloudformation_json.get("Properties", {})
    role = backend.get_role(original_resource.name)
    trust = properties.get("AssumeRolePolicyDocument")
    if trust is not None:
        role.assume_role_policy_document = (
            trust if isinstance(trust, str) else json.dumps(trust, default=str)
        )
    role.description = properties.get("Description", "")
    role.max_session_duration = properties.get("MaxSessionDuration", 3600)
    for policy in properties.get("Policies") or []:
        role.put_policy(policy["PolicyName"], policy["PolicyDocument"])
    for arn in properties.get("ManagedPolicyArns") or []:
        if arn and arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)
    return role


def install() -> None:
    """Patch moto's IAM role update (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.iam import models  # pants: no-infer-dep

    models.Role.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign, assignment]
        update_role_from_cloudformation
    )
    _installed = True
