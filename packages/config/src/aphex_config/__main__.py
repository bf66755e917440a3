"""``python -m aphex_config``: the ``aphex-config`` CLI."""

from aphex_config.cli import main

raise SystemExit(main())
