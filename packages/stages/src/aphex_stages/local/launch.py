"""Run AphexPipeline's console script NAME with ARGS (see `commands.resolve_program`)."""

from __future__ import annotations

import importlib
import sys

from aphex_stages.entrypoints import CONSOLE_SCRIPTS


def main() -> int:
    """Import the function behind console script argv[1] and run it with the rest of argv."""
    if len(sys.argv) < 2 or sys.argv[1] not in CONSOLE_SCRIPTS:
        print(f"usage: python -m aphex_stages.local.launch {{{','.join(CONSOLE_SCRIPTS)}}} ...")
        return 2
    name = sys.argv[1]
    module, _, function = CONSOLE_SCRIPTS[name].partition(":")
    sys.argv = [name, *sys.argv[2:]]
    result = getattr(importlib.import_module(module), function)()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
