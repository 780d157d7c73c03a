"""The search loop: Algorithm 1 (first order) with scheduled discretization, checkpointed.

Each iteration t = 1..T:
1. w step on a w-train batch: SGD on L_train(w | α, β) (Eq. 3), α/β held fixed;
2. α/β step on an α/β-val batch: Adam on L_val(α, β | w), gradients for α/β only;
3. make M_t − (decisions so far) one-step decisions, highest priority first (§3.2), prune the
   network and the optimizer to them.

DAS is the same loop with the ``das`` schedule: every decision at t = T.

Warm-up (``preset.warmup_iterations`` = W, 0 in Algorithm 1 and in the paper preset): a tiny-scale
adaptation, after PC-DARTS and P-DARTS, which freeze the architecture parameters for their first
epochs. The first W iterations of the search make the w step alone (α/β frozen: no α/β step, no
decisions); the schedule then runs over the remaining T = epochs × iterations per epoch − W
iterations and sees them as t = 1..T (the iteration minus W). Decisions, α/β snapshots and
decisions.json's T count in scheduled iterations; iterations.csv and metrics.csv count every
iteration, and iterations.csv marks the warm-up ones (column ``warmup``).

At the first decision the search records the w-train accuracy of the supernet (the mean batch
accuracy of the w steps over the last epoch's worth of iterations, the same quantity as the last
epoch's ``train_acc`` of DAS at t = T): decisions.json's ``first_decision``.

The same loop searches video cells when the preset is a video one
(:class:`~sdas_lib.run.presets.VideoSearchPreset`): the space is
:func:`~sdas_lib.core.space.video_space` (normal, ST-reduction and S-reduction cells, M = 54), the
supernet follows :func:`~sdas_lib.core.layout.video_layout`, the data are clips, and a test video of
several clips is scored by the mean of their softmax scores (§5.2). Nothing else changes.

A run folder holds config.json, log.txt, metrics.csv (per epoch), decisions.json (the full
history), genotype.json and checkpoint.pt (plus checkpoint.prev.pt, the one before it).

Checkpoints (every ``checkpoint_every`` iterations, at every epoch end, on Ctrl-C) hold everything
the loop depends on: weights and BatchNorm statistics, α/β, both optimizers' states, the lr
schedule position, the decision history, the position in the epoch's batch order, the running
epoch sums, the metrics so far and the random state. A run resumed from any of them ends with the
same genotype, history and metrics (except wall-clock seconds) as one never interrupted.

Under torchrun (:mod:`sdas_lib.run.distributed`) each rank takes its share of every w-train and
α/β-val batch; the w gradients are averaged by DDP and the α/β gradients by an explicit
all-reduce (``autograd.grad`` bypasses DDP), so every rank holds the same α/β and makes the same
decisions at the same iterations, which the ranks verify at every decision (a digest of α/β, the
weights and the decisions). After a decision prunes the network, DDP is rebuilt around what is left.
Evaluations split the test set over the ranks.

Table 2 (docs/paper_notes.md): at every evaluation, after the last iteration's w and α/β steps and before its
decisions, the search weights are tested four ways: ``relaxed`` (the supernet as it is, so at
t = T before DAS's final decisions), ``discrete_weights_kept`` (the derived genotype whose kept ops
keep their supernet weights, softmax(α)·sigmoid(β): it separates the choice of ops from Eq. 1's jump
of the weights to 1), ``discrete`` (the derived genotype imposed on the same weights and BatchNorm
running statistics: the paper's protocol, after SNAS) and ``discrete_bn_reestimated`` (the same with
BN statistics re-estimated on w-train batches).
"""

from __future__ import annotations

