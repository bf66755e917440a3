"""The console scripts of the AphexPipeline distributions, by name.

The stages' scripts come from the stage contract (`aphex_generator.STAGES`); the three
tools (`aphex`, `aphex-config`, `aphex-generate`) are added here. The `python_distribution`
targets declare the same scripts (a test checks that they agree). The local runner falls
back to this table when a container's command is not on PATH, so `aphex run --local` also
works from a pex or a source checkout.
"""

from __future__ import annotations

from aphex_generator import console_scripts

#: The command-line tools that are not stages.
TOOL_SCRIPTS: dict[str, str] = {
    "aphex": "aphex_stages.cli:main",
    "aphex-config": "aphex_config.cli:main",
    "aphex-generate": "aphex_generator.cli:main",
}

CONSOLE_SCRIPTS: dict[str, str] = {**TOOL_SCRIPTS, **console_scripts()}
