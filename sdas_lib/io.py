"""Atomic file output, checkpoints and run folders: nothing is overwritten or left half-written.

Every file is written to a temporary file in the same folder and then renamed over its target, so
a reader (or a resumed run) sees the old file or the new one, never a torn one. Checkpoints keep
their predecessor: ``checkpoint.prev.pt`` is the one before ``checkpoint.pt``, and at every moment
at least one of the two is complete.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import SdasError
from .faults import checkpoint_write_point

CHECKPOINT, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"
# Files a run writes; --force removes exactly these (and this package's temporary files).
RUN_FILES = (
    CHECKPOINT, PREVIOUS, "checkpoint.corrupt.pt", "genotype.json", "decisions.json", "metrics.csv",
    "config.json", "log.txt", "weights.pt", "result.json",
)


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


def _write_temporary(path: Path, data: bytes, kill_midway: bool = False) -> str:
    """Write ``data`` to a synced temporary file beside ``path``; returns its name."""
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            if kill_midway:  # test hook (sdas_lib.faults): die with half the file written
                f.write(data[: len(data) // 2])
                f.flush()
                checkpoint_write_point()
                f.write(data[len(data) // 2 :])
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = _write_temporary(path, data)
    try:
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half
    except BaseException:
        _unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


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
    tmp = _write_temporary(path, torch_bytes(ckpt), kill_midway=True)
    try:
        if path.exists():
            _keep_as_previous(path, prev)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _keep_as_previous(path: Path, prev: Path) -> None:
    link = prev.with_name(f".{prev.name}.link.tmp")
    _unlink(link)
    try:
        os.link(path, link)  # checkpoint.pt stays in place while prev is replaced
    except OSError:  # a file system without hard links: a short window with only prev
        os.replace(path, prev)
        return
    os.replace(link, prev)


def load_checkpoint_file(folder: str | os.PathLike, fmt: str, version: int) -> tuple[dict, Path]:
    """Load checkpoint.pt, falling back to checkpoint.prev.pt when the newest is missing or corrupt.

    Returns (checkpoint, path it came from). Raises :class:`SdasError` naming every problem when
    neither is usable.
    """
    import torch

    folder = Path(folder)
    errors = []
    for name in (CHECKPOINT, PREVIOUS):
        path = folder / name
        if not path.is_file():
            continue
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # truncated zip, unpickling error, ...
            errors.append(f"{name} is corrupt or truncated ({type(err).__name__}: {str(err)[:120]})")
            continue
        if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
            errors.append(f"{name} is not an {fmt} file")
            continue
        if ckpt.get("version") != version:
            errors.append(f"{name} has format version {ckpt.get('version')}, this sdas_lib reads {version}")
            continue
        return ckpt, path
    if not errors:
        raise SdasError(f"nothing to resume in {str(folder)!r}: it has no {CHECKPOINT}; start it without --resume")
    raise SdasError(
        f"cannot resume {str(folder)!r}: " + "; ".join(errors) + "; start the run again with --force"
    )


def set_aside_corrupt_checkpoint(folder: str | os.PathLike) -> Path:
    """Rename an unreadable checkpoint.pt to checkpoint.corrupt.pt so that it never becomes the
    previous checkpoint; returns the new path."""
    folder = Path(folder)
    target = folder / "checkpoint.corrupt.pt"
    os.replace(folder / CHECKPOINT, target)
    return target


# -- run folders -----------------------------------------------------------------------------------


def _temporaries(folder: Path) -> list[Path]:
    """Temporary files this package left behind (a process killed mid-write)."""
    names = tuple(f".{n}." for n in RUN_FILES)
    return [p for p in folder.iterdir() if p.name.startswith(names) and p.name.endswith(".tmp")]


def prepare_run_dir(out: str | os.PathLike, resume: bool, force: bool) -> Path:
    """Check that ``out`` may be used: a fresh folder, ``resume`` of a run, or ``force`` to replace.

    A folder holds a run when it is non-empty; resuming needs a checkpoint in it. With ``force``,
    the files of the earlier run are removed first; other files are left alone. Temporary files of
    a killed process are removed on resume.
    """
    out = Path(out)
    if resume and force:
        raise SdasError("--resume and --force contradict each other: --resume continues the run in --out, --force replaces it")
    if out.exists() and not out.is_dir():
        raise SdasError(f"--out {str(out)!r} is a file, not a folder; choose another path")
    has_run = out.is_dir() and any(out.iterdir())
    if resume:
        if not ((out / CHECKPOINT).is_file() or (out / PREVIOUS).is_file()):
            if has_run:  # e.g. killed before its first checkpoint
                raise SdasError(
                    f"nothing to resume in {str(out)!r}: it has no {CHECKPOINT} yet; start the run "
                    f"again with --force (replacing its files) or choose another --out"
                )
            what = "does not exist" if not out.exists() else "is empty"
            raise SdasError(f"nothing to resume in {str(out)!r}: it {what}; start the run without --resume")
        for tmp in _temporaries(out):
            tmp.unlink()
        return out
    if has_run and not force:
        raise SdasError(
            f"{str(out)!r} already holds files; use --resume to continue that run, --force to "
            f"replace it, or choose another --out"
        )
    if has_run and force:
        remove_run_files(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def remove_run_files(out: str | os.PathLike, remove_folder: bool = False) -> None:
    """Delete the files a run writes (and its temporaries) from ``out``; never anything else.

    Args:
        remove_folder: also remove ``out`` itself when it is empty afterwards.
    """
    out = Path(out)
    if not out.is_dir():
        return
    for name in RUN_FILES:
        if (out / name).is_file():
            (out / name).unlink()
    for tmp in _temporaries(out):
        tmp.unlink()
    if remove_folder and not any(out.iterdir()):
        out.rmdir()
