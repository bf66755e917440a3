"""The errors of `aphex init`: one line each, naming what to do next."""

from __future__ import annotations

__all__ = ["InitError", "InitUsageError"]


class InitError(RuntimeError):
    """`aphex init` cannot write the files (exit 1); nothing was written."""


class InitUsageError(InitError):
    """An option of `aphex init` is invalid (exit 2)."""
