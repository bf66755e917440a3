"""`python -m aphex_stages.local.launch NAME ARGS...`: run the console script NAME."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main() -> int:
    """Load the console-script entry point named by argv[1] and run it with the rest."""
    if len(sys.argv) < 2:
        print("usage: python -m aphex_stages.local.launch NAME [ARGS...]", file=sys.stderr)
        return 2
    name = sys.argv[1]
    matches = [script for script in entry_points(group="console_scripts") if script.name == name]
    if not matches:
        print(f"no console script named {name!r}", file=sys.stderr)
        return 2
    sys.argv = [name, *sys.argv[2:]]
    result = matches[0].load()()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