import copy
import gc
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .. import __version__
from ..core.discretization import Decision, DiscretizationState, decide, supernet_edge_scales
from ..core.counting import count_valid_architectures
from ..core.genotype import Genotype
from ..core.history import arch_snapshot, history_document
from ..core.layout import image_layout, video_layout
from ..core.schedule import get_schedule
from ..core.space import NORMAL, REDUCE, SearchSpace, video_space
from ..data import EpochBatches, ImageData, split_indices
from ..errors import SdasError
from ..files import atomic_write_json, atomic_write_text
from ..nets.supernet import SearchNetwork, prune_optimizer
from .distributed import state_digest
from .faults import kill_point, perturb_point, rank_record
from .inputs import clips_per_test_sample, iterate_test_set, load_run_data, score_test_batch
from .loop import RunLoop
from .outputs import SEARCH_ACCURACIES
from .presets import SearchPreset, check_search_preset

METRIC_FIELDS = (
    "epoch", "iteration", "train_loss", "train_acc", "val_loss", "val_acc", "test_acc_relaxed",
    "test_acc_discrete_weights_kept", "test_acc_discrete", "test_acc_discrete_bn_reestimated", "decisions", "valid_architectures", "w_lr", "seconds",
)


TEST_BATCH = 256  # smallest batch of the test passes of single images or clips (evaluation only)


@dataclass
class SearchResult:
    genotype: Genotype
    history: list[Decision]
    metrics: list[dict]
    dataset: str
    seconds: float
    out_dir: Path | None


def load_average() -> float:
    """The machine's 1-minute load average (NaN where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def image_space(preset: SearchPreset) -> SearchSpace:
    return SearchSpace(preset.op_set, (NORMAL, REDUCE), preset.n_nodes, preset.k)


def search_space(preset: SearchPreset) -> SearchSpace:
    """The preset's search space: normal and reduction cells for images, normal, ST- and
    S-reduction cells for video (M = 36 or 54)."""
    if preset.task == "video":
        return video_space(preset.op_set, preset.n_nodes, preset.k)
    return image_space(preset)


def search_layout(preset: SearchPreset) -> list[str]:
    """Cell types of the preset's search network, in order (Fig. 5a or 5c)."""
    return video_layout(preset.K) if preset.task == "video" else image_layout(preset.K)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(1) == y).float().mean().item()


