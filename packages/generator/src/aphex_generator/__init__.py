"""aphex-generator: render and validate AphexPipeline's Argo manifests.

Public API (everything in ``__all__``; other modules are private)::

    render_workflow_template(config, settings) -> dict
    render_events(config, settings) -> list[dict]
    validate(doc) -> list[Problem]
    PipelineGraph.from_config(config)         # the topology every view derives from
    diff_topology(old, new) -> TopologyDiff
    dump_yaml(doc) -> str
    GeneratorSettings, SecretRef, SettingsError
    the stage contract: STAGES, StageSpec, EnvVar, Label, Param, Option, ...
    the artifact bucket's keys: latest_key, outputs_name, environment_head_key, ...
    service_account_rbac(...), approver_rbac(namespace, pipeline)   # the RBAC manifests

Importing the package loads only the stage contract, the bucket's keys and the RBAC
manifests (standard library only); every other name loads on first use. So the builder image and the pipeline's own CDK app, which need
only the contract, carry neither the renderer nor the validators (jsonschema, CEL and the
pinned Argo schemas). Code that uses the other names depends on the target ``:api``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aphex_generator.bucket import (
    ARTIFACT_FILE,
    COMMIT_LENGTH,
    LATEST_FILE,
    MANIFEST_FILE,
    UPLOAD_TIME_FORMAT,
    UPLOAD_TIME_LENGTH,
    argo_logs_prefix,
    changeset_json_name,
    changeset_text_name,
    commit_prefix,
    environment_head_key,
    head_key,
    infra_record_key,
    latest_key,
    outputs_name,
    tests_prefix,
    upload_prefix,
)
from aphex_generator.contract import (
    BUILD,
    BUILD_CONTAINER,
    BUILD_OUTPUT_MOUNT,
    BUILD_OUTPUT_VOLUME,
    CHANGESET_LIMIT,
    CHECKOUT,
    CHECKOUT_CONTAINER,
    CONFIG_FILE,
    ENVIRONMENT,
    EXTERNAL_ID_KEY,
    EXTERNAL_ID_SECRET,
    GIT_TOKEN_MOUNT,
    GIT_TOKEN_PATH,
    GIT_TOKEN_VOLUME,
    INFRA_CONFIG_FILE_CONTEXT,
    IRSA_ROLE_ANNOTATION,
    IRSA_SKIP_ANNOTATION,
    LOCAL_GIT_TOKEN_KEY,
    LOCAL_GIT_TOKEN_SECRET,
    NOTIFY,
    OUTPUTS_DIR,
    PIPELINE,
    PREVIEW,
    SLACK_WEBHOOK_KEY,
    SOURCE_MOUNT,
    SOURCE_VOLUME,
    STAGES,
    TEMPLATE_ENV,
    TEST,
    TOOLCHAIN_MOUNT,
    TOOLCHAIN_VOLUME,
    UPLOAD,
    UPLOAD_CONTAINER,
    VALIDATION,
    Annotation,
    EnvVar,
    Identity,
    ImageKind,
    Label,
    Option,
    Output,
    Param,
    StageSpec,
    console_scripts,
    identities,
    identity_role_name,
    identity_rules,
    identity_service_account,
    sensor_rules,
    session_name,
    stage_by_name,
    stages_of_image,
    workflow_rules,
)
from aphex_generator.rbac import (
    approver_rbac,
    approver_rules,
    approvers_group,
    service_account_rbac,
)
from aphex_generator.version import __version__

if TYPE_CHECKING:  # the names below load on first use (see the module docstring)
    # isort: off
    from aphex_generator.cli import main  # pants: no-infer-dep
    from aphex_generator.diff import diff_topology  # pants: no-infer-dep
    from aphex_generator.dump import dump_yaml, dump_yaml_all  # pants: no-infer-dep
    from aphex_generator.events import render_events  # pants: no-infer-dep
    from aphex_generator.graph import EnvironmentNodes, EnvironmentTopology  # pants: no-infer-dep
    from aphex_generator.graph import Node, NodeKind, PipelineGraph  # pants: no-infer-dep
    from aphex_generator.graph import TopologyDiff  # pants: no-infer-dep
    from aphex_generator.names import dns_name, workflow_name_prefix  # pants: no-infer-dep
    from aphex_generator.problem import Problem  # pants: no-infer-dep
    from aphex_generator.settings import GeneratorSettings  # pants: no-infer-dep
    from aphex_generator.settings import SecretRef, SettingsError  # pants: no-infer-dep
    from aphex_generator.validation import validate, warm_up  # pants: no-infer-dep
    from aphex_generator.validation.schemas import strict_crd_schema  # pants: no-infer-dep
    from aphex_generator.workflow import render_workflow_template  # pants: no-infer-dep

    # isort: on

#: Each lazily loaded public name and the module that defines it.
_LAZY: dict[str, str] = {
    "main": "cli",
    "diff_topology": "diff",
    "dump_yaml": "dump",
    "dump_yaml_all": "dump",
    "render_events": "events",
    "EnvironmentNodes": "graph",
    "EnvironmentTopology": "graph",
    "Node": "graph",
    "NodeKind": "graph",
    "PipelineGraph": "graph",
    "TopologyDiff": "graph",
    "dns_name": "names",
    "workflow_name_prefix": "names",
    "Problem": "problem",
    "GeneratorSettings": "settings",
    "SecretRef": "settings",
    "SettingsError": "settings",
    "validate": "validation",
    "warm_up": "validation",
    "strict_crd_schema": "validation.schemas",
    "render_workflow_template": "workflow",
}

__all__ = [
    # the RBAC manifests (rbac.py)
    "approver_rbac",
    "approver_rules",
    "approvers_group",
    "service_account_rbac",
    # the artifact bucket's keys (bucket.py)
    "ARTIFACT_FILE",
    "COMMIT_LENGTH",
    "LATEST_FILE",
    "MANIFEST_FILE",
    "UPLOAD_TIME_FORMAT",
    "UPLOAD_TIME_LENGTH",
    "argo_logs_prefix",
    "changeset_json_name",
    "changeset_text_name",
    "commit_prefix",
    "environment_head_key",
    "head_key",
    "infra_record_key",
    "latest_key",
    "outputs_name",
    "tests_prefix",
    "upload_prefix",
    "Annotation",
    "BUILD",
    "BUILD_CONTAINER",
    "BUILD_OUTPUT_MOUNT",
    "BUILD_OUTPUT_VOLUME",
    "CHECKOUT",
    "CHECKOUT_CONTAINER",
    "GIT_TOKEN_PATH",
    "GIT_TOKEN_MOUNT",
    "GIT_TOKEN_VOLUME",
    "LOCAL_GIT_TOKEN_KEY",
    "LOCAL_GIT_TOKEN_SECRET",
    "SOURCE_MOUNT",
    "SOURCE_VOLUME",
    "UPLOAD",
    "identity_rules",
    "IRSA_ROLE_ANNOTATION",
    "IRSA_SKIP_ANNOTATION",
    "UPLOAD_CONTAINER",
    "Identity",
    "identities",
    "identity_role_name",
    "identity_service_account",
    "CONFIG_FILE",
    "ENVIRONMENT",
    "CHANGESET_LIMIT",
    "EXTERNAL_ID_KEY",
    "EXTERNAL_ID_SECRET",
    "EnvVar",
    "EnvironmentNodes",
    "EnvironmentTopology",
    "GeneratorSettings",
    "INFRA_CONFIG_FILE_CONTEXT",
    "ImageKind",
    "Label",
    "NOTIFY",
    "Node",
    "NodeKind",
    "OUTPUTS_DIR",
    "Option",
    "Output",
    "PIPELINE",
    "PREVIEW",
    "Param",
    "PipelineGraph",
    "Problem",
    "SLACK_WEBHOOK_KEY",
    "STAGES",
    "SecretRef",
    "SettingsError",
    "StageSpec",
    "TEMPLATE_ENV",
    "TEST",
    "TOOLCHAIN_MOUNT",
    "TOOLCHAIN_VOLUME",
    "TopologyDiff",
    "VALIDATION",
    "__version__",
    "console_scripts",
    "diff_topology",
    "dns_name",
    "dump_yaml",
    "dump_yaml_all",
    "main",
    "render_events",
    "render_workflow_template",
    "sensor_rules",
    "session_name",
    "stage_by_name",
    "stages_of_image",
    "strict_crd_schema",
    "validate",
    "warm_up",
    "workflow_name_prefix",
    "workflow_rules",
]


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aphex_generator' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"aphex_generator.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
