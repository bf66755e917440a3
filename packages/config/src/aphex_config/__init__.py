"""aphex-config: the typed, validated model of ``aphex-config.yaml``.

>>> from aphex_config import load_config
>>> config = load_config("aphex-config.yaml")  # doctest: +SKIP
"""

from .cli import main
from .errors import ConfigError, ConfigReadError, Problem
from .models import (
    AphexConfig,
    BuildSettings,
    Command,
    Environment,
    Images,
    Notifications,
    PipelineSettings,
    Stack,
    TestSettings,
    Toolchain,
)
from .parse import load_config, parse_config
from .reference import render_reference
from .schema import json_schema, schema_text
from .version import __version__

__all__ = [
    "AphexConfig",
    "BuildSettings",
    "Command",
    "ConfigError",
    "ConfigReadError",
    "Environment",
    "Images",
    "Notifications",
    "PipelineSettings",
    "Problem",
    "Stack",
    "TestSettings",
    "Toolchain",
    "__version__",
    "json_schema",
    "load_config",
    "main",
    "parse_config",
    "render_reference",
    "schema_text",
]
