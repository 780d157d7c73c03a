"""A run's folder: started fresh, resumed from its checkpoint, or replaced; nothing else is touched; and
its state as the sweep sees it (:func:`run_state`: missing, incomplete or complete). What a finished
folder holds is read by :mod:`sdas_lib.run.outputs`.

:func:`open_run_dir` is called by :meth:`RunLoop.open_run_folder` and uses only the run's public
methods (``config``, ``write_start_files``, ``read_checkpoint``, ``log``). Under torchrun only rank 0
calls it; the other ranks receive its outcome (:meth:`~sdas_lib.run.distributed.Ranks.from_main`).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import SdasError
from ..files import atomic_write_json
from .checkpoints import CHECKPOINT, PREVIOUS

# Files a run writes; --force removes exactly these (and this package's temporary files).
RUN_FILES = (
    CHECKPOINT, PREVIOUS, "checkpoint.corrupt.pt", "checkpoint.unsafe.pt", "genotype.json", "decisions.json", "metrics.csv", "iterations.csv",
    "config.json", "log.txt", "weights.pt", "result.json",
)


def _temporaries(folder: Path) -> list[Path]:
    """Temporary files this package left behind (a process killed mid-write)."""
    names = tuple(f".{n}." for n in RUN_FILES)
    return [p for p in folder.iterdir() if p.name.startswith(names) and p.name.endswith(".tmp")]


def prepare_run_dir(out: str | os.PathLike, resume: bool, force: bool) -> Path:
    """Check that ``out`` may be used: a fresh folder, ``resume`` of a run, or ``force`` to replace.

    A folder holds a run when it is non-empty. Resuming needs a checkpoint in it, except in a run
    folder of this package killed before its first checkpoint (config.json and no checkpoint):
    nothing would be lost by starting over, so its run files are removed and the run starts fresh.
    With ``force``, the files of the earlier run are removed first; other files are left alone.
    Temporary files of a killed process are removed on resume.
    """
    out = Path(out)
    if resume and force:
        raise SdasError("--resume and --force contradict each other: --resume continues the run in --out, --force replaces it")
    if out.exists() and not out.is_dir():
        raise SdasError(f"--out {str(out)!r} is a file, not a folder; choose another path")
    has_run = out.is_dir() and any(out.iterdir())
    if resume:
        if not ((out / CHECKPOINT).is_file() or (out / PREVIOUS).is_file()):
            if has_run and is_run_folder(out):  # killed before its first checkpoint: nothing to lose
                remove_run_files(out)
                return out
            if has_run:
                raise SdasError(
                    f"nothing to resume in {str(out)!r}: it holds no {CHECKPOINT} and no config.json written "
                    f"by sdas_lib; choose the run's own folder, or another --out without --resume"
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


def is_run_folder(out: Path) -> bool:
    """Whether ``out`` holds a run of this package: a config.json that sdas_lib wrote."""
    try:
        config = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "sdas_lib" in config and "preset" in config


def open_run_dir(run, out_dir: str | os.PathLike | None, resume: bool, force: bool) -> tuple[Path | None, dict | None]:
    """Prepare ``out_dir`` for ``run`` (a :class:`~sdas_lib.run.loop.RunLoop`): resume or start it.

    Returns (the folder, the checkpoint to resume from or None for a fresh start). A fresh start
    writes config.json (and what ``run.write_start_files`` adds); if that fails, the files written
    are removed again (and the folder, if this call created it).
    """
    if out_dir is None:
        if resume:
            raise SdasError("--resume needs the run folder (--out) of the run to continue")
        return None, None
    existed = Path(out_dir).exists()
    out = prepare_run_dir(out_dir, resume, force)
    run.out_dir = out
    fresh = not resume or not ((out / CHECKPOINT).is_file() or (out / PREVIOUS).is_file())
    ckpt = None
    try:
        if fresh:
            atomic_write_json(out / "config.json", run.config())
            run.write_start_files()
            if resume:
                run.log(f"no checkpoint in {out} yet (stopped before its first one): starting the run over")
        else:
            ckpt = run.read_checkpoint()
    except BaseException:
        if fresh:
            remove_run_files(out, remove_folder=not existed)
        raise
    return out, ckpt


_CHECKPOINT_SUMMARIES: dict[tuple, tuple[bool, Any]] = {}


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, modification time in ns) of a file, or None where there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _finished_and_config(folder: Path, fmt: str, version: int) -> tuple[bool, Any]:
    """Whether the newest readable checkpoint of ``folder`` says the run finished, and its config
    (False, None where none is readable).

    Remembered per process for the checkpoint files as they are on disk (inode, size, time): a sweep
    asks twice for every run it plans, and reading a whole checkpoint to learn two fields is most of
    a second ``make run``. A checkpoint is replaced by a rename, so a new one is never mistaken for
    the old.
    """
    from .checkpoints import load_checkpoint_file

    key = (str(folder.resolve()), fmt, version, _file_stamp(folder / CHECKPOINT), _file_stamp(folder / PREVIOUS))
    if key not in _CHECKPOINT_SUMMARIES:
        try:
            ckpt = load_checkpoint_file(folder, fmt, version)[0]
            _CHECKPOINT_SUMMARIES[key] = (bool(ckpt.get("finished")), ckpt.get("config"))
        except SdasError:
            _CHECKPOINT_SUMMARIES[key] = (False, None)
    finished, config = _CHECKPOINT_SUMMARIES[key]
    return finished, copy.deepcopy(config)


def run_state(folder: str | os.PathLike, loop_cls, key: Mapping[str, Any]) -> str:
    """``"missing"`` (absent or empty), ``"complete"`` or ``"incomplete"``; reads, never writes.

    Complete means: the newest readable checkpoint says the run finished. Its settings must be ``key``
    (``loop_cls.settings_key(preset, seed, loop_cls.key_extra(...))``, the same key the run itself checks on
    resume, without T); a complete run made with others raises :class:`SdasError`, and so does a folder
    that holds files but no run of this package. An unreadable checkpoint counts as incomplete: resuming
    it says what is wrong.

    Args:
        loop_cls: :class:`~sdas_lib.run.search.Searcher`, :class:`~sdas_lib.run.train.Trainer` or
            :class:`~sdas_lib.run.train.BaselineTrainer`.
    """
    from .loop import config_differences

    folder = Path(folder)
    if not folder.is_dir():
        return "incomplete" if folder.exists() else "missing"  # a file: the run's own error names it
    if not any(folder.iterdir()):
        return "missing"
    if not ((folder / CHECKPOINT).is_file() or (folder / PREVIOUS).is_file() or is_run_folder(folder)):
        names = sorted(p.name for p in folder.iterdir())
        raise SdasError(
            f"{str(folder)!r} holds files that are no run of sdas_lib ({', '.join(names[:3])}"
            f"{', ...' if len(names) > 3 else ''}); move them away, or sweep into another --out"
        )
    finished, config = _finished_and_config(folder, loop_cls.CHECKPOINT_FORMAT, loop_cls.CHECKPOINT_VERSION)
    if not finished:
        return "incomplete"
    now = dict(key)
    saved = loop_cls.upgrade_settings(config) if isinstance(config, dict) else {}
    # T follows from the preset and the data; a run made under torchrun by N processes (processes: N)
    # counts as complete whatever N, so the course and the tables read it like any other.
    saved = {k: v for k, v in saved.items() if k not in ("T", "processes")}
    if saved != now:
        raise SdasError(
            f"{str(folder)!r} holds a complete run made with other settings ({config_differences(saved, now)}); "
            f"remove that folder to run it again, or sweep into another --out"
        )
    return "complete"
