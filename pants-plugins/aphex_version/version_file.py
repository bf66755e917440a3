"""Read ``__version__`` from a package's ``version.py`` without importing it.

Standard library only: the ``aphex_version`` Pants plugin uses it to fill in the
distributions' ``version``, and the packages' version tests load this same file to check
what the plugin would publish.
"""

from __future__ import annotations

import ast
import re

# PEP 440 public versions as the packages use them: 1.2.3, 1.2.3rc1, 1.2.3.post1, 1.2.3.dev4.
_VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


class VersionFileError(ValueError):
    """The file does not assign ``__version__`` exactly once to a plain version string."""


def read_version(source: str, path: str = "version.py") -> str:
    """The string literal assigned to ``__version__`` at the top level of `source`.

    Raises :class:`VersionFileError` unless there is exactly one such assignment and its
    value is a string literal that is a public PEP 440 version.
    """
    found: list[ast.expr] = []
    for node in ast.parse(source, filename=path).body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        if any(isinstance(t, ast.Name) and t.id == "__version__" for t in targets):
            if value is None:
                raise VersionFileError(f"{path}: __version__ is annotated but not assigned")
            found.append(value)
    if len(found) != 1:
        raise VersionFileError(f"{path}: expected one `__version__ = ...`, found {len(found)}")
    (value,) = found
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        raise VersionFileError(f"{path}:{value.lineno}: __version__ must be a string literal")
    if not _VERSION.match(value.value):
        raise VersionFileError(f"{path}:{value.lineno}: {value.value!r} is not a PEP 440 version")
    return value.value
