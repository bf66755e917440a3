"""Find the program a container's `command` names, the way an image's PATH would.

A command is looked up on PATH first (the venv that runs `aphex` comes first), then
among the console scripts of the installed distributions, so a run works the same from
an installed wheel, a pex or a source checkout. Nothing here knows any stage by name.
"""

from __future__ import annotations

import os
import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path


class CommandNotFound(LookupError):
    """No program or console script of that name."""


def search_path(extra: list[Path] | None = None) -> str:
    """PATH with this interpreter's bin folder and `extra` folders in front."""
    parts = [str(path) for path in extra or []]
    parts.append(str(Path(sys.executable).parent))
    parts.extend(os.environ.get("PATH", "").split(os.pathsep))
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return os.pathsep.join(seen)


def resolve_program(name: str, path: str) -> list[str]:
    """The argv prefix that runs `name`: its file on `path`, or its console script."""
    found = shutil.which(name, path=path)
    if found:
        return [found]
    scripts = entry_points(group="console_scripts")
    if any(script.name == name for script in scripts):
        return [sys.executable, "-m", "aphex_stages.local.launch", name]
    raise CommandNotFound(
        f"{name!r} is neither on PATH nor a console script of an installed package; "
        "install the aphex packages (see README) or put the program on PATH"
    )
