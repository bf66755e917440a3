"""``python -m aphex_generator``: the ``aphex-generate`` CLI."""

import sys

from aphex_generator.cli import main

sys.exit(main())
