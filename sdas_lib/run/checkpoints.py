"""Checkpoint files: written atomically, read without running code.

Files are written through a temporary file and a rename (:mod:`sdas_lib.files`). Checkpoints keep
their predecessor: ``checkpoint.prev.pt`` is the one before ``checkpoint.pt``, and at every moment
at least one of the two is complete. Every checkpoint and weights file is read with
:func:`safe_load` (``weights_only=True``): a shared run folder cannot execute code.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ..errors import SdasError
from ..files import atomic_write_bytes, unlink_quietly, write_temporary
from .faults import checkpoint_write_point

CHECKPOINT, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"


def torch_bytes(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, torch_bytes(obj))


# -- checkpoints -----------------------------------------------------------------------------------


def save_checkpoint_file(folder: str | os.PathLike, ckpt: dict) -> None:
    """Write ``folder/checkpoint.pt`` atomically, keeping the one it replaces as checkpoint.prev.pt.

    Order: (1) the new checkpoint goes to a synced temporary file; (2) checkpoint.pt is hard-linked
    to checkpoint.prev.pt (atomically replacing the older one); (3) the temporary file is renamed
    to checkpoint.pt. A crash at any point leaves a complete checkpoint.pt, checkpoint.prev.pt or both.
    """
    folder = Path(folder)
    path, prev = folder / CHECKPOINT, folder / PREVIOUS
    tmp = write_temporary(path, torch_bytes(ckpt), midway=checkpoint_write_point)
    try:
        if path.exists():
            _keep_as_previous(path, prev)
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise


def _keep_as_previous(path: Path, prev: Path) -> None:
    link = prev.with_name(f".{prev.name}.link.tmp")
    unlink_quietly(link)
    try:
        os.link(path, link)  # checkpoint.pt stays in place while prev is replaced
    except OSError:  # a file system without hard links: a short window with only prev
        os.replace(path, prev)
        return
    os.replace(link, prev)


def safe_load(path: str | os.PathLike) -> Any:
    """``torch.load`` that never runs code: tensors, containers and plain values only.

    PyTorch's ``weights_only=True`` unpickler refuses any other type, so a checkpoint or weights
    file shared by someone else cannot execute anything when it is read.
    Raises :class:`UnsafeFile` for a refused file and lets other read errors through.
    """
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower() or "weights_only" in str(err).lower():
            first = next((ln.strip() for ln in str(err).splitlines() if "GLOBAL" in ln or "Unsupported" in ln), "")
            raise UnsafeFile(
                f"{Path(path).name} is unsafe: reading it would unpickle a type other than tensors and plain "
                f"values, which could run code ({first[:120]}); it was not loaded"
            ) from None
        raise


class UnsafeFile(SdasError):
    """A checkpoint or weights file whose unpickling could run code; it is never loaded."""


def load_checkpoint_file(folder: str | os.PathLike, fmt: str, version: int) -> tuple[dict, Path, dict[str, str]]:
    """Load checkpoint.pt, falling back to checkpoint.prev.pt when the newest is missing, corrupt,
    unsafe (see :func:`safe_load`) or of another format.

    Returns (checkpoint, path it came from, {refused file name: why}). Raises :class:`SdasError`
    naming every problem when neither is usable.
    """
    folder = Path(folder)
    refused: dict[str, str] = {}
    for name in (CHECKPOINT, PREVIOUS):
        path = folder / name
        if not path.is_file():
            continue
        try:
            ckpt = safe_load(path)
        except UnsafeFile as err:
            refused[name] = str(err)
            continue
        except Exception as err:  # truncated zip, unpickling error, ...
            refused[name] = f"{name} is corrupt or truncated ({type(err).__name__}: {str(err)[:120]})"
            continue
        if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
            refused[name] = f"{name} is not an {fmt} file"
            continue
        if ckpt.get("version") != version:
            refused[name] = f"{name} has format version {ckpt.get('version')}, this sdas_lib reads {version}"
            continue
        return ckpt, path, refused
    if not refused:
        raise SdasError(f"nothing to resume in {str(folder)!r}: it has no {CHECKPOINT}; start it without --resume")
    raise SdasError(
        f"cannot resume {str(folder)!r}: " + "; ".join(refused.values()) + "; start the run again with --force"
    )


def set_aside_corrupt_checkpoint(folder: str | os.PathLike, unsafe: bool = False) -> Path:
    """Rename an unreadable (or unsafe) checkpoint.pt to checkpoint.corrupt.pt (checkpoint.unsafe.pt)
    so that it never becomes the previous checkpoint; returns the new path."""
    folder = Path(folder)
    target = folder / ("checkpoint.unsafe.pt" if unsafe else "checkpoint.corrupt.pt")
    os.replace(folder / CHECKPOINT, target)
    return target
