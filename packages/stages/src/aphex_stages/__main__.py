"""`python -m aphex_stages` runs the `aphex` command."""

import sys

from aphex_stages.cli import main

sys.exit(main())
