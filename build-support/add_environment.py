"""Append an environment to an aphex-config.yaml (the demo's self-modifying commit).

Usage: python add_environment.py CONFIG NAME
The new environment depends on dev, lives in account 222222222222 / eu-west-1 and deploys
the sample's two stacks. The file is checked with aphex_config before it is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aphex_config import ConfigError, parse_config

TEMPLATE = """  - name: {name}
    account: "222222222222"
    region: eu-west-1
    stacks:
      - name: StorageStack
      - name: MessagingStack
    context: {{stage: {name}}}
    tests:
      commands:
        - ["python3", "-m", "pytest", "tests/post_deploy", "-q"]
      timeout_minutes: 5
    depends_on: [dev]
"""


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, name = Path(sys.argv[1]), sys.argv[2]
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    text += TEMPLATE.format(name=name)
    try:
        parse_config(text, source=str(path))
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    path.write_text(text, encoding="utf-8")
    print(f"added environment {name!r} to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
