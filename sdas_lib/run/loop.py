"""The run-loop base: what the search loop and the retraining loop share.

:class:`RunLoop` owns logging, device and thread set-up, the memory format (channels-last per
tensor rank), the finite-loss check, the loop skeleton (epochs of resumable batches, progress bar,
graceful Ctrl-C, checkpoint cadence, epoch close, metrics.csv) and the checkpoint format. A
subclass says what one iteration does and what its models are, through the hooks below; the
run-folder code (:mod:`sdas_lib.run.folders`) uses only this class's public methods.

Hooks a subclass implements:
- ``config()``: what defines the run (config.json); ``resume_key_extra()``: what a resume must match
  besides the preset, the seed and T;
- ``start_message()``: the first log lines; ``epoch_batches(epoch, pos)``: the epoch's batches from
  position ``pos``; ``begin_epoch()``; ``train_iteration(batch)``: one iteration, returning the
  progress bar's postfix; ``epoch_summary(seconds)``: the epoch's metrics row and log line;
- ``model_state()`` / ``load_model_state(ckpt)``: the models' part of a checkpoint;
- ``write_outputs()`` and ``result()``; optionally ``write_start_files()``.

Under torchrun (:mod:`sdas_lib.run.distributed`) the same loop runs in every process: ``self.ranks``
says which one this is. Only rank 0 logs, shows the progress bar and writes files; the ranks agree
after every iteration whether any was signalled to stop, and a checkpoint holds every rank's
random state, so each rank resumes exactly.
"""

from __future__ import annotations

import csv
import io
import math
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from ..errors import NonFiniteLoss, SdasError
from ..files import atomic_write_text
from . import distributed
from .distributed import RankFailure
from .checkpoints import CHECKPOINT, load_checkpoint_file, save_checkpoint_file, set_aside_corrupt_checkpoint
from .faults import graceful_interrupt, rank_record
from .folders import open_run_dir


def memory_format_for(rank: int, channels_last: bool) -> torch.memory_format:
    """channels-last for a 4-D (N, C, H, W) or 5-D (N, C, T, H, W) tensor when asked, else contiguous."""
    if not channels_last:
        return torch.contiguous_format
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(rank, torch.contiguous_format)


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


