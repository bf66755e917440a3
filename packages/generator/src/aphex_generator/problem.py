"""The :class:`Problem` record every validation layer returns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

Layer = Literal["document", "schema", "crd", "cel", "lint", "events"]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: where (``path``, e.g. ``spec.templates[3].container.args``) and what.

    ``layer`` names the check that found it: ``schema`` (strict Argo JSON schema),
    ``crd`` (strict WorkflowTemplate CRD schema), ``cel`` (the CRD's CEL rules),
    ``lint`` (semantic checks), ``events`` (strict Argo Events schema) or
    ``document`` (not a manifest at all). ``str(problem)`` is ``path: message``.
    """

    path: str
    message: str
    layer: Layer = "lint"

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.message}"


def join_path(base: str, *parts: str | int) -> str:
    """Append keys (``.key``) and list indexes (``[i]``) to a dotted path."""
    out = base
    for part in parts:
        if isinstance(part, int):
            out = f"{out}[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            out = f"{out}[{part!r}]"
        elif out:
            out = f"{out}.{part}"
        else:
            out = part
    return out
