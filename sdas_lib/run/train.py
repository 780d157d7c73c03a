"""Retraining: a found genotype's evaluation network trained from scratch (§6.1, Tables 4–6).

One loop for every network, image or video: SGD with momentum, a cosine or an exponential learning
rate per epoch, gradient clipping, cutout (images), drop path ramped linearly from 0 to
``drop_path`` over the epochs, the auxiliary tower's loss weighted by ``auxiliary_weight``,
optional label smoothing. For video (a :class:`~sdas_lib.run.presets.VideoTrainPreset`) the network
is the video one (three cell types, Fig. 5c), the data are clips, and the test accuracy of a video
of several test clips is that of the mean of their softmax scores (§5.2).

It mirrors :mod:`sdas_lib.run.search`: deterministic, resumable batches
(:class:`~sdas_lib.data.EpochBatches`) and atomic checkpoints holding the weights, the optimizer,
the lr schedule position, the batch position and the random state (drop path, cutout), so a run
killed at any moment and resumed ends with the same weights and metrics as one never interrupted.

Under torchrun (:mod:`sdas_lib.run.distributed`) each rank trains on its share of every batch in
DistributedDataParallel (gradients averaged over the ranks) with its own random stream for drop
path and cutout; the test set is split over the ranks and the counts summed.

:class:`Trainer` retrains a genotype; :class:`BaselineTrainer` trains a hand-crafted video baseline
(Fig. 10, Table 8) with the same loop: the two differ only in the network they build and describe.

A run folder holds config.json, log.txt, genotype.json (the genotype used; not for a baseline),
metrics.csv (per epoch), checkpoint.pt (plus checkpoint.prev.pt), and at the end weights.pt and result.json.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from .. import __version__
from ..core.genotype import Genotype, resolve_genotype
from ..core.opsets import STORED_NAMES, op_set_info
from ..data import EpochBatches, ImageData, cutout_batch
from ..errors import SdasError
from ..files import atomic_write_json
from ..nets.complexity import count_mult_adds, count_parameters, human
from ..nets.baselines import BASELINES, build_baseline
from ..nets.evalnet import EvalNetwork, build_network, get_network
from .checkpoints import atomic_torch_save
from .faults import kill_point
from .inputs import clips_per_test_sample, iterate_test_set, load_run_data, score_test_batch, summed_test_loss
from .loop import RunLoop
from .presets import TrainPreset, check_train_preset

METRIC_FIELDS = (
    "epoch", "iteration", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_path", "seconds",
)


@dataclass
class TrainResult:
    """What a retraining run produced; also written to result.json."""

    genotype: Genotype | None  # None for a hand-crafted baseline
    test_acc: float
    test_loss: float
    metrics: list[dict]
    params: int          # without the auxiliary head
    mult_adds: int       # one input (image or clip) at the data set's size, conv + linear
    dataset: str
    seconds: float
    out_dir: Path | None


def task_genotype(
    genotype: Genotype | str | os.PathLike, task: str, cell_types, op_set: str | None = None,
    where: str | None = None, fix: str | None = None,
) -> Genotype:
    """``genotype`` (a value, a reference name or a genotype.json) validated for ``task``'s network.

    Args:
        task: ``"image"`` or ``"video"``: the genotype's op set must have 2D or 3D ops.
        cell_types: the network's cell types, in order. op_set: the op set it must use (None: any).
        where, fix: what needs the genotype and how to mend a genotype of the other task, for the
            error message (default: ``--task <task>`` and the train command's fix).
    """
    def load(**kwargs) -> Genotype:
        if isinstance(genotype, Genotype):
            return Genotype.from_dict(genotype.to_dict(), k=None, **kwargs)
        return resolve_genotype(genotype, k=None, **kwargs)

    g = load()
    ndim, want = op_set_info(g.op_set).ndim, 3 if task == "video" else 2
    if ndim != want and g.op_set in STORED_NAMES.values():  # a real set of the other task: say so
        name = genotype if isinstance(genotype, (str, os.PathLike)) else "the genotype"
        kind = "an image" if ndim == 2 else "a video"
        if fix is None:
            fix = ("search one with 'search --task video', or retrain this one with --task image" if task == "video"
                   else "retrain it with --task video")
        raise SdasError(
            f"{str(name)!r} is {kind} genotype (op set {g.op_set!r}, cells {', '.join(g.cell_types)}) but "
            f"{where or f'--task {task}'} needs {'a video' if want == 3 else 'an image'} one "
            f"(cells {', '.join(cell_types)}); {fix}"
        )
    return load(cell_types=cell_types, op_set=op_set)


class Trainer(RunLoop):
    """Retrain ``genotype`` from scratch with ``preset``; :meth:`run` executes (or resumes) it.

    Args:
        preset: a :class:`~sdas_lib.run.presets.TrainPreset` (``TRAIN_TINY``, ``TRAIN_PAPER``, ...).
        genotype: a :class:`Genotype`, a reference name (``"darts_v2"``) or a genotype.json path.
        seed: seeds weight init, data order, cutout and drop path.
        device: where to compute (``"cpu"``, ``"cuda"``); nothing is hard-coded.
        out_dir: run folder, or None to keep everything in memory.
        resume / force: continue the run in ``out_dir`` / replace it.
        progress: show a tqdm progress bar.
        log: where log lines go besides log.txt (default: print).
        data: an already loaded :class:`ImageData` (default: load ``preset.dataset``).
    """

    METRIC_FIELDS = METRIC_FIELDS
    CHECKPOINT_FORMAT = "sdas-train-checkpoint"
    CHECKPOINT_VERSION = 1
    VOLATILE_FIELDS = RunLoop.VOLATILE_FIELDS + ("eval_batch_size", "channels_last")
    progress_label = "retrain"

    def __init__(
        self, preset: TrainPreset, genotype: Genotype | str | os.PathLike, seed: int = 0,
        device: str | torch.device = "cpu", out_dir: str | os.PathLike | None = None, resume: bool = False,
        force: bool = False, progress: bool = True, log: Callable[[str], None] | None = None,
        data: ImageData | None = None,
    ):
        check_train_preset(preset)
        self.spec = get_network(preset.network)
        self.genotype = task_genotype(genotype, preset.task, self.spec.cell_types, preset.op_set or None)
        self._start(preset, seed, device, out_dir, resume, force, progress, log, data)

    def _start(self, preset, seed, device, out_dir, resume, force, progress, log, data) -> None:
        """Load the data, build the network and open the run folder (after the model is known)."""
        super().__init__(preset, seed, device, progress, log)
        self.data = data or self.ranks.local_first(lambda: load_run_data(preset, cutout=preset.cutout))
        self.batches = EpochBatches(
            self.data.train, range(len(self.data.train)), preset.batch_size, seed, preset.num_workers, "training set",
            (self.ranks.rank, self.ranks.world),
        )
        self.iters_per_epoch = len(self.batches)
        self.T = preset.epochs * self.iters_per_epoch
        self._build()  # before touching out_dir: a config error leaves nothing behind
        self.open_run_folder(out_dir, resume, force)

    def write_start_files(self) -> None:
        """What a fresh run folder gets besides config.json: the genotype it trains."""
        self.genotype.save(self.out_dir / "genotype.json")

    # -- the model: what a subclass changes --------------------------------------------------------
    def build_model(self) -> torch.nn.Module:
        """The network to train, freshly initialized (under the run's seed)."""
        p = self.preset
        return build_network(
            p.network, self.genotype, K=p.K, C1=p.C1, C2=p.C2, num_classes=self.data.num_classes,
            in_channels=self.data.in_channels, auxiliary=p.auxiliary_weight > 0,
        )

    def size_error(self, err: RuntimeError) -> SdasError:
        """The error for an input the network cannot take (its forward pass raised ``err``)."""
        return SdasError(
            f"--resolution {self.data.resolution} does not fit the {self.preset.network!r} network: its reductions "
            f"need sizes that halve evenly ({str(err).splitlines()[0][:120]}); try its default "
            f"--resolution {self.spec.resolution}"
        )

    def model_document(self) -> dict:
        """What identifies the model, for config.json and result.json."""
        p = self.preset
        return {"network": p.network, "K": p.K, "C1": p.C1, "C2": p.C2, "genotype": str(self.genotype)}

    def model_description(self) -> str:
        """The start message's lines about the model."""
        p = self.preset
        return f"  {str(self.genotype).replace(chr(10), chr(10) + '  ')}\n  K={p.K} C1={p.C1} C2={p.C2}"

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, auxiliary logits or None) of a training batch."""
        return self.train_net(x, return_aux=True)  # (N, classes), (N, classes) or None

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.preset
        torch.manual_seed(self.seed)
        net = self.build_model()
        self.input_shape = self.data.input_shape
        self.params = count_parameters(net, exclude_auxiliary=True)
        try:
            self.mult_adds = count_mult_adds(net, self.input_shape)  # one forward pass on a zero input
        except RuntimeError as err:
            raise self.size_error(err) from None
        self.net: torch.nn.Module = self.model_to_device(net, 1 + len(self.input_shape))
        self.train_net = self.ranks.wrap(self.net)  # DDP under torchrun: gradients averaged over the ranks
        self.seed_rank()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)
        self.sched = self._make_scheduler()
        self.train_loss = torch.nn.CrossEntropyLoss(label_smoothing=p.label_smoothing)

    def _make_scheduler(self):
        p = self.preset
        if p.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=p.epochs, eta_min=p.lr_min)
        return torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=p.lr_gamma)  # ImageNet: ×0.97 per epoch

    def zero_running(self) -> dict:
        return {"loss": 0.0, "correct": 0, "seen": 0}

    def config(self) -> dict:
        """What defines the run; a resume must match it."""
        return {
            "preset": asdict(self.preset), "task": self.preset.task, "seed": self.seed, **self.model_config(),
            "dataset": self.data.description, "params": self.params, "mult_adds": self.mult_adds,
            "input_shape": list(self.input_shape), "T": self.T,
            "sdas_lib": __version__, "torch": torch.__version__, "python": platform.python_version(),
            **self.ranks.describe(),
        }

    def model_config(self) -> dict:
        """The model's part of config.json."""
        return {"genotype": self.genotype.to_dict(), "genotype_str": str(self.genotype), "network": self.preset.network}

    # -- one iteration ---------------------------------------------------------------------------
    def drop_path_prob(self, epoch: int) -> float:
        """Linear ramp: 0 in the first epoch, drop_path · epoch / epochs after (DARTS)."""
        return self.preset.drop_path * epoch / self.preset.epochs

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, int, int]:
        """One SGD step on a batch; returns (this batch's loss, and over the ranks: summed loss,
        number correct, number seen)."""
        p = self.preset
        self.net.train()
        logits, aux = self.forward_train(x)
        loss = self.train_loss(logits, y)
        if aux is not None:
            loss = loss + p.auxiliary_weight * self.train_loss(aux, y)
        value = loss.item()
        loss_sum, correct, seen = self.ranks.sum_values(value * len(y), int((logits.argmax(1) == y).sum().item()), len(y))
        self.check_finite(loss_sum, "training", "--lr")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # under torchrun DDP averages the gradients over the ranks here
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), p.grad_clip)
        self.opt.step()
        return value, loss_sum, int(correct), int(seen)

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """(test loss, test accuracy) of the network in eval mode (no auxiliary head, no drop path).

        A video of several test clips is scored by the mean of their softmax scores (§5.2); its loss
        is the cross-entropy of that mean. Under torchrun each rank scores its share of the test set
        with rank 0's BN statistics, and the sums are added up.
        """
        self.ranks.broadcast_buffers(self.net)
        self.net.eval()
        loss_sum, correct, total = 0.0, 0, 0
        multi_clip = clips_per_test_sample(self.data) > 1
        shard = (self.ranks.rank, self.ranks.world)
        for x, y in iterate_test_set(self.data, self.preset.eval_batch_size, self.preset.num_workers, shard):
            scores, probabilities = score_test_batch(self.net, x, multi_clip, self.input_to_device)
            y = y.to(scores.device)
            loss_sum += summed_test_loss(scores, probabilities, y)
            correct += int((scores.argmax(1) == y).sum().item())
            total += len(y)
        loss_sum, correct, total = self.ranks.sum_values(loss_sum, correct, total)
        return loss_sum / max(total, 1), correct / max(total, 1)

    # -- the loop's hooks ----------------------------------------------------------------------------
    def start_message(self) -> str:
        p = self.preset
        return (
            f"retrain: network {self.model_document()['network']}, task {p.task}, preset {p.name}, seed {self.seed}, "
            f"device {self.device}\n"
            f"  data: {self.data.description}\n"
            f"{self.model_description()}: {self.params:,} parameters (without auxiliary head), "
            f"{human(self.mult_adds)} mult-adds at {'x'.join(map(str, self.input_shape))}\n"
            f"  T = {self.T} iterations ({p.epochs} epochs x {self.iters_per_epoch}), lr {p.lr} {p.lr_schedule}, "
            f"cutout {p.cutout}, drop path {p.drop_path}, auxiliary weight {p.auxiliary_weight}"
        )

    def begin_epoch(self) -> None:
        if isinstance(self.net, EvalNetwork):  # the baselines have no drop path
            self.net.drop_path_prob = self.drop_path_prob(self.epoch)

    def epoch_batches(self, epoch: int, pos: int):
        return self.batches.iterate(epoch, pos)

    def train_iteration(self, batch) -> dict:
        x, y = batch
        if self.data.in_memory and self.preset.cutout > 0:
            x = cutout_batch(x, self.preset.cutout)  # file-backed sets do it in their transforms
        loss, loss_sum, correct, seen = self.step(*self.to_device(x, y))
        kill_point("iteration", self.t)  # test hook; see sdas_lib.run.faults
        r = self.running
        r["loss"] += loss_sum
        r["correct"] += correct
        r["seen"] += seen
        return {"epoch": self.epoch + 1, "loss": f"{loss:.3f}"}

    def epoch_summary(self, seconds: float) -> tuple[dict, str]:
        p, r = self.preset, self.running
        lr = self.opt.param_groups[0]["lr"]  # the rate this epoch used
        self.sched.step()
        last = self.epoch + 1 == p.epochs
        test_loss = test_acc = float("nan")
        if (self.epoch + 1) % p.eval_every == 0 or last:
            test_loss, test_acc = self.evaluate()
        row = {
            "epoch": self.epoch + 1, "iteration": self.t,
            "train_loss": r["loss"] / max(r["seen"], 1), "train_acc": r["correct"] / max(r["seen"], 1),
            "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "drop_path": getattr(self.net, "drop_path_prob", 0.0),
            "seconds": round(seconds, 3),
        }
        line = (
            f"epoch {row['epoch']}/{p.epochs} it {self.t}: train loss {row['train_loss']:.4f} acc "
            f"{row['train_acc']:.3f} | test loss {test_loss:.4f} acc {test_acc:.3f} | lr {lr:.4g} "
            f"drop path {row['drop_path']:.3f} | {seconds:.1f}s"
        )
        return row, line

    # -- outputs ---------------------------------------------------------------------------------
    def _final_test(self) -> tuple[float, float]:
        for row in reversed(self.metrics):
            if row["test_acc"] == row["test_acc"]:  # not NaN
                return row["test_loss"], row["test_acc"]
        return float("nan"), float("nan")

    def _final_train_acc(self) -> float:
        """The last epoch's running train accuracy (over its batches, in train mode): evidence the net learns."""
        return self.metrics[-1]["train_acc"] if self.metrics else float("nan")

    def write_outputs(self) -> None:
        test_loss, test_acc = self._final_test()
        self.log(f"done in {self.elapsed:.1f}s on {self.data.name}: test accuracy {test_acc:.4f} (loss {test_loss:.4f})")
        if self.out_dir is None:
            return

        def write() -> None:  # rank 0 alone
            self.write_metrics()
            atomic_torch_save(self.out_dir / "weights.pt", self.net.state_dict())
            atomic_write_json(self.out_dir / "result.json", self.result_document())

        self.ranks.from_main(write)
        self.save_checkpoint()
        self.log(f"wrote {self.out_dir}/weights.pt, result.json, metrics.csv")

    def result_document(self) -> dict:
        test_loss, test_acc = self._final_test()
        return {
            "test_acc": test_acc, "test_loss": test_loss, "train_acc": self._final_train_acc(), "epochs": self.preset.epochs, "iterations": self.t,
            "seconds": round(self.elapsed, 3), "preset": self.preset.name, "task": self.preset.task, "seed": self.seed,
            **self.model_document(),
            "params": self.params, "mult_adds": self.mult_adds, "input_shape": list(self.input_shape),
            "test_clips": clips_per_test_sample(self.data), "num_classes": self.data.num_classes,
            "dataset": self.data.description, "device": str(self.device),
        }

    def result(self) -> TrainResult:
        test_loss, test_acc = self._final_test()
        return TrainResult(
            self.genotype, test_acc, test_loss, list(self.metrics), self.params, self.mult_adds,
            self.data.description, self.elapsed, self.out_dir,
        )

    # -- checkpoints -----------------------------------------------------------------------------
    def model_state(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "sched": self.sched.state_dict()}

    def resume_key_extra(self) -> dict:
        return self.key_extra(self.genotype)

    @staticmethod
    def key_extra(genotype) -> dict:
        return {"genotype": genotype.to_dict()}

    def load_model_state(self, ckpt: dict) -> None:
        self.net.load_state_dict(ckpt["net"])
        self.opt.load_state_dict(ckpt["opt"])
        self.sched.load_state_dict(ckpt["sched"])


