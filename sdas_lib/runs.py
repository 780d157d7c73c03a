"""A run's folder and checkpoints, shared by the search loop and the retraining loop.

A run (:class:`~sdas_lib.search.Searcher` or :class:`~sdas_lib.train.Trainer`) starts in a fresh
folder or resumes from the checkpoint in one, refuses a checkpoint made with another config,
never checkpoints non-finite weights, and turns Ctrl-C into a checkpoint plus a resume hint.
File-level atomicity lives in :mod:`sdas_lib.io`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time
from pathlib import Path
from typing import Iterator

import torch

from .errors import NonFiniteLoss, SdasError
from .io import (
    CHECKPOINT, atomic_write_json, atomic_write_text, load_checkpoint_file, prepare_run_dir,
    remove_run_files, save_checkpoint_file, set_aside_corrupt_checkpoint,
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


# -- the loop's own state, the same for every run ---------------------------------------------


def loop_state(run) -> dict:
    """Position and bookkeeping of ``run``'s loop, for its checkpoint (the run adds its models)."""
    return {
        "t": run.t, "epoch": run.epoch, "pos": run.pos, "finished": run.finished,
        "metrics": run.metrics, "running": run.running, "elapsed": run.elapsed,
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(run.device) if run.device.type == "cuda" else None,
    }


def save_run_checkpoint(run, fmt: str, version: int, **models) -> None:
    """Atomically write ``run``'s checkpoint: format, config, loop state and ``models`` (state dicts)."""
    check_finite_weights(run)
    ckpt = {"format": fmt, "version": version, "config": run._resume_key(), **loop_state(run), **models}
    save_checkpoint_file(run.out_dir, ckpt)
    run.last_checkpoint = run.t


@contextlib.contextmanager
def restoring(run, ckpt: dict) -> Iterator[None]:
    """Restore the loop state from ``ckpt`` after the body restores the models; a checkpoint that
    does not fit (missing keys, other shapes) becomes one clear error."""
    try:
        yield
        run.t, run.epoch, run.pos = ckpt["t"], ckpt["epoch"], ckpt["pos"]
        run.metrics, run.running, run.elapsed = ckpt["metrics"], ckpt["running"], ckpt["elapsed"]
        run.finished = ckpt["finished"]
        torch.set_rng_state(ckpt["rng"])
        if ckpt.get("cuda_rng") is not None and run.device.type == "cuda":
            torch.cuda.set_rng_state(ckpt["cuda_rng"], run.device)
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise SdasError(
            f"the checkpoint in {str(run.out_dir)!r} does not fit this run ({type(err).__name__}: "
            f"{str(err)[:160]}); start the run again with --force"
        ) from None
    run.last_checkpoint = run.t


def end_iteration(run, start: float, interrupt) -> None:
    """Advance the position in the epoch; checkpoint every ``checkpoint_every`` iterations (the
    epoch's last one is checkpointed by :func:`close_epoch`); stop cleanly after a Ctrl-C."""
    run.pos += 1
    run.elapsed = time.perf_counter() - start
    if run.out_dir is not None and run.t % run.preset.checkpoint_every == 0 and run.pos < run.iters_per_epoch:
        run.save_checkpoint()
    if interrupt.requested:
        stop_interrupted(run)


def close_epoch(run, row: dict, line: str, seconds: float) -> None:
    """Record the epoch's metrics row, log it, move to the next epoch, write metrics.csv and a checkpoint."""
    run.metrics.append(row)
    run.log(line)
    run.epoch += 1
    run.pos = 0
    run.running = run._zero_running()
    run.elapsed = seconds
    if run.out_dir is not None:
        write_metrics(run)
        run.save_checkpoint()


def write_metrics(run) -> None:
    """metrics.csv: one row per epoch, columns ``run.METRIC_FIELDS``, written atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=run.METRIC_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(run.metrics)
    atomic_write_text(run.out_dir / "metrics.csv", buf.getvalue())
