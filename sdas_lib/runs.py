"""A run's folder and checkpoints, shared by the search loop and the retraining loop.

A run (:class:`~sdas_lib.search.Searcher` or :class:`~sdas_lib.train.Trainer`) starts in a fresh
folder or resumes from the checkpoint in one, refuses a checkpoint made with another config,
never checkpoints non-finite weights, and turns Ctrl-C into a checkpoint plus a resume hint.
File-level atomicity lives in :mod:`sdas_lib.io`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import NonFiniteLoss, SdasError
from .io import (
    CHECKPOINT, atomic_write_json, load_checkpoint_file, prepare_run_dir, remove_run_files,
    set_aside_corrupt_checkpoint,
)


def open_run_dir(run, out_dir: str | os.PathLike | None, resume: bool, force: bool) -> Path | None:
    """Prepare ``out_dir`` for ``run`` (a Searcher or Trainer): resume from it or start it.

    A fresh start writes config.json (and what ``run.write_start_files`` adds); if that fails,
    the files written are removed again (and the folder, if this call created it).
    """
    if out_dir is None:
        if resume:
            raise SdasError("--resume needs the run folder (--out) of the run to continue")
        return None
    existed = Path(out_dir).exists()
    out = prepare_run_dir(out_dir, resume, force)
    run.out_dir = out
    try:
        if resume:
            run._load_checkpoint()
        else:
            atomic_write_json(out / "config.json", run.config())
            getattr(run, "write_start_files", lambda: None)()
    except BaseException:
        if not resume:
            remove_run_files(out, remove_folder=not existed)
        raise
    return out


def read_checkpoint(run, fmt: str, version: int) -> dict:
    """Load ``run.out_dir``'s newest readable checkpoint and check that it belongs to this config.

    An unreadable checkpoint.pt is renamed to checkpoint.corrupt.pt once the previous one is used.
    """
    ckpt, used = load_checkpoint_file(run.out_dir, fmt, version)
    saved, now = ckpt.get("config"), run._resume_key()
    if saved != now:
        diffs = config_differences(saved, now) if isinstance(saved, dict) else "no config recorded"
        raise SdasError(
            f"cannot resume {str(run.out_dir)!r}: its checkpoint was made with a different "
            f"config ({diffs}); run with the original settings or use another --out"
        )
    if used.name != CHECKPOINT:
        if (run.out_dir / CHECKPOINT).exists():
            aside = set_aside_corrupt_checkpoint(run.out_dir)
            run.log(f"warning: {CHECKPOINT} is corrupt or truncated (kept as {aside.name}); resuming from {used.name}")
        else:
            run.log(f"warning: no {CHECKPOINT}; resuming from {used.name}")
    return ckpt


def last_checkpoint_note(run) -> str:
    """Where a failed run can be resumed from, for error messages."""
    if run.out_dir is None:
        return "nothing was saved (no run folder)"
    if run.last_checkpoint is None:
        return "no checkpoint was written yet"
    return f"the last good checkpoint is {run.out_dir / CHECKPOINT} (iteration {run.last_checkpoint})"


def check_finite_weights(run) -> None:
    """Refuse to checkpoint NaN/inf weights: the last good checkpoint must stay the newest."""
    for name, p in run.net.named_parameters():
        if not torch.isfinite(p).all():
            raise NonFiniteLoss(
                f"parameter {name} became non-finite by iteration {run.t} (epoch {run.epoch + 1}); "
                f"{last_checkpoint_note(run)}. Lower the learning rate and start again with --force"
            )


def stop_interrupted(run) -> None:
    """After Ctrl-C: checkpoint at this iteration boundary, say how to resume, raise KeyboardInterrupt."""
    if run.out_dir is not None:
        if run.last_checkpoint != run.t:
            run.save_checkpoint()
        run.log(f"interrupted at iteration {run.t} of {run.T}; checkpoint written. Run the same command with --resume to continue")
    else:
        run.log(f"interrupted at iteration {run.t} of {run.T}")
    raise KeyboardInterrupt


def config_differences(saved: dict, now: dict, prefix: str = "") -> str:
    """``key: checkpoint X, now Y`` for every leaf that differs, joined by '; '."""
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            sub = config_differences(a, b, f"{prefix}{key}.")
            if sub:
                out.append(sub)
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint {a!r}, now {b!r}")
    return "; ".join(out)
