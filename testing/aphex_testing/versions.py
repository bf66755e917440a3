"""Read a distribution's declared version from its Pants BUILD file."""

from __future__ import annotations

import re
from pathlib import Path

_VERSION = re.compile(r'python_artifact\([^)]*?version="([^"]+)"', re.DOTALL)


def declared_version(build_file: Path) -> str:
    """Return the `version=` of the `python_artifact` in `build_file`.

    Raises ValueError when the file declares no single distribution version.
    """
    found = _VERSION.findall(build_file.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise ValueError(f"{build_file}: expected one python_artifact version, found {found}")
    return found[0]
