"""Retraining: a found genotype's evaluation network trained from scratch (§6.1, Tables 4–6).

One loop for every image network (and, later, video): SGD with momentum, a cosine or an
exponential learning rate per epoch, gradient clipping, cutout, drop path ramped linearly from 0
to ``drop_path`` over the epochs, the auxiliary tower's loss weighted by ``auxiliary_weight``,
optional label smoothing. It mirrors :mod:`sdas_lib.run.search`: deterministic, resumable batches
(:class:`~sdas_lib.data.EpochBatches`) and atomic checkpoints holding the weights, the optimizer,
the lr schedule position, the batch position and the random state (drop path, cutout), so a run
killed at any moment and resumed ends with the same weights and metrics as one never interrupted.

A run folder holds config.json, log.txt, genotype.json (the genotype used), metrics.csv (per epoch),
checkpoint.pt (plus checkpoint.prev.pt), and at the end weights.pt and result.json.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .. import __version__
from ..core.genotype import Genotype, resolve_genotype
from ..data import EpochBatches, ImageData, cutout_batch, iterate_dataset, load_image_data
from ..errors import SdasError
from ..files import atomic_write_json
from ..nets.complexity import count_mult_adds, count_parameters, human
from ..nets.evalnet import EvalNetwork, build_network, get_network
from .checkpoints import atomic_torch_save
from .faults import kill_point
from .loop import RunLoop
from .presets import TrainPreset, check_train_preset

METRIC_FIELDS = (
    "epoch", "iteration", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "drop_path", "seconds",
)


@dataclass
class TrainResult:
    """What a retraining run produced; also written to result.json."""

    genotype: Genotype
    test_acc: float
    test_loss: float
    metrics: list[dict]
    params: int          # without the auxiliary head
    mult_adds: int       # one input at the data set's resolution, conv + linear
    dataset: str
    seconds: float
    out_dir: Path | None


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
        if isinstance(genotype, Genotype):
            genotype = Genotype.from_dict(genotype.to_dict(), cell_types=self.spec.cell_types, k=None, op_set=preset.op_set)
        else:
            genotype = resolve_genotype(genotype, cell_types=self.spec.cell_types, k=None, op_set=preset.op_set)
        self.genotype = genotype
        super().__init__(preset, seed, device, progress, log)
        self.data = data or load_image_data(preset.dataset, preset.data_root, preset.resolution, cutout=preset.cutout)
        self.batches = EpochBatches(
            self.data.train, range(len(self.data.train)), preset.batch_size, seed, preset.num_workers, "training set"
        )
        self.iters_per_epoch = len(self.batches)
        self.T = preset.epochs * self.iters_per_epoch
        self._build()  # before touching out_dir: a config error leaves nothing behind
        self.open_run_folder(out_dir, resume, force)

    def write_start_files(self) -> None:
        """What a fresh run folder gets besides config.json: the genotype it trains."""
        self.genotype.save(self.out_dir / "genotype.json")

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.preset
        torch.manual_seed(self.seed)
        net = build_network(
            p.network, self.genotype, K=p.K, C1=p.C1, C2=p.C2, num_classes=self.data.num_classes,
            in_channels=self.data.in_channels, auxiliary=p.auxiliary_weight > 0,
        )
        self.input_shape = self.data.input_shape
        self.params = count_parameters(net, exclude_auxiliary=True)
        try:
            self.mult_adds = count_mult_adds(net, self.input_shape)  # one forward pass on a zero input
        except RuntimeError as err:
            raise SdasError(
                f"--resolution {self.data.resolution} does not fit the {p.network!r} network: its reductions "
                f"need sizes that halve evenly ({str(err).splitlines()[0][:120]}); try its default "
                f"--resolution {self.spec.resolution}"
            ) from None
        self.net: EvalNetwork = self.model_to_device(net, 1 + len(self.input_shape))
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
            "preset": asdict(self.preset), "seed": self.seed, "genotype": self.genotype.to_dict(),
            "genotype_str": str(self.genotype), "dataset": self.data.description,
            "network": self.preset.network, "params": self.params, "mult_adds": self.mult_adds,
            "input_shape": list(self.input_shape), "T": self.T,
            "sdas_lib": __version__, "torch": torch.__version__, "python": platform.python_version(),
        }

    # -- one iteration ---------------------------------------------------------------------------
    def drop_path_prob(self, epoch: int) -> float:
        """Linear ramp: 0 in the first epoch, drop_path · epoch / epochs after (DARTS)."""
        return self.preset.drop_path * epoch / self.preset.epochs

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """One SGD step on a batch; returns (loss, number correct)."""
        p = self.preset
        self.net.train()
        logits, aux = self.net(x, return_aux=True)  # (N, classes), (N, classes) or None
        loss = self.train_loss(logits, y)
        if aux is not None:
            loss = loss + p.auxiliary_weight * self.train_loss(aux, y)
        self.check_finite(loss, "training", "--lr")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), p.grad_clip)
        self.opt.step()
        return loss.item(), int((logits.argmax(1) == y).sum().item())

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """(test loss, test accuracy) of the network in eval mode (no auxiliary head, no drop path)."""
        self.net.eval()
        loss_sum, correct, total = 0.0, 0, 0
        for x, y in iterate_dataset(self.data.test, self.preset.eval_batch_size, self.preset.num_workers):
            x, y = self.to_device(x, y)
            logits = self.net(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum().item())
            total += len(y)
        return loss_sum / max(total, 1), correct / max(total, 1)

    # -- the loop's hooks ----------------------------------------------------------------------------
    def start_message(self) -> str:
        p = self.preset
        return (
            f"retrain: network {p.network}, preset {p.name}, seed {self.seed}, device {self.device}\n"
            f"  data: {self.data.description}\n"
            f"  {str(self.genotype).replace(chr(10), chr(10) + '  ')}\n"
            f"  K={p.K} C1={p.C1} C2={p.C2}: {self.params:,} parameters (without auxiliary head), "
            f"{human(self.mult_adds)} mult-adds at {'x'.join(map(str, self.input_shape))}\n"
            f"  T = {self.T} iterations ({p.epochs} epochs x {self.iters_per_epoch}), lr {p.lr} {p.lr_schedule}, "
            f"cutout {p.cutout}, drop path {p.drop_path}, auxiliary weight {p.auxiliary_weight}"
        )

    def begin_epoch(self) -> None:
        self.net.drop_path_prob = self.drop_path_prob(self.epoch)

    def epoch_batches(self, epoch: int, pos: int):
        return self.batches.iterate(epoch, pos)

    def train_iteration(self, batch) -> dict:
        x, y = batch
        if self.data.in_memory and self.preset.cutout > 0:
            x = cutout_batch(x, self.preset.cutout)  # file-backed sets do it in their transforms
        loss, correct = self.step(*self.to_device(x, y))
        kill_point("iteration", self.t)  # test hook; see sdas_lib.run.faults
        r = self.running
        r["loss"] += loss * len(y)
        r["correct"] += correct
        r["seen"] += len(y)
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
            "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "drop_path": self.net.drop_path_prob,
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

    def write_outputs(self) -> None:
        test_loss, test_acc = self._final_test()
        self.log(f"done in {self.elapsed:.1f}s on {self.data.name}: test accuracy {test_acc:.4f} (loss {test_loss:.4f})")
        if self.out_dir is None:
            return
        self.write_metrics()
        atomic_torch_save(self.out_dir / "weights.pt", self.net.state_dict())
        atomic_write_json(self.out_dir / "result.json", self.result_document())
        self.save_checkpoint()
        self.log(f"wrote {self.out_dir}/weights.pt, result.json, metrics.csv")

    def result_document(self) -> dict:
        test_loss, test_acc = self._final_test()
        return {
            "test_acc": test_acc, "test_loss": test_loss, "epochs": self.preset.epochs, "iterations": self.t,
            "seconds": round(self.elapsed, 3), "preset": self.preset.name, "seed": self.seed,
            "network": self.preset.network, "K": self.preset.K, "C1": self.preset.C1, "C2": self.preset.C2,
            "params": self.params, "mult_adds": self.mult_adds, "input_shape": list(self.input_shape),
            "dataset": self.data.description, "genotype": str(self.genotype), "device": str(self.device),
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
        return {"genotype": self.genotype.to_dict()}

    def load_model_state(self, ckpt: dict) -> None:
        self.net.load_state_dict(ckpt["net"])
        self.opt.load_state_dict(ckpt["opt"])
        self.sched.load_state_dict(ckpt["sched"])


def run_training(preset: TrainPreset, genotype: Genotype | str, seed: int = 0, **kwargs) -> TrainResult:
    """Convenience: ``Trainer(preset, genotype, seed, **kwargs).run()``."""
    return Trainer(preset, genotype, seed, **kwargs).run()


__all__ = ["Trainer", "TrainResult", "run_training", "METRIC_FIELDS"]