class Searcher(RunLoop):
    """One SDAS/DAS search; :meth:`run` executes it, resuming from ``out_dir`` if asked.

    Args:
        preset: the settings (``presets.TINY``, ``presets.PAPER``, a video preset such as
            ``presets.VIDEO_TINY``, or a replaced copy).
        schedule: ``"A"``, ``"B"``, ``"C"`` (SDAS) or ``"das"``.
        seed: seeds weight init and data order.
        device: where to compute (``"cpu"``, ``"cuda"``); nothing is hard-coded.
        out_dir: run folder, or None to keep everything in memory.
        resume / force: continue the run in ``out_dir`` / replace it.
        progress: show a tqdm progress bar.
        log: where log lines go besides log.txt (default: print).
        data: an already loaded :class:`ImageData` or :class:`VideoData` (default: load ``preset.dataset``).
    """

    METRIC_FIELDS = METRIC_FIELDS
    CHECKPOINT_FORMAT = "sdas-search-checkpoint"
    CHECKPOINT_VERSION = 2
    ADDED_FIELDS = {"warmup_iterations": 0}  # runs made before the warm-up had none
    progress_label = "search"

    def __init__(
        self, preset: SearchPreset, schedule: str = "A", seed: int = 0, device: str | torch.device = "cpu",
        out_dir: str | os.PathLike | None = None, resume: bool = False, force: bool = False,
        progress: bool = True, log: Callable[[str], None] | None = None, data: ImageData | None = None,
    ):
        check_search_preset(preset)
        self.schedule_name = {"a": "A", "b": "B", "c": "C"}.get(str(schedule).lower(), str(schedule).lower())
        self.schedule = get_schedule(schedule)
        super().__init__(preset, seed, device, progress, log)
        self.progress_label = f"search {self.schedule_name}"
        self.space = search_space(preset)
        # Downloaded once per machine; a data set one rank cannot load stops every rank with its error.
        self.data = data or self.ranks.local_first(lambda: load_run_data(preset))
        w_idx, a_idx = split_indices(len(self.data.train), preset.train_portion, preset.split_seed)
        shard = (self.ranks.rank, self.ranks.world)  # each rank's share of every batch
        self.w_batches = EpochBatches(self.data.train, w_idx, preset.batch_size, seed, preset.num_workers, "w-train split", shard)
        self.a_batches = EpochBatches(self.data.train, a_idx, preset.batch_size, seed + 7919, preset.num_workers, "α/β-val split", shard)
        self.iters_per_epoch = min(len(self.w_batches), len(self.a_batches))
        self.W = preset.warmup_iterations
        total = preset.epochs * self.iters_per_epoch
        if self.W >= total:
            raise SdasError(
                f"--warmup_iterations {self.W} leaves no iteration to schedule: the search has {total} "
                f"({preset.epochs} epochs x {self.iters_per_epoch}); use fewer warm-up iterations or more --epochs"
            )
        self.T = total - self.W  # the scheduled part (the schedule's T)
        self.M = self.space.total_decisions
        self._build()  # before touching out_dir: a config error leaves nothing behind
        self.open_run_folder(out_dir, resume, force)

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.preset
        torch.manual_seed(self.seed)
        net = SearchNetwork(self.space, search_layout(p), p.C1, p.C2, self.data.num_classes, self.data.in_channels)
        self.net = self.model_to_device(net, 1 + len(self.data.input_shape))
        self.seed_rank()
        self._ddp: torch.nn.Module | None = None  # DDP around self.net, rebuilt after every pruning
        self.w_opt = self._make_w_opt()
        self.a_opt = torch.optim.Adam(
            self.net.arch.parameters(), lr=p.arch_lr, betas=(p.arch_beta1, p.arch_beta2), weight_decay=p.arch_weight_decay
        )
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=p.epochs, eta_min=p.w_lr_min)
        self.state = DiscretizationState(self.space)
        self.arch_snapshot = self.net.arch.snapshot()
        self.arch_before_decisions: list[dict] = []  # α/β at each iteration that made decisions
        self.evaluation: dict[str, float] | None = None  # this epoch's Table 2 accuracies, once measured
        # (t, decisions made before iteration t, seconds of its w step + α/β step + decisions, the
        # 1-minute load average then): the per-iteration cost behind the speedup, in iterations.csv.
        # (iteration, decisions before it, wall seconds, 1-minute load average, CPU seconds of this process)
        self.iteration_seconds: list[tuple[int, int, float, float, float]] = []
        self.recent_train_acc: list[float] = []  # the last iters_per_epoch w-step accuracies
        self.first_decision: dict | None = None  # iteration and w-train accuracy at the first decision

    def _make_w_opt(self) -> torch.optim.Optimizer:
        p = self.preset
        return torch.optim.SGD(self.net.weights(), lr=p.w_lr, momentum=p.w_momentum, weight_decay=p.w_weight_decay)

    def zero_running(self) -> dict:
        return {"train_loss": 0.0, "train_acc": 0.0, "val_loss": 0.0, "val_acc": 0.0, "n": 0, "n_val": 0}

    def config(self) -> dict:
        """What defines the run; a resume must match it."""
        return {
            "preset": asdict(self.preset), "task": self.preset.task, "schedule": self.schedule_name, "seed": self.seed,
            "dataset": self.data.description, "space": self.space.to_dict(), "T": self.T, "M": self.M,
            "warmup_iterations": self.W,
            "sdas_lib": __version__, "torch": torch.__version__, "python": platform.python_version(),
            **self.ranks.describe(),
        }

    def w_net(self) -> torch.nn.Module:
        """The network the w step runs: ``self.net`` in DDP under torchrun (α/β left to the α/β
        step's own all-reduce), built again after a pruning deleted some of its weights."""
        if self._ddp is None:
            if self.ranks.distributed:
                gc.collect()  # the DDP before the pruning, in a reference cycle: free its buffers now
            self._ddp = self.ranks.wrap(self.net, ignore=[f"arch.{n}" for n, _ in self.net.arch.named_parameters()])
        return self._ddp

    def resume_key_extra(self) -> dict:
        return self.key_extra(self.schedule_name)

    @staticmethod
    def key_extra(schedule: str) -> dict:
        return {"schedule": schedule}

    # -- one iteration (Algorithm 1, lines 5-15) -------------------------------------------------
    def w_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """SGD on L_train(w | α, β); α/β enter as constants so no gradient is spent on them."""
        self.net.train()
        logits = self.w_net()(x, detach_arch=True)
        loss = F.cross_entropy(logits, y)
        value, acc = self.ranks.mean_values(loss.item(), accuracy(logits, y))  # over the ranks
        self.check_finite(value, "training", "--w_lr / --arch_lr")
        self.w_opt.zero_grad(set_to_none=True)
        loss.backward()  # under torchrun DDP averages the gradients over the ranks here
        torch.nn.utils.clip_grad_norm_(self.w_opt.param_groups[0]["params"], self.preset.grad_clip)
        self.w_opt.step()
        return value, acc

    def arch_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float] | None:
        """Adam on L_val(α, β | w) for the α/β still in use; None once nothing is left to learn."""
        params = self.net.arch.learnable(self.state)
        if not params:
            return None
        self.net.train()
        weights = [w for w in self.net.weights() if w.requires_grad]
        try:  # w as constants here: no graph edges, so no op computes a weight gradient it won't use
            for w in weights:
                w.requires_grad_(False)
            logits = self.net(x)
        finally:
            for w in weights:
                w.requires_grad_(True)
        loss = F.cross_entropy(logits, y)
        value, acc = self.ranks.mean_values(loss.item(), accuracy(logits, y))  # over the ranks
        self.check_finite(value, "validation", "--w_lr / --arch_lr")
        grads = torch.autograd.grad(loss, params)  # only α/β
        self.ranks.average_(grads)  # autograd.grad bypasses DDP: the mean over the ranks, explicitly
        self.a_opt.zero_grad(set_to_none=True)
        for p, g in zip(params, grads):
            p.grad = g
        self.a_opt.step()
        self.net.arch.freeze_decided(self.state, self.arch_snapshot)
        return value, acc

    def iterations_total(self) -> int:
        return self.W + self.T

    def in_warmup(self, t: int | None = None) -> bool:
        """Whether iteration ``t`` (default: the current one) belongs to the weight-only warm-up."""
        return (self.t if t is None else t) <= self.W

    def scheduled_t(self) -> int:
        """The current iteration as the schedule sees it: t − W (1..T after the warm-up)."""
        return self.t - self.W

    def discretize(self) -> list[Decision]:
        """Make M_t − (decisions so far) decisions and prune the network and optimizer to them."""
        if self.in_warmup():
            return []
        return self.make_decisions(self.schedule(self.scheduled_t(), self.T, self.M) - self.state.n_done)

    def make_decisions(self, n: int) -> list[Decision]:
        """Make ``n`` one-step decisions now (Algorithm 1, lines 10-14: highest priority first), at the current
        scheduled iteration; delete what they drop from the network and the weights' optimizer, and freeze the
        decided α/β; the decisions made."""
        t = self.scheduled_t()
        if n <= 0:
            return []
        if perturb_point(self.ranks.rank, self.t):  # test hook: this rank's α drifts from the others'
            with torch.no_grad():
                next(iter(self.net.arch.parameters())).view(-1)[0] += 1e-3
        alpha, beta = self.net.arch.as_dicts()
        self.arch_before_decisions.append(arch_snapshot(t, alpha, beta))  # for the replay
        if self.first_decision is None and self.state.n_done == 0:  # (a resumed older run may lack it)
            self.first_decision = self.first_decision_record(t)
        made = decide(self.state, alpha, beta, n, t)
        self.check_ranks_agree(made)
        prune_optimizer(self.w_opt, self.net.sync(self.state))
        self._ddp = None  # DDP's buckets hold the deleted weights: rebuild it at the next w step
        self.arch_snapshot = self.net.arch.snapshot()
        return made

    def first_decision_record(self, t: int) -> dict:
        """The w-train accuracy of the supernet at the first decision (issue 23's target 1): the mean
        accuracy of the w steps over the last epoch's worth of iterations, as metrics.csv's ``train_acc``."""
        window = self.recent_train_acc
        return {
            "iteration": self.t, "scheduled_iteration": t, "window": len(window),
            "train_acc": sum(window) / len(window) if window else float("nan"),
        }

    def decision_digest(self) -> bytes:
        """Digest of this rank's α/β, weights and decisions so far (equal on every rank of a sound run)."""
        tensors = [p for _, p in sorted(self.net.arch.named_parameters())] + self.net.weights()
        return state_digest(tensors, json.dumps([d.to_dict() for d in self.state.history]))

    def check_ranks_agree(self, made: list[Decision]) -> None:
        """At a decision, verify that every rank holds the same α/β, weights and decisions; stop
        every rank with :class:`~sdas_lib.run.distributed.RankDisagreement` if not."""
        if not self.ranks.distributed:
            return
        digest = self.decision_digest()
        rank_record(self.ranks.rank, {"t": self.t, "decisions": self.state.n_done, "digest": digest.hex()})
        self.ranks.check_agreement(digest, "α/β, weights or decisions", self.t, self.last_checkpoint_note())

    def epoch_batches(self, epoch: int, pos: int):
        return zip(self.w_batches.iterate(epoch, pos), self.a_batches.iterate(epoch, pos))

    def train_iteration(self, batch) -> dict:
        (xw, yw), (xa, ya) = batch
        tick, cpu_tick, done_before = time.perf_counter(), time.process_time(), self.state.n_done
        loss, acc = self.w_step(*self.to_device(xw, yw))
        kill_point("iteration", self.t)  # test hook; see sdas_lib.run.faults
        r = self.running
        r["train_loss"] += loss
        r["train_acc"] += acc
        r["n"] += 1
        self.recent_train_acc = (self.recent_train_acc + [acc])[-self.iters_per_epoch:]
        # Warm-up: the weights train alone; α/β stay as they are and nothing is decided.
        val = None if self.in_warmup() else self.arch_step(*self.to_device(xa, ya))
        if val is not None:
            r["val_loss"] += val[0]
            r["val_acc"] += val[1]
            r["n_val"] += 1
        if self.pos + 1 == self.iters_per_epoch and self.evaluates(self.epoch):
            t_eval, cpu_eval = time.perf_counter(), time.process_time()
            self.evaluation = self.evaluate()  # Table 2: before this iteration's decisions
            tick += time.perf_counter() - t_eval  # iteration_seconds: the search's own cost only
            cpu_tick += time.process_time() - cpu_eval
        made = self.discretize()
        for d in made:
            self.log("  decision " + d.describe())
        if made:
            kill_point("decision", self.state.n_done)
        self.iteration_seconds.append(
            (self.t, done_before, time.perf_counter() - tick, load_average(), time.process_time() - cpu_tick))
        return {"loss": f"{loss:.3f}", "decided": f"{self.state.n_done}/{self.M}"}

    # -- evaluation (Table 2) ----------------------------------------------------------------------
    def evaluates(self, epoch: int) -> bool:
        """Whether the test accuracies are measured in ``epoch`` (0-based): every ``eval_every``, and the last."""
        return (epoch + 1) % self.preset.eval_every == 0 or epoch + 1 == self.preset.epochs

    @torch.no_grad()
    def test_accuracy(self, net: SearchNetwork) -> float:
        """Test accuracy of ``net``; a video of several test clips by the mean of their softmax scores (§5.2).

        Under torchrun each rank scores its share of the test set with the same model (rank 0's BN
        statistics) and the counts are summed."""
        self.ranks.broadcast_buffers(net)
        net.eval()
        correct = total = 0
        multi_clip = clips_per_test_sample(self.data) > 1
        # Single images or clips go 256 at a time at least: per-batch overhead dominates small inputs on
        # the CPU (a tiny DAS video supernet: 12 s for the 2,000 test clips at 64, 7 s at 256); a test
        # video of several clips keeps the training batch size, which bounds its memory.
        batch = self.preset.batch_size if multi_clip else max(self.preset.batch_size, TEST_BATCH)
        shard = (self.ranks.rank, self.ranks.world)
        for x, y in iterate_test_set(self.data, batch, self.preset.num_workers, shard):
            scores, _ = score_test_batch(net, x, multi_clip, self.input_to_device)
            correct += (scores.argmax(1) == y.to(scores.device)).sum().item()
            total += len(y)
        correct, total = self.ranks.sum_values(correct, total)
        return correct / max(total, 1)

    def discrete_network(self, keep_mixing_weights: bool = False) -> SearchNetwork:
        """A copy of the supernet with the derived genotype imposed on the same weights and the
        same BatchNorm running statistics (nothing re-estimated: the paper's protocol, after SNAS).

        Undecided edges and nodes are decided at once by the same rules (as DAS would now).
        ``keep_mixing_weights``: each kept edge keeps the weight it had in the supernet
        (softmax(α)_op · sigmoid(β), Eq. 2; sigmoid(β) for a decided edge; 1 for a decided node)
        in place of Eq. 1's 1, which isolates the choice of ops from the jump of the weights.
        """
        net = copy.deepcopy(self.net)
        state = self.state.copy()
        alpha, beta = net.arch.as_dicts()
        decide(state, alpha, beta, self.M - state.n_done, self.t)
        net.sync(state)
        if keep_mixing_weights:
            net.keep_mixing_weights(supernet_edge_scales(self.state, state, alpha, beta))
        return net

    @torch.no_grad()
    def reestimate_batchnorm(self, net: SearchNetwork) -> SearchNetwork:
        """Reset ``net``'s BN running statistics and re-estimate them in place (cumulative average,
        train mode, no gradient) on ``bn_recalibration_batches`` fixed w-train batches: the relaxed
        statistics were gathered on mixed inputs that a discrete cell no longer produces.

        Under torchrun each rank estimates on its share of the same batches, and the ranks'
        estimates are averaged."""
        bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        net.train()
        for b, (x, y) in enumerate(self.w_batches.iterate(0)):
            if b >= self.preset.bn_recalibration_batches:
                break
            net(self.to_device(x, y)[0])
        self.ranks.average_([t for bn in bns for t in (bn.running_mean, bn.running_var) if t is not None])
        return net

    def evaluate(self) -> dict[str, float]:
        """Test accuracy of the search weights (Table 2): relaxed, discrete with the mixing weights kept,
        discrete (paper), discrete with BN re-estimated."""
        discrete = self.discrete_network()
        return {
            "test_acc_relaxed": self.test_accuracy(self.net),
            "test_acc_discrete_weights_kept": self.test_accuracy(self.discrete_network(keep_mixing_weights=True)),
            "test_acc_discrete": self.test_accuracy(discrete),
            "test_acc_discrete_bn_reestimated": self.test_accuracy(self.reestimate_batchnorm(discrete)),
        }

    # -- the loop's hooks ----------------------------------------------------------------------------
    def start_message(self) -> str:
        p = self.preset
        return (
            f"SDAS search: schedule {self.schedule_name}, task {p.task}, preset {p.name}, op set {p.op_set}, "
            f"seed {self.seed}, device {self.device}\n  data: {self.data.description}\n  {self.space}\n"
            f"  T = {self.T} iterations ({p.epochs} epochs x {self.iters_per_epoch}"
            f"{f' - a weight-only warm-up of {self.W} first' if self.W else ''}), "
            f"{count_valid_architectures(self.state):.4g} valid architectures"
        )

    def epoch_summary(self, seconds: float) -> tuple[dict, str]:
        p, r = self.preset, self.running
        self.w_sched.step()
        # An evaluation saved by an older version (a checkpoint between the last iteration and the epoch
        # close) lacks the newer columns: NaN.
        acc = {**dict.fromkeys(SEARCH_ACCURACIES, float("nan")), **(self.evaluation or {})}
        self.evaluation = None
        row = {
            "epoch": self.epoch + 1, "iteration": self.t,
            "train_loss": r["train_loss"] / max(r["n"], 1), "train_acc": r["train_acc"] / max(r["n"], 1),
            "val_loss": r["val_loss"] / r["n_val"] if r["n_val"] else float("nan"),
            "val_acc": r["val_acc"] / r["n_val"] if r["n_val"] else float("nan"),
            **acc,
            "decisions": self.state.n_done, "valid_architectures": count_valid_architectures(self.state),
            "w_lr": self.w_opt.param_groups[0]["lr"], "seconds": round(seconds, 3),
        }
        line = (
            f"epoch {row['epoch']}/{p.epochs} it {self.t}: train loss {row['train_loss']:.4f} acc "
            f"{row['train_acc']:.3f} | val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f} | test relaxed "
            f"{acc['test_acc_relaxed']:.3f} discrete {acc['test_acc_discrete']:.3f} (weights kept "
            f"{acc['test_acc_discrete_weights_kept']:.3f}, BN re-estimated "
            f"{acc['test_acc_discrete_bn_reestimated']:.3f}) | decided {self.state.n_done}/{self.M}, "
            f"{row['valid_architectures']:.4g} valid architectures left | {seconds:.1f}s"
        )
        return row, line

    # -- outputs -------------------------------------------------------------------------------
    def history_document(self) -> dict:
        return history_document(
            self.space, self.state.history, self.arch_before_decisions,
            schedule=self.schedule_name, seed=self.seed, preset=self.preset.name,
            dataset=self.data.description, T=self.T, warmup_iterations=self.W, first_decision=self.first_decision,
            epochs=self.preset.epochs,
        )

    def write_outputs(self) -> None:
        genotype = self.state.genotype()
        self.log(f"done in {self.elapsed:.1f}s on {self.data.name}\n{genotype}")
        if self.out_dir is None:
            return

        def write() -> None:  # rank 0 alone
            self.write_metrics()
            self.write_iteration_times()
            atomic_write_json(self.out_dir / "decisions.json", self.history_document())
            genotype.save(self.out_dir / "genotype.json")

        self.ranks.from_main(write)
        self.save_checkpoint()
        self.log(f"wrote {self.out_dir}/genotype.json, decisions.json, metrics.csv")

    def write_iteration_times(self) -> None:
        """iterations.csv: each iteration's cost (w step + α/β step + decisions, evaluation excluded)
        with the decisions made before it, in wall seconds and in CPU seconds of this process (all its
        threads: core-seconds), the machine's 1-minute load average at that moment (a load above the cores,
        ``os.cpu_count()`` in the header comment, means the run shared the CPU: wall seconds grow then, CPU
        seconds barely do, so the report judges cost on them) and ``warmup``: 1 for a weight-only warm-up
        iteration, 0 for a scheduled one."""
        lines = [f"# cpu_count={os.cpu_count()} threads={torch.get_num_threads()}",
                 "iteration,decisions_before,seconds,load_average,cpu_seconds,warmup"]
        lines += [f"{t},{n},{sec:.6f},{load:.2f},{cpu:.6f},{int(self.in_warmup(t))}"
                  for t, n, sec, load, cpu in self.iteration_seconds]
        atomic_write_text(self.out_dir / "iterations.csv", "\n".join(lines) + "\n")

    def result(self) -> SearchResult:
        return SearchResult(self.state.genotype(), list(self.state.history), list(self.metrics), self.data.description, self.elapsed, self.out_dir)

    # -- checkpoints ---------------------------------------------------------------------------
    def model_state(self) -> dict:
        return {
            "net": self.net.state_dict(), "w_opt": self.w_opt.state_dict(), "a_opt": self.a_opt.state_dict(),
            "w_sched": self.w_sched.state_dict(), "history": [d.to_dict() for d in self.state.history],
            "arch_snapshot": self.arch_snapshot, "arch_before_decisions": self.arch_before_decisions,
            "evaluation": self.evaluation,  # measured in the epoch's last iteration, logged at its close
            "iteration_seconds": [list(row) for row in self.iteration_seconds],
            "recent_train_acc": list(self.recent_train_acc), "first_decision": self.first_decision,
        }

    def load_model_state(self, ckpt: dict) -> None:
        self.state = DiscretizationState.from_history(self.space, ckpt["history"])
        self.net.sync(self.state)  # prune first: the saved weights are the pruned network's
        self._ddp = None
        self.net.load_state_dict(ckpt["net"])
        self.w_opt = self._make_w_opt()
        self.w_opt.load_state_dict(ckpt["w_opt"])
        self.a_opt.load_state_dict(ckpt["a_opt"])
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=self.preset.epochs, eta_min=self.preset.w_lr_min)
        self.w_sched.load_state_dict(ckpt["w_sched"])
        self.arch_snapshot = ckpt["arch_snapshot"]
        self.arch_before_decisions = ckpt["arch_before_decisions"]
        self.evaluation = ckpt["evaluation"]
        # checkpoints written before the CPU-seconds column have 4-tuples: their CPU time is unknown (NaN)
        self.iteration_seconds = [tuple(row) + (float("nan"),) * (5 - len(row)) for row in ckpt["iteration_seconds"]]
        # Checkpoints written before the first decision was recorded lack these: an empty window
        # (the first decision's accuracy then averages the iterations after the resume) and none yet.
        self.recent_train_acc = list(ckpt.get("recent_train_acc", []))
        self.first_decision = ckpt.get("first_decision")


