"""The temporary folder of everything a local run starts: inside the run's folder, emptied
at its end, so a run leaves nothing in /tmp (nor does a run that was killed, at the next).

Tasks, ``cdk`` and its jsii kernels, pip, moto and the fork server find their temporary
folder through ``TMPDIR``; a task killed at a timeout or by Ctrl-C cannot clean up after
itself, so the run empties the folder itself once every process it started has stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["children_tmpdir"]


def _empty(folder: Path) -> None:
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


@contextlib.contextmanager
def children_tmpdir(folder: Path) -> Iterator[Path]:
    """Within the block, every process started gets ``TMPDIR=folder`` (emptied before and
    after). This process keeps its own temporary folder: its fork server's socket is there,
    and outlives the block when the process runs again (tests)."""
    tempfile.gettempdir()  # computed once per process: from the TMPDIR it had, not `folder`
    _empty(folder)
    folder.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(folder)
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
        _empty(folder)
