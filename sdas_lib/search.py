"""The search loop: Algorithm 1 (first order) with scheduled discretization, checkpointed.

Each iteration t = 1..T:
1. w step on a w-train batch: SGD on L_train(w | α, β) (Eq. 3), α/β held fixed;
2. α/β step on an α/β-val batch: Adam on L_val(α, β | w), gradients for α/β only;
3. make M_t − (decisions so far) one-step decisions, highest priority first (§3.2), prune the
   network and the optimizer to them.

DAS is the same loop with the ``das`` schedule: every decision at t = T.

A run folder holds config.json, log.txt, metrics.csv (per epoch), decisions.json (the full
history), genotype.json and checkpoint.pt (plus checkpoint.prev.pt, the one before it).

Checkpoints (every ``checkpoint_every`` iterations, at every epoch end, on Ctrl-C) hold everything
the loop depends on: weights and BatchNorm statistics, α/β, both optimizers' states, the lr
schedule position, the decision history, the position in the epoch's batch order, the running
epoch sums, the metrics so far and the random state. A run resumed from any of them ends with the
same genotype, history and metrics (except wall-clock seconds) as one never interrupted.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from . import __version__
from .data import EpochBatches, ImageData, iterate_dataset, load_image_data, split_indices
from .discretization import (
    DiscretizationState, Decision, count_valid_architectures, decide,
)
from .errors import NonFiniteLoss, SdasError
from .faults import graceful_interrupt, kill_point
from .genotype import Genotype
from .io import atomic_write_json
from .presets import SearchPreset, check_search_preset
from .runs import (
    close_epoch, end_iteration, last_checkpoint_note, open_run_dir, read_checkpoint, restoring,
    save_run_checkpoint, write_metrics,
)
from .schedule import get_schedule
from .space import NORMAL, REDUCE, SearchSpace
from .supernet import SearchNetwork, image_layout, prune_optimizer

CHECKPOINT_FORMAT = "sdas-search-checkpoint"
CHECKPOINT_VERSION = 1
METRIC_FIELDS = (
    "epoch", "iteration", "train_loss", "train_acc", "val_loss", "val_acc", "test_acc_relaxed",
    "test_acc_discrete", "decisions", "valid_architectures", "w_lr", "seconds",
)


@dataclass
class SearchResult:
    genotype: Genotype
    history: list[Decision]
    metrics: list[dict]
    dataset: str
    seconds: float
    out_dir: Path | None


def image_space(preset: SearchPreset) -> SearchSpace:
    return SearchSpace(preset.op_set, (NORMAL, REDUCE), preset.n_nodes, preset.k)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(1) == y).float().mean().item()


class Searcher:
    """One SDAS/DAS search; :meth:`run` executes it, resuming from ``out_dir`` if asked.

    Args:
        preset: the settings (``presets.TINY``, ``presets.PAPER`` or a replaced copy).
        schedule: ``"A"``, ``"B"``, ``"C"`` (SDAS) or ``"das"``.
        seed: seeds weight init and data order.
        device: where to compute (``"cpu"``, ``"cuda"``); nothing is hard-coded.
        out_dir: run folder, or None to keep everything in memory.
        resume / force: continue the run in ``out_dir`` / replace it.
        progress: show a tqdm progress bar.
        log: where log lines go besides log.txt (default: print).
    """

    METRIC_FIELDS = METRIC_FIELDS

    def __init__(
        self, preset: SearchPreset, schedule: str = "A", seed: int = 0, device: str | torch.device = "cpu",
        out_dir: str | os.PathLike | None = None, resume: bool = False, force: bool = False,
        progress: bool = True, log: Callable[[str], None] | None = None, data: ImageData | None = None,
    ):
        check_search_preset(preset)
        self.schedule_name = {"a": "A", "b": "B", "c": "C"}.get(str(schedule).lower(), str(schedule).lower())
        self.schedule = get_schedule(schedule)
        self.preset, self.seed, self.device = preset, int(seed), torch.device(device)
        self.progress = progress
        self._print = log or print
        self.space = image_space(preset)
        if preset.threads > 0:
            torch.set_num_threads(preset.threads)
        self.data = data or load_image_data(preset.dataset, preset.data_root, preset.resolution)
        w_idx, a_idx = split_indices(len(self.data.train), preset.train_portion, preset.split_seed)
        self.w_batches = EpochBatches(self.data.train, w_idx, preset.batch_size, seed, preset.num_workers, "w-train split")
        self.a_batches = EpochBatches(self.data.train, a_idx, preset.batch_size, seed + 7919, preset.num_workers, "α/β-val split")
        self.iters_per_epoch = min(len(self.w_batches), len(self.a_batches))
        self.T = preset.epochs * self.iters_per_epoch
        self.M = self.space.total_decisions
        self._build()  # before touching out_dir: a config error leaves nothing behind
        self.out_dir = open_run_dir(self, out_dir, resume, force)

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.preset
        torch.manual_seed(self.seed)
        self.memory_format = torch.channels_last if p.channels_last else torch.contiguous_format
        net = SearchNetwork(self.space, image_layout(p.K), p.C1, p.C2, self.data.num_classes, self.data.in_channels)
        self.net = net.to(self.device, memory_format=self.memory_format)
        self.w_opt = torch.optim.SGD(self.net.weights(), lr=p.w_lr, momentum=p.w_momentum, weight_decay=p.w_weight_decay)
        self.a_opt = torch.optim.Adam(
            self.net.arch.parameters(), lr=p.arch_lr, betas=(p.arch_beta1, p.arch_beta2), weight_decay=p.arch_weight_decay
        )
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=p.epochs, eta_min=p.w_lr_min)
        self.state = DiscretizationState(self.space)
        self.arch_snapshot = self.net.arch.snapshot()
        self.t, self.epoch, self.pos = 0, 0, 0
        self.metrics: list[dict] = []
        self.running = self._zero_running()
        self.elapsed = 0.0
        self.finished = False
        self.last_checkpoint: int | None = None  # iteration of the newest checkpoint on disk
        # (t, decisions made before iteration t, seconds of its w step + α/β step + decisions);
        # for benchmarks/search_cost.py, not checkpointed.
        self.iteration_seconds: list[tuple[int, int, float]] = []

    @staticmethod
    def _zero_running() -> dict:
        return {"train_loss": 0.0, "train_acc": 0.0, "val_loss": 0.0, "val_acc": 0.0, "n": 0, "n_val": 0}

    def config(self) -> dict:
        """What defines the run; a resume must match it."""
        return {
            "preset": asdict(self.preset), "schedule": self.schedule_name, "seed": self.seed,
            "dataset": self.data.description, "space": repr(self.space), "T": self.T, "M": self.M,
            "sdas_lib": __version__, "torch": torch.__version__, "python": platform.python_version(),
        }

    def log(self, line: str) -> None:
        if self.out_dir is not None:
            with open(self.out_dir / "log.txt", "a") as f:
                f.write(line + "\n")
        self._print(line)

    # -- one iteration (Algorithm 1, lines 5-15) -------------------------------------------------
    def _to(self, x: torch.Tensor, y: torch.Tensor):
        return x.to(self.device, memory_format=self.memory_format, non_blocking=True), y.to(self.device, non_blocking=True)

    def w_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """SGD on L_train(w | α, β); α/β enter as constants so no gradient is spent on them."""
        self.net.train()
        logits = self.net(x, detach_arch=True)
        loss = F.cross_entropy(logits, y)
        self._check_finite(loss, "training")
        self.w_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.w_opt.param_groups[0]["params"], self.preset.grad_clip)
        self.w_opt.step()
        return loss.item(), accuracy(logits, y)

    def arch_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float] | None:
        """Adam on L_val(α, β | w) for the α/β still in use; None once nothing is left to learn."""
        params = self.net.arch.learnable(self.state)
        if not params:
            return None
        self.net.train()
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self._check_finite(loss, "validation")
        grads = torch.autograd.grad(loss, params)  # only α/β: no conv weight gradients here
        self.a_opt.zero_grad(set_to_none=True)
        for p, g in zip(params, grads):
            p.grad = g
        self.a_opt.step()
        self.net.arch.freeze_decided(self.state, self.arch_snapshot)
        return loss.item(), accuracy(logits, y)

    def discretize(self) -> list[Decision]:
        """Make M_t − (decisions so far) decisions and prune the network and optimizer to them."""
        n = self.schedule(self.t, self.T, self.M) - self.state.n_done
        if n <= 0:
            return []
        alpha, beta = self.net.arch.as_dicts()
        made = decide(self.state, alpha, beta, n, self.t)
        prune_optimizer(self.w_opt, self.net.sync(self.state))
        self.arch_snapshot = self.net.arch.snapshot()
        return made

    def _check_finite(self, loss: torch.Tensor, what: str) -> None:
        if not torch.isfinite(loss):
            raise NonFiniteLoss(
                f"{what} loss became {loss.item()} at iteration {self.t} (epoch {self.epoch + 1}); "
                f"{last_checkpoint_note(self)}. Lower the learning rate (--w_lr / --arch_lr) and start "
                f"again with --force"
            )

    # -- evaluation (Table 2) ----------------------------------------------------------------------
    @torch.no_grad()
    def test_accuracy(self, net: SearchNetwork) -> float:
        net.eval()
        correct = total = 0
        for x, y in iterate_dataset(self.data.test, self.preset.batch_size, self.preset.num_workers):
            x, y = self._to(x, y)
            correct += (net(x).argmax(1) == y).sum().item()
            total += len(y)
        return correct / max(total, 1)

    def discrete_network(self) -> SearchNetwork:
        """A copy of the supernet with the derived genotype imposed on the same weights.

        Undecided edges and nodes are decided at once by the same rules (as DAS would now).
        BatchNorm protocol: the copy's running statistics are reset and re-estimated (cumulative
        average, train mode, no gradient) on ``bn_recalibration_batches`` fixed w-train batches,
        because the relaxed statistics were gathered on mixed inputs that the discrete cell no
        longer produces. The relaxed network keeps its own running statistics.
        """
        net = copy.deepcopy(self.net)
        state = self.state.copy()
        alpha, beta = net.arch.as_dicts()
        decide(state, alpha, beta, self.M - state.n_done, self.t)
        net.sync(state)
        bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        net.train()
        with torch.no_grad():
            for b, (x, y) in enumerate(self.w_batches.iterate(0)):
                if b >= self.preset.bn_recalibration_batches:
                    break
                net(*self._to(x, y)[:1])
        return net

    def evaluate(self) -> tuple[float, float]:
        """(relaxed, discrete) test accuracy of the supernet with its search weights."""
        return self.test_accuracy(self.net), self.test_accuracy(self.discrete_network())

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        if self.finished:
            self.log(f"run in {self.out_dir} is already complete; nothing to resume")
            return self.result()
        from tqdm.auto import tqdm

        p = self.preset
        if self.t == 0:
            self.log(
                f"SDAS search: schedule {self.schedule_name}, preset {p.name}, seed {self.seed}, "
                f"device {self.device}\n  data: {self.data.description}\n  {self.space}\n"
                f"  T = {self.T} iterations ({p.epochs} epochs x {self.iters_per_epoch}), "
                f"{count_valid_architectures(self.state):.4g} valid architectures"
            )
        else:
            self.log(f"resumed at iteration {self.t} (epoch {self.epoch + 1}, {self.state.n_done} decisions made)")
        bar = tqdm(total=self.T, initial=self.t, disable=not self.progress, desc=f"search {self.schedule_name}", leave=False, file=sys.stderr)
        start = time.perf_counter() - self.elapsed
        with graceful_interrupt() as interrupt, bar:
            while self.epoch < p.epochs:
                w_iter = self.w_batches.iterate(self.epoch, self.pos)
                a_iter = self.a_batches.iterate(self.epoch, self.pos)
                while self.pos < self.iters_per_epoch:
                    (xw, yw), (xa, ya) = next(w_iter), next(a_iter)
                    self.t += 1
                    tick, done_before = time.perf_counter(), self.state.n_done
                    loss, acc = self.w_step(*self._to(xw, yw))
                    kill_point("iteration", self.t)  # test hook; see sdas_lib.faults
                    r = self.running
                    r["train_loss"] += loss
                    r["train_acc"] += acc
                    r["n"] += 1
                    val = self.arch_step(*self._to(xa, ya))
                    if val is not None:
                        r["val_loss"] += val[0]
                        r["val_acc"] += val[1]
                        r["n_val"] += 1
                    made = self.discretize()
                    for d in made:
                        self.log("  decision " + d.describe())
                    if made:
                        kill_point("decision", self.state.n_done)
                    self.iteration_seconds.append((self.t, done_before, time.perf_counter() - tick))
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.3f}", decided=f"{self.state.n_done}/{self.M}")
                    end_iteration(self, start, interrupt)
                self._end_epoch(time.perf_counter() - start)
        self.finished = True
        self.elapsed = time.perf_counter() - start
        self._write_outputs()
        return self.result()

    def _end_epoch(self, seconds: float) -> None:
        p, r = self.preset, self.running
        self.w_sched.step()
        last = self.epoch + 1 == p.epochs
        relaxed = discrete = float("nan")
        if (self.epoch + 1) % p.eval_every == 0 or last:
            relaxed, discrete = self.evaluate()
        row = {
            "epoch": self.epoch + 1, "iteration": self.t,
            "train_loss": r["train_loss"] / max(r["n"], 1), "train_acc": r["train_acc"] / max(r["n"], 1),
            "val_loss": r["val_loss"] / r["n_val"] if r["n_val"] else float("nan"),
            "val_acc": r["val_acc"] / r["n_val"] if r["n_val"] else float("nan"),
            "test_acc_relaxed": relaxed, "test_acc_discrete": discrete,
            "decisions": self.state.n_done, "valid_architectures": count_valid_architectures(self.state),
            "w_lr": self.w_opt.param_groups[0]["lr"], "seconds": round(seconds, 3),
        }
        close_epoch(self, row, (
            f"epoch {row['epoch']}/{p.epochs} it {self.t}: train loss {row['train_loss']:.4f} acc "
            f"{row['train_acc']:.3f} | val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f} | "
            f"test relaxed {relaxed:.3f} discrete {discrete:.3f} | decided {self.state.n_done}/{self.M}, "
            f"{row['valid_architectures']:.4g} valid architectures left | {seconds:.1f}s"
        ), seconds)

    # -- outputs -------------------------------------------------------------------------------
    def history_document(self) -> dict:
        return {
            "schedule": self.schedule_name, "seed": self.seed, "preset": self.preset.name,
            "dataset": self.data.description, "T": self.T, "M": self.M,
            "op_set": self.space.op_set, "cell_types": list(self.space.cell_type_names),
            "edges": [list(e) for e in self.space.edges],
            "decisions": [d.to_dict() for d in self.state.history],
        }

    def _write_outputs(self) -> None:
        genotype = self.state.genotype()
        self.log(f"done in {self.elapsed:.1f}s on {self.data.name}\n{genotype}")
        if self.out_dir is None:
            return
        write_metrics(self)
        atomic_write_json(self.out_dir / "decisions.json", self.history_document())
        genotype.save(self.out_dir / "genotype.json")
        self.save_checkpoint()
        self.log(f"wrote {self.out_dir}/genotype.json, decisions.json, metrics.csv")

    def result(self) -> SearchResult:
        return SearchResult(self.state.genotype(), list(self.state.history), list(self.metrics), self.data.description, self.elapsed, self.out_dir)

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """Atomically write checkpoint.pt; the previous one is kept as checkpoint.prev.pt."""
        save_run_checkpoint(
            self, CHECKPOINT_FORMAT, CHECKPOINT_VERSION,
            net=self.net.state_dict(), w_opt=self.w_opt.state_dict(), a_opt=self.a_opt.state_dict(),
            w_sched=self.w_sched.state_dict(), history=[d.to_dict() for d in self.state.history],
            arch_snapshot=self.arch_snapshot,
        )

    def _resume_key(self) -> dict:
        p = asdict(self.preset)
        for volatile in ("num_workers", "threads", "checkpoint_every", "data_root"):
            p.pop(volatile)
        return {"preset": p, "schedule": self.schedule_name, "seed": self.seed, "T": self.T}

    def _load_checkpoint(self) -> None:
        ckpt = read_checkpoint(self, CHECKPOINT_FORMAT, CHECKPOINT_VERSION)
        with restoring(self, ckpt):
            self.state = DiscretizationState.from_history(self.space, ckpt["history"])
            self.net.sync(self.state)  # prune first: the saved weights are the pruned network's
            self.net.load_state_dict(ckpt["net"])
            self.w_opt = torch.optim.SGD(self.net.weights(), lr=self.preset.w_lr, momentum=self.preset.w_momentum, weight_decay=self.preset.w_weight_decay)
            self.w_opt.load_state_dict(ckpt["w_opt"])
            self.a_opt.load_state_dict(ckpt["a_opt"])
            self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=self.preset.epochs, eta_min=self.preset.w_lr_min)
            self.w_sched.load_state_dict(ckpt["w_sched"])
            self.arch_snapshot = ckpt["arch_snapshot"]


def run_search(preset: SearchPreset, schedule: str = "A", seed: int = 0, **kwargs) -> SearchResult:
    """Convenience: ``Searcher(preset, schedule, seed, **kwargs).run()``."""
    return Searcher(preset, schedule, seed, **kwargs).run()


def load_history(path: str | os.PathLike) -> tuple[dict, list[Decision]]:
    """Read a decisions.json into (metadata, decisions), validating every row."""
    path = Path(path)
    if not path.is_file():
        raise SdasError(f"decision history {str(path)!r} does not exist; it is written by a search run")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise SdasError(f"{str(path)!r} is not valid JSON ({err})") from None
    return doc, [Decision.from_dict(d) for d in doc.get("decisions", [])]


__all__ = ["Searcher", "SearchResult", "run_search", "load_history", "image_space"]
