"""Write a file (JSON, or any bytes) so that a reader never sees it half-written."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Let `write` fill a temporary file beside `path`, sync it, then rename it to `path`;
    on any failure the temporary file goes and `path` is as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json_atomically(path: Path, data: Any, *, sort_keys: bool = False) -> None:
    """Write `data` as indented JSON to `path` through a temporary file and a rename."""
    encoded = (json.dumps(data, indent=2, sort_keys=sort_keys) + "\n").encode("utf-8")

    def write(handle: IO[bytes]) -> None:
        handle.write(encoded)

    write_atomically(path, write)
