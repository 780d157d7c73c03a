"""Presets: plain frozen dataclasses, a tiny CPU one beside the paper's.

Override a field with ``dataclasses.replace(preset, epochs=5)`` or on the CLI (``--epochs 5``).
There is no global mutable config. Each field's meaning is its ``metadata["help"]`` (see
:func:`field_help`): the one place it is written, shown by ``--help`` beside the field's flag.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from ..errors import SdasError, choices


def _field(default, help: str):
    """A preset field with its default and its meaning (``--help`` shows it for the field's flag)."""
    return dataclasses.field(default=default, metadata={"help": help})


def field_help(f: dataclasses.Field) -> str:
    """The meaning of a preset field, from its ``metadata["help"]``."""
    return f.metadata["help"]


@dataclass(frozen=True)
class SearchPreset:
    """Settings of one architecture search (paper §5.3, §6.1; DARTS for what the paper leaves out)."""

    name: str = _field("paper", "the preset's name")
    # -- data
    dataset: str = _field(
        "cifar10", 'digits, cluttered_digits (embedded); cifar10, cifar10_tiny (under data_root)'
    )
    data_root: str = _field("data", "folder of the file-backed data sets")
    resolution: int = _field(32, "input height = width, in pixels")
    train_portion: float = _field(0.5, "w-train share of the training set; the rest is α/β-val (§5.3)")
    split_seed: int = _field(0, "seed of the w-train / α/β-val split, fixed so every run sees the same split")
    # -- search space
    op_set: str = _field("o2d", "candidate operation set (o2d: the 7 DARTS image ops without none)")
    n_nodes: int = _field(4, "intermediate nodes per cell")
    k: int = _field(2, "predecessors each intermediate node keeps")
    # -- search network (Fig. 5a): K normal cells per stage, stem C1, first cell C2
    K: int = _field(2, "normal cells per stage of the search network (Fig. 5a)")
    C1: int = _field(48, "stem width (channels)")
    C2: int = _field(64, "first cell's output width (channels)")
    # -- optimization (Algorithm 1, first order)
    epochs: int = _field(50, "search epochs; the decisions are spread over their iterations")
    batch_size: int = _field(64, "images per batch (w-train and α/β-val batches alike)")
    w_lr: float = _field(0.025, "SGD learning rate of the weights, cosine-annealed per epoch to w_lr_min")
    w_lr_min: float = _field(0.0, "final learning rate of the weights' cosine schedule")
    w_momentum: float = _field(0.9, "SGD momentum of the weights")
    w_weight_decay: float = _field(3e-4, "SGD weight decay of the weights")
    grad_clip: float = _field(5.0, "largest gradient norm of the weights (clipped above)")
    arch_lr: float = _field(3e-4, "Adam learning rate of α and β")
    arch_beta1: float = _field(0.5, "Adam β1 of α and β")
    arch_beta2: float = _field(0.999, "Adam β2 of α and β")
    arch_weight_decay: float = _field(1e-3, "Adam weight decay of α and β")
    # -- evaluation and bookkeeping
    bn_recalibration_batches: int = _field(
        20, "w-train batches that re-estimate BatchNorm statistics for a discrete-mode evaluation"
    )
    eval_every: int = _field(1, "epochs between relaxed/discrete test evaluations (always after the last)")
    checkpoint_every: int = _field(200, "iterations between checkpoints (also at every epoch end)")
    channels_last: bool = _field(True, "NHWC memory format: much faster small convs with oneDNN on CPU")
    num_workers: int = _field(4, "DataLoader workers for file-backed data sets")
    threads: int = _field(0, "torch CPU threads; 0 keeps torch's default")


# The tiny preset: CPU, minutes, the embedded cluttered digits at 16×16 (plain digits saturate: every
# cell retrains to 99+%, which hides Table 4); T = 8 epochs × 11 = 88 iterations. On one thread of
# this 2-core machine DAS takes about 3 minutes, SDAS-C about 1 (figures/table4_search_and_retrain.csv).
# The per-iteration cost is per-op overhead of many small convs, not arithmetic: halving the widths
# saves 2%, so T is what sets the time; ops/blocks2d.DepthwiseConv2d and the α/β step without
# weight gradients took a fifth off it.
#
# The α/β learning rate is 100× the paper's 3e-4. With Adam, α moves by about lr per step, so 3e-4
# over 88 iterations moves α by at most ~0.03: the decision priorities are ~2e-4. At 3e-2 they are
# ~4e-2 and each decision stands well above the median of the other candidates in the queue
# (benchmarks/tiny_decisions.py, figures/tiny_decisions.png). Whether the op choices themselves
# agree across seeds is measured there too (README, "Benchmarks and figures"): on plain digits they
# agreed only as often as chance. The tiny preset demonstrates the mechanics (real α/β learning, the
# schedule, pruning, cost); a reproducible architecture needs the paper preset's data and length.
# One thread: on a 2-core machine shared with other work, OpenMP spin-waiting made these small
# convs up to 10× slower with 2 threads; alone, 2 threads gain only about 20%.
TINY = SearchPreset(
    name="tiny",
    dataset="cluttered_digits",
    resolution=16,
    K=1,
    C1=24,
    C2=32,
    epochs=8,
    batch_size=64,
    arch_lr=3e-2,
    bn_recalibration_batches=5,
    eval_every=8,  # test accuracies (Table 2) after the last epoch only: per epoch they doubled DAS's time
    checkpoint_every=20,
    num_workers=0,
    threads=1,
)

PAPER = SearchPreset()

# micro: seconds, for tests and the notebooks' smoke runs: the tiny preset's code paths with 8×8
# digits, narrow cells and one epoch of 7 iterations. Nothing it finds means anything.
MICRO = dataclasses.replace(
    TINY, name="micro", resolution=8, C1=8, C2=16, epochs=1, batch_size=96, bn_recalibration_batches=2,
    checkpoint_every=3,
)

SEARCH_PRESETS: dict[str, SearchPreset] = {"tiny": TINY, "paper": PAPER, "micro": MICRO}


def get_preset(name: str, table: dict | None = None):
    table = SEARCH_PRESETS if table is None else table
    if name not in table:
        raise SdasError(f"unknown preset {name!r}; choose one of: {choices(table)}")
    return table[name]


def override(preset, **changes):
    """``dataclasses.replace`` with type coercion and a clear error for unknown fields."""
    known = {f.name: f for f in fields(preset)}
    clean = {}
    for key, value in changes.items():
        if value is None:
            continue
        if key not in known:
            raise SdasError(f"unknown preset field {key!r}; fields are: {choices(known)}")
        clean[key] = value
    return dataclasses.replace(preset, **clean)


def check_op_set(name: str, ndim: int = 2) -> None:
    """The op set must be registered and have ``ndim``-D ops (2 for the image networks)."""
    from ..core.opsets import OP_SET_TABLE, op_set_info

    ops = op_set_info(name)  # unknown name: lists the known sets
    if ops.ndim != ndim:
        fitting = [n for n, s in OP_SET_TABLE.items() if s.ndim == ndim]
        raise SdasError(
            f"--op_set {name!r} has {ops.ndim}D ops but the image networks need {ndim}D ones; "
            f"choose one of: {choices(fitting)}"
        )


def check_search_preset(p: SearchPreset) -> None:
    """Reject impossible settings with one clear line each."""
    for name in ("epochs", "batch_size", "K", "C1", "C2", "resolution", "n_nodes", "k"):
        if getattr(p, name) < 1:
            raise SdasError(f"--{name} must be a positive integer, got {getattr(p, name)}")
    n_inputs = 2  # every cell reads the two previous cells' outputs
    if p.k > n_inputs:
        raise SdasError(
            f"--k {p.k} is larger than the {n_inputs} predecessors available to the first intermediate "
            f"node (the cell's two inputs); choose --k between 1 and {n_inputs}"
        )
    check_op_set(p.op_set)
    if p.resolution % 4:
        raise SdasError(
            f"--resolution {p.resolution} must be divisible by 4: the two reduction cells halve it with "
            f"factorized reductions that need even sizes; try --resolution {4 * max(1, round(p.resolution / 4))}"
        )
    if p.C2 % p.n_nodes:
        raise SdasError(
            f"--C2 {p.C2} must be divisible by the number of intermediate nodes ({p.n_nodes}); "
            f"try --C2 {p.n_nodes * max(1, round(p.C2 / p.n_nodes))}"
        )
    if not 0 < p.train_portion < 1:
        raise SdasError(f"--train_portion must lie strictly between 0 and 1, got {p.train_portion}")
    for name in ("w_lr", "arch_lr"):
        if getattr(p, name) <= 0:
            raise SdasError(f"--{name} must be positive, got {getattr(p, name)}")
    if p.checkpoint_every < 1 or p.eval_every < 1:
        raise SdasError("--checkpoint_every and --eval_every must be >= 1")


def preset_fields(preset_cls) -> list[dataclasses.Field]:
    return [f for f in fields(preset_cls) if f.name != "name"]


__all__ = [
    "SearchPreset", "TINY", "PAPER", "MICRO", "SEARCH_PRESETS", "get_preset", "override",
    "check_search_preset", "check_op_set", "preset_fields", "field_help",
]


# ----------------------------------------------------------------------------------------------
# Retraining presets: a found genotype trained from scratch in an evaluation network (§6.1).


@dataclass(frozen=True)
class TrainPreset:
    """Settings of one retraining run (§5.2, §6.1, ImageNet mobile §6.2; DARTS for the rest)."""

    name: str = _field("paper", "the preset's name")
    # -- data
    dataset: str = _field(
        "cifar10", 'digits, cluttered_digits (embedded); cifar10, cifar10_tiny, imagenet (under data_root)'
    )
    data_root: str = _field("data", "folder of the file-backed data sets")
    resolution: int = _field(32, "input height = width, in pixels")
    # -- evaluation network (sdas_lib.nets.evalnet.NETWORKS): K normal cells per stage, stem C1, first cell C2
    network: str = _field("cifar", "evaluation network structure: cifar or imagenet")
    op_set: str = _field("o2d", "op set the genotype must use (a 2D one for the image networks)")
    K: int = _field(6, "normal cells per stage of the evaluation network")
    C1: int = _field(108, "stem width (channels)")
    C2: int = _field(144, "first cell's output width (channels)")
    # -- optimization
    epochs: int = _field(600, "training epochs")
    batch_size: int = _field(96, "training images per batch")
    lr: float = _field(0.025, "SGD learning rate; per epoch: cosine to lr_min, or × lr_gamma (exponential)")
    lr_schedule: str = _field("cosine", '"cosine" or "exponential"')
    lr_min: float = _field(0.0, "final learning rate of the cosine schedule")
    lr_gamma: float = _field(0.97, "exponential decay of the learning rate per epoch (ImageNet)")
    momentum: float = _field(0.9, "SGD momentum")
    weight_decay: float = _field(3e-4, "SGD weight decay")
    grad_clip: float = _field(5.0, "largest gradient norm (clipped above)")
    label_smoothing: float = _field(0.0, "label smoothing of the training loss (0.1 for ImageNet)")
    # -- regularization (retraining only)
    cutout: int = _field(16, "side of the square cutout zeroes in each training image; 0 = off")
    drop_path: float = _field(0.2, "final drop path probability, ramped linearly from 0 over the epochs")
    auxiliary_weight: float = _field(0.4, "weight of the auxiliary tower's loss; 0 = no auxiliary head")
    # -- evaluation and bookkeeping
    eval_every: int = _field(1, "epochs between test evaluations (always after the last)")
    eval_batch_size: int = _field(256, "test images per batch")
    checkpoint_every: int = _field(200, "iterations between checkpoints (also at every epoch end)")
    channels_last: bool = _field(True, "NHWC memory format: faster small convs with oneDNN on CPU")
    num_workers: int = _field(4, "DataLoader workers for file-backed data sets")
    threads: int = _field(0, "torch CPU threads; 0 keeps torch's default")


# tiny: CPU, under a minute, the embedded cluttered digits at 16×16 (DARTS_V2 reaches about 90% test
# accuracy; plain digits: 99%).
# K=1 keeps the Fig. 5a structure (two reductions, auxiliary head after the second) at 5 cells.
# Cutout 4: the paper's 16 of 32 scaled to 8 of 16 would erase most of a digit in a short run.
# One thread: on a 2-core machine shared with other work, OpenMP's spin-waiting made these small
# convs 5-30× slower with 2 threads (1.9 s vs 13-54 s per epoch measured under load).
TRAIN_TINY = TrainPreset(
    name="tiny",
    dataset="cluttered_digits",
    resolution=16,
    K=1,
    C1=24,
    C2=32,
    epochs=15,
    batch_size=64,
    lr=0.05,
    cutout=4,
    drop_path=0.1,
    eval_every=5,  # test accuracy at epochs 5, 10, 15: each pass over the 1,800 cluttered test images costs ~0.5 s
    checkpoint_every=20,
    num_workers=0,
    threads=1,
)

TRAIN_PAPER = TrainPreset()

# ImageNet mobile setting (§6.2, DARTS): 224×224, K=4, C1=24, C2=192, batch 128, lr 0.1 × 0.97 per
# epoch, wd 3e-5, label smoothing 0.1, auxiliary weight 0.4; DARTS uses no cutout or drop path here.
TRAIN_IMAGENET = TrainPreset(
    name="imagenet",
    dataset="imagenet",
    resolution=224,
    network="imagenet",
    K=4,
    C1=24,
    C2=192,
    epochs=250,
    batch_size=128,
    lr=0.1,
    lr_schedule="exponential",
    lr_gamma=0.97,
    weight_decay=3e-5,
    label_smoothing=0.1,
    cutout=0,
    drop_path=0.0,
    checkpoint_every=500,
)

# micro: seconds, for tests and the notebooks' smoke runs (one epoch of 11 iterations, narrow cells).
TRAIN_MICRO = dataclasses.replace(TRAIN_TINY, name="micro", C1=8, C2=16, epochs=1, batch_size=128)

TRAIN_PRESETS: dict[str, TrainPreset] = {
    "tiny": TRAIN_TINY, "paper": TRAIN_PAPER, "imagenet": TRAIN_IMAGENET, "micro": TRAIN_MICRO,
}
LR_SCHEDULES = ("cosine", "exponential")


def check_train_preset(p: TrainPreset, n_nodes: int = 4) -> None:
    """Reject impossible retraining settings with one clear line each."""
    for name in ("epochs", "batch_size", "K", "C1", "C2", "resolution", "eval_batch_size"):
        if getattr(p, name) < 1:
            raise SdasError(f"--{name} must be a positive integer, got {getattr(p, name)}")
    check_op_set(p.op_set)
    if p.C2 % n_nodes:
        raise SdasError(
            f"--C2 {p.C2} must be divisible by the number of intermediate nodes ({n_nodes}); "
            f"try --C2 {n_nodes * max(1, round(p.C2 / n_nodes))}"
        )
    if (p.C2 // n_nodes) % 2:
        raise SdasError(
            f"--C2 {p.C2} gives an odd per-node width {p.C2 // n_nodes}; factorized reductions need "
            f"it even: try --C2 {p.C2 + n_nodes}"
        )
    if p.lr <= 0:
        raise SdasError(f"--lr must be positive, got {p.lr}")
    if p.lr_schedule not in LR_SCHEDULES:
        raise SdasError(f"unknown --lr_schedule {p.lr_schedule!r}; choose one of: {choices(LR_SCHEDULES)}")
    if p.lr_schedule == "exponential" and not 0 < p.lr_gamma <= 1:
        raise SdasError(f"--lr_gamma must lie in (0, 1], got {p.lr_gamma}")
    if not 0 <= p.drop_path < 1:
        raise SdasError(f"--drop_path must lie in [0, 1), got {p.drop_path}")
    if not 0 <= p.label_smoothing < 1:
        raise SdasError(f"--label_smoothing must lie in [0, 1), got {p.label_smoothing}")
    for name in ("cutout", "auxiliary_weight", "weight_decay", "momentum", "lr_min", "num_workers", "threads"):
        if getattr(p, name) < 0:
            raise SdasError(f"--{name} must not be negative, got {getattr(p, name)}")
    if p.grad_clip <= 0:
        raise SdasError(f"--grad_clip must be positive, got {p.grad_clip}")
    if p.checkpoint_every < 1 or p.eval_every < 1:
        raise SdasError("--checkpoint_every and --eval_every must be >= 1")


__all__ += ["TrainPreset", "TRAIN_TINY", "TRAIN_PAPER", "TRAIN_IMAGENET", "TRAIN_MICRO", "TRAIN_PRESETS", "check_train_preset"]
