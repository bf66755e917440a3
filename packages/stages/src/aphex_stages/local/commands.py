"""Find the program a container's `command` names, the way an image's PATH would.

A command is looked up on PATH (the caller's PATH, so the application's own environment
provides `python3`, `node` and its build tools; never the bin folder of the interpreter
running `aphex`, whose `python3` lacks the application's packages), then in the table of AphexPipeline's console scripts, which
then run in this interpreter, so a run works the same from installed wheels, a pex or a
source checkout. Nothing here knows what any stage does.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from aphex_stages.entrypoints import CONSOLE_SCRIPTS


class CommandNotFound(LookupError):
    """No program or console script of that name."""


def own_bin_folders() -> frozenset[str]:
    """The bin folders of the interpreter running `aphex` (its venv's, and the one
    ``sys.executable`` lies in): none of them is on a task's PATH, so the application's
    ``python3`` is never AphexPipeline's own, even when its venv is activated."""
    folders = {Path(sys.executable).parent, Path(sys.prefix) / "bin"}
    return frozenset(os.path.normpath(folder) for folder in folders)


def search_path(extra: list[Path] | None = None) -> str:
    """`extra` folders, then PATH, without the folders of :func:`own_bin_folders` (the
    console scripts of AphexPipeline are found through their table instead)."""
    own = own_bin_folders()
    parts = [str(path) for path in extra or []]
    parts.extend(os.environ.get("PATH", "").split(os.pathsep))
    seen: list[str] = []
    for part in parts:
        if part and part not in seen and os.path.normpath(part) not in own:
            seen.append(part)
    return os.pathsep.join(seen)


#: Environment variable that carries this interpreter's sys.path to a launched script.
#: The launcher removes it at once, so the script's own children (the application's
#: build, CDK app and tests) never see AphexPipeline's packages.
LAUNCH_PATH = "APHEX_LAUNCH_PATH"

# A fixed program text: only the script name and its arguments vary, and they are argv.
_LAUNCHER = (
    "import os, sys; "
    "sys.path[:0] = [p for p in os.environ.pop('APHEX_LAUNCH_PATH', '').split(os.pathsep) if p]; "
    "from aphex_stages.local.launch import main; sys.exit(main())"
)


def import_path() -> str:
    """The sys.path under which a launched script imports what this interpreter does."""
    return os.pathsep.join(os.path.abspath(entry) for entry in sys.path if entry)


def resolve_program(name: str, path: str) -> list[str]:
    """The argv prefix that runs `name`: its file on `path`, or its console script."""
    found = shutil.which(name, path=path)
    if found:
        return [found]
    if name in CONSOLE_SCRIPTS:
        return [sys.executable, "-c", _LAUNCHER, name]
    raise CommandNotFound(
        f"{name!r} is not on PATH; install the aphex packages (see README) or put it on PATH"
    )


def is_own_script(name: str, program: list[str]) -> bool:
    """Whether `program` (from :func:`resolve_program`) runs this installation's console
    script `name`: the table's launcher, or the script beside this interpreter."""
    if name not in CONSOLE_SCRIPTS:
        return False
    if program[:2] == [sys.executable, "-c"]:
        return True
    return len(program) == 1 and Path(program[0]).parent == Path(sys.executable).parent
