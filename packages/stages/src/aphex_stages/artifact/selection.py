"""Which workspace files go into the artifact: glob patterns (``**`` across directories)
matched against every regular file and symlink outside ``.git``."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from aphex_stages.errors import ExitCode, StageError


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob (``*``, ``?``, ``[...]``, ``**`` across directories) to a regex."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _normalise_pattern(pattern: str) -> str:
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.rstrip("/")
    parts = text.split("/")
    if not text or text.startswith("/") or ".." in parts:
        raise StageError(
            ExitCode.ARTIFACT_INVALID,
            f"artifact pattern {pattern!r} must be a relative path without '..'",
        )
    return text


def _walk(root: Path) -> list[tuple[str, os.stat_result]]:
    """Every regular file and symlink under ``root`` (not into ``.git``), relative, sorted."""
    found: list[tuple[str, os.stat_result]] = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        keep: list[str] = []
        for name in sorted(dirnames):
            path = here / name
            if name == ".git":
                continue
            if path.is_symlink():
                found.append((path.relative_to(root).as_posix(), path.lstat()))
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            path = here / name
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                found.append((path.relative_to(root).as_posix(), info))
    found.sort(key=lambda item: item[0])
    return found


def select_files(workspace: Path, patterns: Sequence[str] | None) -> list[str]:
    """Relative paths (sorted) of the files and symlinks that ``patterns`` select.

    ``None`` selects the whole tree minus ``.git``. A pattern selects the paths it matches
    and everything under a directory it matches; ``**`` spans directories. A pattern that
    selects nothing is an error (StageError(ARTIFACT_INVALID)): the build did not produce it.
    """
    entries = [path for path, _ in _walk(Path(workspace))]
    if patterns is None:
        return entries
    compiled = [(pattern, _glob_regex(_normalise_pattern(pattern))) for pattern in patterns]
    used: set[str] = set()
    selected: list[str] = []
    for path in entries:
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        hit = False
        for pattern, regex in compiled:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                used.add(pattern)
                hit = True
        if hit:
            selected.append(path)
    unused = [pattern for pattern, _ in compiled if pattern not in used]
    if unused:
        raise StageError(
            ExitCode.ARTIFACT_INVALID,
            "artifact pattern"
            + ("s " if len(unused) > 1 else " ")
            + ", ".join(repr(p) for p in unused)
            + " matched no file in the workspace; did the build write it?",
        )
    return selected
