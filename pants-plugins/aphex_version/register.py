"""The ``aphex_version`` Pants plugin: each aphex distribution's version comes from its
``version.py``.

A ``python_distribution`` under ``packages/<name>/`` whose ``python_artifact`` is named
``aphex-<name>`` gets ``version`` from ``packages/<name>/src/aphex_<name>/version.py``
(``__version__ = "..."``, read with :mod:`ast`, never imported). Its BUILD file must not
set ``version=`` itself: that would be a second source, and packaging fails.
"""

from __future__ import annotations

from collections.abc import Iterable

from pants.engine.rules import Rule
from pants.engine.unions import UnionRule

from aphex_version import rules as version_rules


def rules() -> Iterable[Rule | UnionRule]:
    return version_rules.rules()
