"""Write what `aphex init` computed, all at once: new files are created only where nothing
exists (never overwritten), ``.gitignore`` gets the lines it lacks.

    plan = Plan(root, created={"aphex-config.yaml": text, ...}, gitignore=[".aphex/"])
    write_plan(plan)     # InitError, and nothing written, if a file appeared meanwhile
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from aphex_stages.init.errors import InitError

__all__ = ["GITIGNORE", "IGNORED", "Plan", "missing_ignores", "write_plan"]

GITIGNORE = ".gitignore"
#: What a repository of a pipeline never commits: local runs' state, synthesized assemblies.
IGNORED = (".aphex/", "cdk.out/")


@dataclass
class Plan:
    """Files to create (relative path -> text) and lines to add to ``.gitignore``."""

    root: Path
    created: dict[str, str] = field(default_factory=dict)
    gitignore: list[str] = field(default_factory=list)

    def files(self) -> list[str]:
        """The relative paths written, in order."""
        return [*self.created, *([GITIGNORE] if self.gitignore else [])]


def missing_ignores(root: Path) -> list[str]:
    """The lines of :data:`IGNORED` that ``root/.gitignore`` does not have yet."""
    try:
        text = (root / GITIGNORE).read_text("utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as error:
        raise InitError(f"cannot read {root / GITIGNORE}: {error}") from None
    present = {line.strip().lstrip("/").rstrip("/") for line in text.splitlines()}
    return [entry for entry in IGNORED if entry.rstrip("/") not in present]


def _gitignore_addition(path: Path, lines: list[str]) -> str:
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    separator = "\n" if existing and not existing.endswith(b"\n") else ""
    return (
        separator
        + "# AphexPipeline: local runs and synthesized assemblies\n"
        + "".join(f"{line}\n" for line in lines)
    )


def write_plan(plan: Plan) -> None:
    """Create every file of `plan` (each only if absent), then append to ``.gitignore``.

    Each text goes first to a temporary file beside its target, then is hard-linked into
    place, which fails if the target exists: then every file made here is removed again and
    InitError names the one that appeared.
    """
    staged: list[tuple[Path, Path]] = []
    made_dirs: list[Path] = []
    placed: list[Path] = []
    try:
        for relative, text in plan.created.items():
            target = plan.root / relative
            for parent in reversed(Path(relative).parents[:-1]):
                directory = plan.root / parent
                if not directory.exists():
                    directory.mkdir()
                    made_dirs.append(directory)
            temporary = target.with_name(f".{target.name}.aphex-init-{os.getpid()}")
            staged.append((temporary, target))
            temporary.write_text(text, encoding="utf-8")
        for temporary, target in staged:
            try:
                os.link(temporary, target)
            except FileExistsError:
                raise InitError(f"{target} appeared while aphex init ran; run it again") from None
            placed.append(target)
    except BaseException:
        for target in [*placed, *(temporary for temporary, _ in staged)]:
            with contextlib.suppress(OSError):
                target.unlink()
        for directory in reversed(made_dirs):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    for temporary, _ in staged:
        temporary.unlink()
    if plan.gitignore:
        path = plan.root / GITIGNORE
        addition = _gitignore_addition(path, plan.gitignore)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(addition)
