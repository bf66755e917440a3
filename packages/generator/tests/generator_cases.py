"""Plain helpers and constants the generator tests import; fixtures live in conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aphex_config import AphexConfig, load_config, parse_config
from aphex_generator import GeneratorSettings, SecretRef

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"

SETTINGS = GeneratorSettings(webhook_secret=SecretRef("github-webhook", "secret"))


def config_from(data: dict[str, Any]) -> AphexConfig:
    """Parse a config given as a dict (through the real YAML parser)."""
    return parse_config(yaml.safe_dump(data, sort_keys=False), source="test.yaml")


def sample(name: str) -> AphexConfig:
    """One of the sample configs in tests/data."""
    return load_config(DATA / f"{name}.yaml")


def minimal_config(**pipeline: Any) -> dict[str, Any]:
    """A small valid config as a dict, for tests that tweak one field."""
    return {
        "version": 1,
        "pipeline": {
            "name": "demo",
            "repository": "https://github.com/acme/demo.git",
            **pipeline,
        },
        "build": {"commands": ["make"]},
        "environments": [
            {
                "name": "dev",
                "account": "111111111111",
                "region": "us-east-1",
                "stacks": [{"name": "App"}],
            }
        ],
    }


def deployed_environments(doc: dict[str, Any]) -> list[str]:
    """Environment names the template deploys, one entry per deployment it can run."""
    templates = doc["spec"]["templates"]
    if doc["metadata"]["annotations"]["aphex.io/layout"] == "per-environment":
        deploy_args = [
            tpl["container"]["args"]
            for tpl in templates
            if tpl.get("container", {}).get("command") == ["aphex-stage-environment"]
        ]
        return [args[args.index("--environment") + 1] for args in deploy_args]
    (environments,) = (tpl for tpl in templates if tpl["name"] == "environments")
    return [
        param["value"]
        for task in environments["dag"]["tasks"]
        for param in task["arguments"]["parameters"]
        if param["name"] == "environment"
    ]
