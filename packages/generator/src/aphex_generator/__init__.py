"""aphex-generator: render and validate AphexPipeline's Argo manifests.

Public API::

    render_workflow_template(config, settings) -> dict
    render_events(config, settings) -> list[dict]
    validate(doc) -> list[Problem]
    diff_topology(old, new) -> TopologyDiff
    dump_yaml(doc) -> str
    GeneratorSettings, SecretRef, SettingsError
"""

from aphex_generator.diff import TopologyDiff, diff_topology
from aphex_generator.dump import dump_yaml, dump_yaml_all
from aphex_generator.events import render_events
from aphex_generator.settings import GeneratorSettings, SecretRef, SettingsError
from aphex_generator.validate import Problem, validate
from aphex_generator.version import __version__
from aphex_generator.workflow import render_workflow_template

__all__ = [
    "__version__",
    "GeneratorSettings",
    "Problem",
    "SecretRef",
    "SettingsError",
    "TopologyDiff",
    "diff_topology",
    "dump_yaml",
    "dump_yaml_all",
    "render_events",
    "render_workflow_template",
    "validate",
]
