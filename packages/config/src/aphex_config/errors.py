"""Problems found in a configuration file, and the exception that carries them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

#: Path used for problems that concern the whole document rather than one field.
DOCUMENT = "<document>"


@dataclass(frozen=True, order=True)
class Problem:
    """One problem: where it is (file, 1-based line and column, field path) and what it is."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"

    def to_dict(self) -> dict[str, str | int]:
        """Return the problem as a JSON-ready dict."""
        return asdict(self)


class ConfigError(Exception):
    """The configuration is invalid. ``problems`` holds every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class ConfigReadError(ConfigError):
    """The file could not be read at all (missing, a directory, no permission).

    A subclass of :class:`ConfigError`, so callers that catch ``ConfigError`` are covered;
    the CLI uses it to exit with status 2 instead of 1.
    """
