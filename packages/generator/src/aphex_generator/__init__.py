"""aphex-generator: render and validate AphexPipeline's Argo manifests.

Public API (everything in ``__all__``; other modules are private)::

    render_workflow_template(config, settings) -> dict
    render_events(config, settings) -> list[dict]
    validate(doc) -> list[Problem]            # loads the validators on first use
    PipelineGraph.from_config(config)         # the topology every view derives from
    diff_topology(old, new) -> TopologyDiff
    dump_yaml(doc) -> str
    GeneratorSettings, SecretRef, SettingsError
    the stage contract: STAGES, StageSpec, EnvVar, Label, Param, Option, ...

Importing the package is cheap: the validators (jsonschema, CEL and the pinned Argo
schemas) load only when :func:`validate` is first called, so an image that only needs the
stage contract does not carry them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from aphex_generator.contract import (
    BUILD,
    CONFIG_FILE,
    ENVIRONMENT,
    INFRA_CONFIG_FILE_CONTEXT,
    NOTIFY,
    PIPELINE,
    STAGES,
    TEMPLATE_ENV,
    TEST,
    VALIDATION,
    Annotation,
    EnvVar,
    ImageKind,
    Label,
    Option,
    Param,
    StageSpec,
    console_scripts,
    session_name,
    stage_by_name,
    stages_of_image,
)
from aphex_generator.diff import diff_topology
from aphex_generator.dump import dump_yaml, dump_yaml_all
from aphex_generator.events import render_events
from aphex_generator.graph import (
    EnvironmentNodes,
    EnvironmentTopology,
    Node,
    NodeKind,
    PipelineGraph,
    TopologyDiff,
)
from aphex_generator.names import dns_name
from aphex_generator.problem import Problem
from aphex_generator.settings import GeneratorSettings, SecretRef, SettingsError
from aphex_generator.version import __version__
from aphex_generator.workflow import render_workflow_template

__all__ = [
    "BUILD",
    "CONFIG_FILE",
    "ENVIRONMENT",
    "INFRA_CONFIG_FILE_CONTEXT",
    "NOTIFY",
    "PIPELINE",
    "STAGES",
    "TEMPLATE_ENV",
    "TEST",
    "VALIDATION",
    "Annotation",
    "EnvVar",
    "EnvironmentNodes",
    "EnvironmentTopology",
    "GeneratorSettings",
    "ImageKind",
    "Label",
    "Node",
    "NodeKind",
    "Option",
    "Param",
    "PipelineGraph",
    "Problem",
    "SecretRef",
    "SettingsError",
    "StageSpec",
    "TopologyDiff",
    "__version__",
    "console_scripts",
    "diff_topology",
    "dns_name",
    "dump_yaml",
    "dump_yaml_all",
    "render_events",
    "render_workflow_template",
    "session_name",
    "stage_by_name",
    "stages_of_image",
    "strict_crd_schema",
    "validate",
    "warm_up",
]


def _validation() -> ModuleType:
    """The validators, imported on first use (see the module docstring)."""
    import aphex_generator.validation as module  # pants: no-infer-dep

    return module


def validate(doc: Any) -> list[Problem]:
    """Validate one Argo Workflows or Argo Events manifest offline, every layer.

    Workflow kinds: the strict Argo JSON schema, the strict full WorkflowTemplate CRD and
    its CEL rules, then a semantic lint; Events kinds: the strict Events schema.
    An empty list means valid.
    """
    result: list[Problem] = _validation().validate(doc)
    return result


def warm_up() -> None:
    """Compile every validator now (otherwise done on first use)."""
    _validation().warm_up()


def strict_crd_schema() -> dict[str, Any]:
    """The pinned full WorkflowTemplate CRD schema, made strict (no unknown fields)."""
    import aphex_generator.validation.schemas as schemas  # pants: no-infer-dep

    result: dict[str, Any] = schemas.strict_crd_schema()
    return result
