"""Atomic file output (the ground floor: every layer may use it): nothing is left half-written.

Every file is written to a temporary file in the same folder and then renamed over its target, so
a reader sees the old file or the new one, never a torn one. Temporary files are named
``.<name>.<random>.tmp``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``: (fd, name), named ``.<name>.<random>.tmp``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    return fd, tmp


def write_temporary(path: Path, data: bytes, midway: Callable[[], None] | None = None) -> str:
    """Write ``data`` to a synced temporary file beside ``path``; returns its name.

    ``midway`` is called with half of the data written (the resume tests' kill point).
    """
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            if midway is not None:
                f.write(data[: len(data) // 2])
                f.flush()
                midway()
                f.write(data[len(data) // 2 :])
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        unlink_quietly(tmp)
        raise
    return tmp


def unlink_quietly(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = write_temporary(path, data)
    try:
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half
    except BaseException:
        unlink_quietly(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")