def run_training(preset: TrainPreset, genotype: Genotype | str, seed: int = 0, **kwargs) -> TrainResult:
    """Convenience: ``Trainer(preset, genotype, seed, **kwargs).run()``."""
    return Trainer(preset, genotype, seed, **kwargs).run()


# ----------------------------------------------------------------------------------------------
# Hand-crafted video baselines (Fig. 10, Table 8) with the same loop.


class BaselineTrainer(Trainer):
    """Train a hand-crafted video baseline (:func:`~sdas_lib.nets.baselines.build_baseline`: a
    torchvision ResNet/ResNeXt inflated to clips, Fig. 10) from scratch with the retraining loop.

    Everything but the network is :class:`Trainer`'s: data, SGD and its schedule, checkpoints and
    resume, the multi-clip test accuracy, run folder and result.json (with ``arch`` and
    ``width_divisor`` in place of the genotype and K, C1, C2).

    Args:
        preset: a :class:`~sdas_lib.run.presets.VideoTrainPreset` (``VIDEO_TRAIN_TINY``, ...); its
            network fields (network, op_set, K, C1, C2) are not used, and drop path must be 0.
        arch: one of :data:`~sdas_lib.nets.baselines.BASELINES` (``"res50-3d"``, case-insensitive).
        width_divisor: divides every layer's width (4 in Table 8).
        seed, device, out_dir, resume, force, progress, log, data: as :class:`Trainer`.
    """

    CHECKPOINT_FORMAT = "sdas-baseline-checkpoint"
    progress_label = "baseline"

    def __init__(
        self, preset: TrainPreset, arch: str, width_divisor: int = 1, seed: int = 0,
        device: str | torch.device = "cpu", out_dir: str | os.PathLike | None = None, resume: bool = False,
        force: bool = False, progress: bool = True, log: Callable[[str], None] | None = None,
        data: ImageData | None = None,
    ):
        if preset.task != "video":
            raise SdasError("the baselines are video networks (Fig. 10); give a video retraining preset (VIDEO_TRAIN_TINY, ...)")
        check_train_preset(preset)
        key = str(arch).lower()
        if key not in BASELINES:
            raise SdasError(f"unknown baseline {arch!r}; choose one of: {', '.join(repr(b) for b in BASELINES)}")
        if isinstance(width_divisor, bool) or not isinstance(width_divisor, int) or width_divisor < 1:
            raise SdasError(f"--width must be a positive integer (the divisor of every layer's width, 4 in Table 8), got {width_divisor!r}")
        if preset.drop_path:
            raise SdasError(f"--drop_path {preset.drop_path}: the baselines have no drop path; use 0")
        if preset.clip_len < 4:
            raise SdasError(
                f"--clip_len {preset.clip_len}: the baselines halve T twice with temporal max pools (Fig. 10); "
                f"give at least 4 frames"
            )
        with torch.device("meta"):  # a width the layers cannot be divided by is refused before any data loads
            build_baseline(key, 2, width_divisor)
        self.arch, self.width_divisor = key, width_divisor
        self.genotype, self.spec = None, None
        self._start(preset, seed, device, out_dir, resume, force, progress, log, data)

    def build_model(self) -> torch.nn.Module:
        return build_baseline(self.arch, self.data.num_classes, self.width_divisor)

    def size_error(self, err: RuntimeError) -> SdasError:
        clip = "x".join(map(str, self.data.input_shape[1:]))
        return SdasError(
            f"clip {clip} (TxHxW) does not fit {self.arch} ({str(err).splitlines()[0][:120]}); "
            f"try larger clips (--clip_len, --resolution)"
        )

    def model_document(self) -> dict:
        return {"network": "baseline", "arch": self.arch, "width_divisor": self.width_divisor}

    def model_config(self) -> dict:
        return self.model_document()

    def model_description(self) -> str:
        temporal = ", a parallel 3x1x1 conv beside each spatial conv" if self.arch.endswith("3d") else ""
        return (
            f"  {self.arch}, every width / {self.width_divisor} (Fig. 10: 1xkxk convs{temporal}, "
            f"two temporal max pools)"
        )

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.train_net(x), None  # no auxiliary head

    def write_start_files(self) -> None:
        """A baseline has no genotype.json: config.json names it."""

    def resume_key_extra(self) -> dict:
        return self.key_extra(self.arch, self.width_divisor)

    @staticmethod
    def key_extra(arch: str, width_divisor: int) -> dict:  # type: ignore[override]
        return {"arch": arch, "width_divisor": width_divisor}


def run_baseline(preset: TrainPreset, arch: str, width_divisor: int = 1, seed: int = 0, **kwargs) -> TrainResult:
    """Convenience: ``BaselineTrainer(preset, arch, width_divisor, seed, **kwargs).run()``."""
    return BaselineTrainer(preset, arch, width_divisor, seed, **kwargs).run()


__all__ = [
    "Trainer", "TrainResult", "run_training", "task_genotype", "BaselineTrainer", "run_baseline", "METRIC_FIELDS",
]
