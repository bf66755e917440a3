"""The console scripts of the AphexPipeline distributions, by name.

The `python_distribution` targets declare the same scripts (a test checks that they
agree). The local runner falls back to this table when a container's command is not on
PATH, so `aphex run --local` also works from a pex or a source checkout.
"""

from __future__ import annotations

CONSOLE_SCRIPTS: dict[str, str] = {
    "aphex": "aphex_stages.cli:main",
    "aphex-stage-validation": "aphex_stages.stages.validation:main",
    "aphex-stage-build": "aphex_stages.stages.build:main",
    "aphex-stage-pipeline": "aphex_stages.stages.pipeline:main",
    "aphex-stage-environment": "aphex_stages.stages.environment:main",
    "aphex-stage-test": "aphex_stages.stages.post_deploy:main",
    "aphex-monitor": "aphex_monitoring.cli:main",
    "aphex-config": "aphex_config.cli:main",
    "aphex-generate": "aphex_generator.cli:main",
}
