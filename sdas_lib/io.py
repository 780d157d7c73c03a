"""Atomic file output and run folders: nothing the user made is overwritten or left half-written."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import SdasError


def _atomic(path: str | os.PathLike, write: Callable[[Any], None], mode: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    _atomic(path, lambda f: f.write(text), "w")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> None:
    import torch

    _atomic(path, lambda f: torch.save(obj, f), "wb")


def prepare_run_dir(out: str | os.PathLike, resume: bool, force: bool, marker: str) -> Path:
    """Check that ``out`` may be used: a fresh folder, ``resume`` of a run, or ``force`` to replace.

    ``marker`` is the file (e.g. ``checkpoint.pt``) whose presence means the folder holds a run.
    With ``force``, the files of the earlier run are removed first; other files are left alone.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SdasError(f"--out {str(out)!r} is a file, not a folder; choose another path")
    has_run = out.is_dir() and any(out.iterdir())
    if resume:
        if not (out / marker).is_file():
            raise SdasError(
                f"nothing to resume in {str(out)!r}: it has no {marker}; start it without --resume"
            )
        return out
    if has_run and not force:
        raise SdasError(
            f"{str(out)!r} already holds files; use --resume to continue that run, --force to "
            f"replace it, or choose another --out"
        )
    if has_run and force:
        for name in RUN_FILES:
            p = out / name
            if p.is_file():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


# Files a run writes; --force removes exactly these.
RUN_FILES = (
    "checkpoint.pt", "checkpoint.prev.pt", "genotype.json", "decisions.json", "metrics.csv",
    "config.json", "log.txt", "weights.pt", "result.json",
)