class RunLoop:
    """Base of :class:`~sdas_lib.run.search.Searcher` and :class:`~sdas_lib.run.train.Trainer`.

    Args:
        preset: the run's preset dataclass (needs ``epochs``, ``threads``, ``channels_last``,
            ``checkpoint_every``).
        seed: the run's seed. device: where to compute (under torchrun, ``cuda`` means each rank's
            ``cuda:LOCAL_RANK``). progress: show a tqdm bar (rank 0's only).
        log: where log lines go besides log.txt (default: print; rank 0 only).
    """

    METRIC_FIELDS: tuple[str, ...] = ()
    CHECKPOINT_FORMAT = "sdas-checkpoint"
    CHECKPOINT_VERSION = 1
    # Preset fields that may change between a run and its resume (speed, not results).
    VOLATILE_FIELDS: tuple[str, ...] = ("num_workers", "threads", "checkpoint_every", "data_root")
    # Preset fields added after runs were made, with the value an older run had in effect: a checkpoint
    # whose config lacks one is read as having had it (so older run folders still resume and count).
    ADDED_FIELDS: dict[str, Any] = {}
    progress_label = "run"

    def __init__(self, preset, seed: int, device: str | torch.device, progress: bool, log: Callable[[str], None] | None):
        self.ranks = distributed.setup(device)  # joins the torchrun job, if this process is in one
        self.preset, self.seed, self.device = preset, int(seed), self.ranks.device
        self.progress = progress and self.ranks.is_main
        world = self.ranks.world
        if preset.batch_size % world:  # the same on every rank: printed once
            raise RankFailure(
                f"--batch_size {preset.batch_size} cannot be split evenly over {world} processes: the preset's batch "
                f"is the global batch and each process takes batch/{world}; use a multiple of {world}"
            )
        self._print = log or print
        if preset.threads > 0:
            torch.set_num_threads(preset.threads)
        self.out_dir: Path | None = None
        self.iters_per_epoch = 0
        self.T = 0
        self.reset_loop()

    def reset_loop(self) -> None:
        """Position and bookkeeping of a run that has not started."""
        self.t, self.epoch, self.pos = 0, 0, 0
        self.metrics: list[dict] = []
        self.running = self.zero_running()
        self.elapsed = 0.0
        self.finished = False
        self.last_checkpoint: int | None = None  # iteration of the newest checkpoint on disk

    def open_run_folder(self, out_dir: str | os.PathLike | None, resume: bool, force: bool) -> None:
        """Start, resume or replace the run folder (call at the end of ``__init__``, once built).

        Under torchrun rank 0 checks and prepares the folder and reads the checkpoint; every rank
        gets the outcome (or rank 0's error) and restores the checkpoint's state.
        """
        def prepare():
            out, ckpt = open_run_dir(self, out_dir, resume, force)
            return (None if out is None else str(out)), ckpt

        out, ckpt = self.ranks.from_main(prepare)
        self.out_dir = None if out is None else Path(out)
        if ckpt is not None:
            self.ranks.all_succeed(lambda: self.restore(ckpt))

    def seed_rank(self) -> None:
        """Give each rank of a distributed run its own random stream (drop path, cutout), once the
        model is built under the run's seed (the same initial weights on every rank)."""
        if self.ranks.distributed:
            torch.manual_seed(distributed.rank_seed(self.seed, self.ranks.rank))

    # -- hooks -----------------------------------------------------------------------------------
    def iterations_total(self) -> int:
        """Every iteration of the run (the search adds its warm-up to T)."""
        return self.T

    def zero_running(self) -> dict:
        """The running sums of an epoch, all zero."""
        return {}

    def config(self) -> dict:
        raise NotImplementedError

    def resume_key_extra(self) -> dict:
        """What besides the preset and the seed defines the run (the schedule, the genotype): each subclass
        returns its ``key_extra`` of its own arguments, the one place the sweep's :func:`run_state` reads too."""
        return {}

    @classmethod
    def settings_key(cls, preset, seed: int, extra: dict) -> dict:
        """The settings a run is checked against on resume, without T and the number of processes: ``preset``
        without :attr:`VOLATILE_FIELDS`, ``seed`` and ``extra`` (the subclass's ``key_extra``)."""
        p = asdict(preset)
        for volatile in cls.VOLATILE_FIELDS:
            p.pop(volatile, None)
        return {"preset": p, "seed": int(seed), **extra}

    @classmethod
    def upgrade_settings(cls, saved: Any) -> Any:
        """A checkpoint's saved settings with the preset fields added since (:attr:`ADDED_FIELDS`) filled in."""
        if not isinstance(saved, dict) or not isinstance(saved.get("preset"), dict):
            return saved
        return {**saved, "preset": {**cls.ADDED_FIELDS, **saved["preset"]}}

    def write_start_files(self) -> None:
        """Files a fresh run folder gets besides config.json."""

    def start_message(self) -> str:
        raise NotImplementedError

    def epoch_batches(self, epoch: int, pos: int) -> Iterator:
        raise NotImplementedError

    def begin_epoch(self) -> None:
        """Called before each epoch's first iteration (also on resume)."""

    def train_iteration(self, batch) -> dict:
        raise NotImplementedError

    def epoch_summary(self, seconds: float) -> tuple[dict, str]:
        raise NotImplementedError

    def model_state(self) -> dict:
        raise NotImplementedError

    def load_model_state(self, ckpt: dict) -> None:
        raise NotImplementedError

    def write_outputs(self) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------------
    def log(self, line: str) -> None:
        """Print ``line`` and append it to the run folder's log.txt (rank 0 only)."""
        if not self.ranks.is_main:
            return
        if self.out_dir is not None:
            try:
                with open(self.out_dir / "log.txt", "a") as f:
                    f.write(line + "\n")
            except OSError as err:
                if not self.ranks.distributed:
                    raise
                # Rank 0 alone would stop here while the others wait in a collective; the next
                # checkpoint write (handed to every rank) fails the same way if the disk is gone.
                print(f"warning: could not append to {self.out_dir / 'log.txt'} ({err})", file=sys.stderr)
        self._print(line)

    def to_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch on the run's device, inputs in the memory format of their rank."""
        fmt = memory_format_for(x.dim(), self.preset.channels_last)
        return x.to(self.device, memory_format=fmt, non_blocking=True), y.to(self.device, non_blocking=True)

    def input_to_device(self, x: torch.Tensor) -> torch.Tensor:
        """Network inputs on the run's device, in the memory format of their rank."""
        return x.to(self.device, memory_format=memory_format_for(x.dim(), self.preset.channels_last), non_blocking=True)

    def model_to_device(self, net: torch.nn.Module, input_rank: int) -> torch.nn.Module:
        return net.to(self.device, memory_format=memory_format_for(input_rank, self.preset.channels_last))

    def check_finite(self, loss: float, what: str, lr_flags: str) -> None:
        """Stop with :class:`NonFiniteLoss` naming the iteration and the last good checkpoint.

        Under torchrun pass the loss reduced over the ranks: a NaN on one rank is then a NaN on
        all, and every rank stops here together instead of one waiting in the next all-reduce."""
        if not math.isfinite(loss):
            error = NonFiniteLoss(
                f"{what} loss became {loss} at iteration {self.t} (epoch {self.epoch + 1}); "
                f"{self.last_checkpoint_note()}. Lower the learning rate ({lr_flags}) and start again with --force"
            )
            error.everywhere = self.ranks.distributed  # every rank raises it: printed once
            raise error

    def last_checkpoint_note(self) -> str:
        """Where a failed run can be resumed from, for error messages."""
        if self.out_dir is None:
            return "nothing was saved (no run folder)"
        if self.last_checkpoint is None:
            return "no checkpoint was written yet"
        return f"the last good checkpoint is {self.out_dir / CHECKPOINT} (iteration {self.last_checkpoint})"

    # -- the loop --------------------------------------------------------------------------------
    def run(self):
        """Execute the run (or its rest, after a resume) and write its outputs."""
        if self.finished:
            self.log(f"run in {self.out_dir} is already complete; nothing to resume")
            return self.result()
        from tqdm.auto import tqdm

        rank_record(self.ranks.rank, {"event": "start", "pid": os.getpid(), "t": self.t})  # test hook
        if self.t == 0:
            self.log(self.start_message())
        else:
            self.log(f"resumed at iteration {self.t} (epoch {self.epoch + 1}, batch {self.pos})")
        bar = tqdm(total=self.iterations_total(), initial=self.t, disable=not self.progress, desc=self.progress_label, leave=False, file=sys.stderr)
        start = time.perf_counter() - self.elapsed
        with graceful_interrupt(escalate=not self.ranks.distributed) as interrupt, bar:
            while self.epoch < self.preset.epochs:
                self.begin_epoch()
                batches = self.epoch_batches(self.epoch, self.pos)
                while self.pos < self.iters_per_epoch:
                    batch = next(batches)
                    self.t += 1
                    postfix = self.train_iteration(batch)
                    bar.update(1)
                    bar.set_postfix(**postfix)
                    self.end_iteration(start, interrupt)
                self.close_epoch(time.perf_counter() - start)
        self.finished = True
        self.elapsed = time.perf_counter() - start
        self.write_outputs()
        return self.result()

    def end_iteration(self, start: float, interrupt) -> None:
        """Advance the position in the epoch; checkpoint every ``checkpoint_every`` iterations (the
        epoch's last one is checkpointed by :meth:`close_epoch`); stop cleanly after a Ctrl-C or
        SIGTERM on any rank (every rank learns of it here, at the same iteration)."""
        self.pos += 1
        self.elapsed = time.perf_counter() - start
        if self.out_dir is not None and self.t % self.preset.checkpoint_every == 0 and self.pos < self.iters_per_epoch:
            self.save_checkpoint()
        signals = self.ranks.gather_ints(interrupt.signal)
        if any(signals):
            self.stop_interrupted(signals)

    def close_epoch(self, seconds: float) -> None:
        """Record the epoch's metrics row, log it, move to the next epoch, write metrics.csv and a checkpoint."""
        row, line = self.epoch_summary(seconds)
        self.metrics.append(row)
        self.log(line)
        self.epoch += 1
        self.pos = 0
        self.running = self.zero_running()
        self.elapsed = seconds
        if self.out_dir is not None:
            self.ranks.from_main(self.write_metrics)
            self.save_checkpoint()

    def stop_interrupted(self, signals: list[int] | None = None) -> None:
        """After Ctrl-C or SIGTERM: checkpoint at this iteration boundary, say how to resume, raise
        KeyboardInterrupt (on every rank).

        Args:
            signals: each rank's signal number (0: none), to say which rank was stopped by what.
        """
        where = ""
        if self.ranks.distributed and signals:
            got = [f"{signal.Signals(s).name} on rank {r}" for r, s in enumerate(signals) if s]
            where = f" ({', '.join(got)}; all {self.ranks.world} processes stopped here)"
        if self.out_dir is not None:
            if self.last_checkpoint != self.t:
                self.save_checkpoint()
            self.log(
                f"interrupted at iteration {self.t} of {self.iterations_total()}{where}; checkpoint written. Run the same command "
                f"with --resume to continue"
            )
        else:
            self.log(f"interrupted at iteration {self.t} of {self.iterations_total()}{where}")
        raise KeyboardInterrupt

    def write_metrics(self) -> None:
        """metrics.csv: one row per epoch, columns ``METRIC_FIELDS``, written atomically."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.METRIC_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(self.metrics)
        atomic_write_text(self.out_dir / "metrics.csv", buf.getvalue())

    # -- checkpoints -------------------------------------------------------------------------------
    def resume_key(self) -> dict:
        """What a checkpoint must have been made with to be resumed by this run: :meth:`settings_key` and T."""
        key = {**self.settings_key(self.preset, self.seed, self.resume_key_extra()), "T": self.T}
        if self.ranks.distributed:  # each rank's batch share, BN statistics and random state depend on it
            key["processes"] = self.ranks.world
        return key

    def random_state(self) -> dict:
        """This process's random state (CPU, and its GPU's)."""
        return {
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def loop_state(self) -> dict:
        """Position and bookkeeping of the loop, for the checkpoint (tensors and plain types only).

        Collective under torchrun: rank 0 gathers every rank's random state (``rank_rng``)."""
        state = {
            "t": self.t, "epoch": self.epoch, "pos": self.pos, "finished": self.finished,
            "metrics": self.metrics, "running": self.running, "elapsed": self.elapsed, **self.random_state(),
        }
        if self.ranks.distributed:
            state["rank_rng"] = self.ranks.gather_objects(self.random_state())
        return state

    def save_checkpoint(self) -> None:
        """Atomically write checkpoint.pt (rank 0); the previous one is kept as checkpoint.prev.pt.

        Every rank calls it at the same iteration (the random states are gathered)."""
        self.check_finite_weights()
        ckpt = {
            "format": self.CHECKPOINT_FORMAT, "version": self.CHECKPOINT_VERSION, "config": self.resume_key(),
            **self.loop_state(), **self.model_state(),
        }
        self.ranks.from_main(lambda: save_checkpoint_file(self.out_dir, ckpt))  # rank 0's write error: every rank's
        self.last_checkpoint = self.t

    def check_finite_weights(self) -> None:
        """Refuse to checkpoint NaN/inf weights: the last good checkpoint must stay the newest."""
        for name, p in self.net.named_parameters():
            if not torch.isfinite(p).all():
                error = NonFiniteLoss(
                    f"parameter {name} became non-finite by iteration {self.t} (epoch {self.epoch + 1}); "
                    f"{self.last_checkpoint_note()}. Lower the learning rate and start again with --force"
                )
                error.everywhere = self.ranks.distributed  # the same weights on every rank: printed once
                raise error

    def restore(self, ckpt: dict) -> None:
        """Restore the run from a checkpoint (:meth:`read_checkpoint`): models, loop, random state
        (this rank's own, under torchrun)."""
        try:
            self.load_model_state(ckpt)
            self.t, self.epoch, self.pos = ckpt["t"], ckpt["epoch"], ckpt["pos"]
            self.metrics, self.running, self.elapsed = ckpt["metrics"], ckpt["running"], ckpt["elapsed"]
            self.finished = ckpt["finished"]
            # Each rank's own random state; a finished run opened by another number of processes
            # (nothing left to run) takes rank 0's.
            same_ranks = self.ranks.distributed and len(ckpt.get("rank_rng") or ()) == self.ranks.world
            rng = ckpt["rank_rng"][self.ranks.rank] if same_ranks else ckpt
            torch.set_rng_state(rng["rng"])
            if rng.get("cuda_rng") is not None and self.device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda_rng"], self.device)
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise SdasError(
                f"the checkpoint in {str(self.out_dir)!r} does not fit this run ({type(err).__name__}: "
                f"{str(err)[:160]}); start the run again with --force"
            ) from None
        self.last_checkpoint = self.t

    def read_checkpoint(self) -> dict[str, Any]:
        """The newest readable checkpoint, checked against this run's config.

        An unreadable checkpoint.pt is renamed to checkpoint.corrupt.pt once the previous one is used.
        """
        ckpt, used, refused = load_checkpoint_file(self.out_dir, self.CHECKPOINT_FORMAT, self.CHECKPOINT_VERSION)
        saved, now = self.upgrade_settings(ckpt.get("config")), self.resume_key()
        if isinstance(saved, dict) and ckpt.get("finished"):  # nothing left to run: any number of processes
            saved = {k: v for k, v in saved.items() if k != "processes"}
            now = {k: v for k, v in now.items() if k != "processes"}
        if isinstance(saved, dict) and saved.get("processes", 1) != now.get("processes", 1):
            made, here = saved.get("processes", 1), now.get("processes", 1)
            how = f"under torchrun --nproc_per_node {made} (in all)" if made > 1 else "as one process, without torchrun"
            raise SdasError(
                f"cannot resume {str(self.out_dir)!r}: its checkpoint was made by {made} process(es) and this run has "
                f"{here} (the batch shares and random streams depend on the number); resume it {how} "
                f"(processes: checkpoint {saved.get('processes')}, now {now.get('processes')})"
            )
        if saved != now:
            diffs = config_differences(saved, now) if isinstance(saved, dict) else "no config recorded"
            raise SdasError(
                f"cannot resume {str(self.out_dir)!r}: its checkpoint was made with a different "
                f"config ({diffs}); run with the original settings or use another --out"
            )
        if used.name != CHECKPOINT:
            if (self.out_dir / CHECKPOINT).exists():
                why = refused.get(CHECKPOINT, f"{CHECKPOINT} is corrupt or truncated")
                aside = set_aside_corrupt_checkpoint(self.out_dir, unsafe=why.startswith(f"{CHECKPOINT} is unsafe"))
                self.log(f"warning: {why}; kept as {aside.name}; resuming from {used.name}")
            else:
                self.log(f"warning: no {CHECKPOINT}; resuming from {used.name}")
        return ckpt


__all__ = ["RunLoop", "memory_format_for", "config_differences"]