def read_iteration_times(folder: str | os.PathLike) -> tuple[list[dict], int | None]:
    """A run folder's iterations.csv as rows of numbers, and the machine's core count it recorded.

    Files written before the ``cpu_seconds`` column existed read with ``cpu_seconds`` NaN."""
    import csv

    path = Path(folder) / "iterations.csv"
    if not path.is_file():
        raise SdasError(f"{str(path)!r} does not exist; a search run writes it when it finishes")
    lines = path.read_text().splitlines()
    cpus = None
    if lines and lines[0].startswith("#"):
        cpus = int(dict(kv.split("=") for kv in lines[0][1:].split())["cpu_count"])
        lines = lines[1:]
    rows = [{"cpu_seconds": float("nan"), **{k: float(v) for k, v in row.items()}} for row in csv.DictReader(lines)]
    for row in rows:  # written before the warm-up existed: every iteration was scheduled
        row.setdefault("warmup", 0.0)
    return rows, cpus


def run_search(preset: SearchPreset, schedule: str = "A", seed: int = 0, **kwargs) -> SearchResult:
    """Convenience: ``Searcher(preset, schedule, seed, **kwargs).run()``."""
    return Searcher(preset, schedule, seed, **kwargs).run()


__all__ = [
    "Searcher", "SearchResult", "run_search", "image_space", "search_space", "search_layout", "read_iteration_times",
    "METRIC_FIELDS",
]
