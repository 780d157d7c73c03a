"""Presets: plain frozen dataclasses, a tiny CPU one beside the paper's.

Override a field with ``dataclasses.replace(preset, epochs=5)`` or on the CLI (``--epochs 5``).
There is no global mutable config. Each field's meaning is its ``metadata["help"]`` (see
:func:`field_help`): the one place it is written, shown by ``--help`` beside the field's flag.

Two tasks, one table of presets each (:func:`search_presets`, :func:`train_presets`): image presets
are :class:`SearchPreset` / :class:`TrainPreset`; video presets are their subclasses
:class:`VideoSearchPreset` / :class:`VideoTrainPreset`, which add the clip length and the test
clips per video. A preset's task is its class's (``preset.task``), so ``--task video --preset tiny``
picks the video table's ``tiny``, and an image preset's fields (and its runs' checkpoints) are what
they were before video existed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import ClassVar

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

    task: ClassVar[str] = "image"  # images (N, C, H, W); VideoSearchPreset: clips (N, C, T, H, W)

    name: str = _field("paper", "the preset's name")
    # -- data
    dataset: str = _field(
        "cifar10", 'digits, cluttered_digits, planted-<t> (embedded); cifar10, cifar10_tiny, fashion_mnist (data_root)'
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
    epochs: int = _field(50, "search epochs; the decisions are spread over their iterations after the warm-up")
    # A tiny-scale adaptation after PC-DARTS, not Algorithm 1 (docs/paper_notes.md): 0 in the paper preset.
    warmup_iterations: int = _field(
        0, "first iterations training the weights alone (α/β frozen); T = the iterations after them"
    )
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
# cell retrains to 99+%, which hides Table 4); 10 epochs × 11 = 110 iterations: a weight-only warm-up
# of W = 55 (5 epochs), then T = 55 scheduled iterations. Chosen by benchmarks/calibration.py
# (figures/calibration.csv and .png, point "warm55-T55"), by issue 23's targets 1 and 4 alone: without
# the warm-up ("today") schedule C decided its first edges on weights at chance accuracy; with it,
# its w-train accuracy at the first decision is above 0.8 of DAS's at the end; the points that cost
# more (a longer T, batch 128, Fashion-MNIST at 28×28) do not fit the course's budget, and none of
# the points screened brought Fleiss' κ of the decisions near the 0.2 target (the CSV has each).
# The warm-up is a tiny-scale adaptation, not Algorithm 1 (docs/paper_notes.md); the paper preset
# has none. The per-iteration cost is per-op overhead of many small convs more than arithmetic:
# narrower cells (C1=16, C2=24) save 2%, so the iterations are what set the time; the fused supernet
# (nets/fused.py), ops/depthwise.py and the α/β step without weight gradients cut it.
#
# The α/β learning rate is 100× the paper's 3e-4. With Adam, α moves by about lr per step, so 3e-4
# over 55 iterations moves α by at most ~0.02: the decision priorities would be ~1e-4. At 3e-2 they
# are ~100× larger and each decision stands well above the median of the other candidates in the
# queue (benchmarks/tiny_decisions.py, figures/tiny_decisions.png). Whether the op choices
# themselves agree across seeds is measured there too (README, "Benchmarks and figures"): barely
# above chance on the cluttered digits (25% against 21% over all edges at T = 55). The tiny
# preset demonstrates the mechanics (real α/β learning, the schedule, pruning, cost); a reproducible
# architecture needs the paper preset's data and length.
# One thread: on a 2-core machine shared with other work, OpenMP spin-waiting made these small
# convs up to 10× slower with 2 threads; alone, 2 threads gain only about 20%.
TINY = SearchPreset(
    name="tiny",
    dataset="cluttered_digits",
    resolution=16,
    K=1,
    C1=24,
    C2=32,
    epochs=10,
    warmup_iterations=55,
    batch_size=64,
    arch_lr=3e-2,
    bn_recalibration_batches=5,
    eval_every=5,  # test accuracies (Table 2) at the warm-up's end and after the last epoch: per epoch they doubled DAS's time
    checkpoint_every=20,
    num_workers=0,
    threads=1,
)

PAPER = SearchPreset()

# micro: seconds, for tests and the notebooks' smoke runs: the tiny preset's code paths with 8×8
# digits, narrow cells and one epoch of 7 iterations, no warm-up (tests/test_warmup.py runs one).
# Nothing it finds means anything.
MICRO = dataclasses.replace(
    TINY, name="micro", resolution=8, C1=8, C2=16, epochs=1, warmup_iterations=0, batch_size=96,
    bn_recalibration_batches=2, checkpoint_every=3,
)

SEARCH_PRESETS: dict[str, SearchPreset] = {"tiny": TINY, "paper": PAPER, "micro": MICRO}


@dataclass(frozen=True)
class VideoSearchPreset(SearchPreset):
    """Settings of one video architecture search (§4, §5.3, §7.1): clips (N, C, T, H, W), three cell types.

    The search space is :func:`~sdas_lib.core.space.video_space` (normal, ST-reduction and
    S-reduction cells, M = 54) and the network :func:`~sdas_lib.core.layout.video_layout`.
    """

    task: ClassVar[str] = "video"

    dataset: str = _field(
        "kinetics10", "moving_digits, moving_digits_fine (embedded); kinetics10, kinetics, ucf101, hmdb51 (under data_root)"
    )
    resolution: int = _field(112, "clip height = width, in pixels (the crop)")
    op_set: str = _field("video_oadv", "candidate operation set: o2d, o3d or oadv (stored as video_o2d, ...)")
    K: int = _field(2, "normal cells per stage of the video search network (Fig. 5c)")
    C1: int = _field(16, "stem width (channels)")
    epochs: int = _field(96, "search epochs; the decisions are spread over their iterations")
    batch_size: int = _field(64, "clips per batch (w-train and α/β-val batches alike)")
    eval_every: int = _field(8, "epochs between relaxed/discrete test evaluations (always after the last)")
    clip_len: int = _field(16, "frames per clip (T)")
    test_clips: int = _field(20, "clips per test video whose softmax scores are averaged (§5.2: 20)")


# The tiny video search: CPU, about a minute, the embedded moving digits (4 frames of 16×16, 750
# w-train clips: T = 4 epochs × 11 = 44 iterations). 16×16 is the smallest canvas the video network
# takes (the stem divides H, W by 4, the two reduction cells by 2 each); the clips end at 2×1×1
# before the head. Sized for Table 6's 18 searches (DAS and SDAS-C × 3 op sets × 3 seeds) in notebook
# 05: one iteration with every edge mixing takes 1.5 s (O2D), 1.8 s (Oadv) and 2.4 s (O3D) on one
# thread. These cells work at 4×4 pixels and below, so the cost is per-op overhead: halving the
# widths saves a quarter, halving the batch a fifth. In 44 iterations the supernet barely learns
# the motions (DAS on O3D: about 15% test accuracy, chance 10%, with w_lr 0.1; 11% with the paper's
# 0.025), so Table 6 compares the cells retrained, as the paper does, not the supernets. No warm-up:
# benchmarks/calibration.py --task video (figures/calibration_video.csv) found that one of 44 iterations
# doubles the searches' cost while the supernets stay near chance.
# α/β at 3e-2, one thread: the image tiny preset's reasons.
VIDEO_TINY = VideoSearchPreset(
    name="tiny", dataset="moving_digits", resolution=16, clip_len=4, test_clips=1, K=1, C1=8, C2=16,
    epochs=4, w_lr=0.1, eval_every=4,
    **{f: getattr(TINY, f) for f in (  # the rest of the image tiny preset's loop
        "batch_size", "arch_lr", "bn_recalibration_batches", "checkpoint_every", "num_workers", "threads",
    )},
)

# The paper's video search (§5.3, §7.1): Kinetics10, 16×112×112 clips, K=2, C1=16, C2=64, 96 epochs,
# batch 64, Oadv (the main set; --op-set picks O2D or O3D for Table 6). Test accuracies every 8
# epochs rather than every epoch: each is three passes over the validation set with 20 clips a video.
VIDEO_PAPER = VideoSearchPreset()

# micro: seconds, for tests: 4 frames of 16×16, narrow cells, one epoch of 5 iterations.
VIDEO_MICRO = dataclasses.replace(
    VIDEO_TINY, name="micro", clip_len=4, C1=8, C2=16, epochs=1, batch_size=128, bn_recalibration_batches=2,
    checkpoint_every=2,
)

VIDEO_SEARCH_PRESETS: dict[str, VideoSearchPreset] = {"tiny": VIDEO_TINY, "paper": VIDEO_PAPER, "micro": VIDEO_MICRO}


def get_preset(name: str, table: dict | None = None):
    table = SEARCH_PRESETS if table is None else table
    if name not in table:
        raise SdasError(f"unknown preset {name!r}; choose one of: {choices(table)}")
    return table[name]


def _task_table(tables: dict, task: str) -> dict:
    key = str(task).lower()
    if key not in tables:
        raise SdasError(f"unknown task {task!r}; choose one of: {choices(tables)}")
    return tables[key]


def search_presets(task: str = "image") -> dict:
    """The search presets of ``task`` (``"image"`` or ``"video"``), by name."""
    return _task_table({"image": SEARCH_PRESETS, "video": VIDEO_SEARCH_PRESETS}, task)


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
    """The op set must be registered and have ``ndim``-D ops (2 for the image networks, 3 for video)."""
    from ..core.opsets import OP_SET_TABLE, STORED_NAMES, op_set_info

    ops = op_set_info(name)  # unknown name: lists the known sets
    if ops.ndim != ndim:
        fitting = [n for n, s in OP_SET_TABLE.items() if s.ndim == ndim]
        if ndim == 3:
            short = [s for (t, s), n in STORED_NAMES.items() if t == "video" and n in OP_SET_TABLE]
            raise SdasError(
                f"--op_set {name!r} has {ops.ndim}D ops but --task video needs a video op set; "
                f"choose one of: {choices(fitting)} (--op-set {', '.join(short)})"
            )
        raise SdasError(
            f"--op_set {name!r} has {ops.ndim}D ops but the image networks need {ndim}D ones; "
            f"choose one of: {choices(fitting)}"
        )


def resolve_op_set(task: str, name: str) -> str:
    """The stored op set for ``--task`` and ``--op-set`` (case-insensitive): ('video', 'O3D') -> 'video_o3d'.

    Image runs take the stored name as it is (``o2d``; a wrong one is refused by :func:`check_op_set`).
    A short name of the other task gets a line that says which task it belongs to.
    """
    from ..core.opsets import OP_SET_TABLE, STORED_NAMES, TASKS, stored_op_set_name

    task, key = str(task).lower(), str(name).lower()
    if task not in TASKS:
        raise SdasError(f"unknown task {task!r}; choose one of: {choices(TASKS)}")
    if (task, key) in STORED_NAMES or (task == "video" and key not in OP_SET_TABLE):
        return stored_op_set_name(task, key)  # unknown: lists this task's short names
    if key in OP_SET_TABLE:
        return key  # a stored name; its rank is checked with the preset
    others = [t for (t, s) in STORED_NAMES if s == key and t != task]
    if others:
        fitting = [s for (t, s) in STORED_NAMES if t == task]
        raise SdasError(
            f"op set {name!r} is for --task {others[0]}; --task {task} takes --op-set {', '.join(fitting)} "
            f"(or add --task {others[0]})"
        )
    return name  # unknown: op_set_info names the known sets


def check_clip_size(clip_len: int, resolution: int, K: int, what: str = "video network") -> None:
    """A clip (T = clip_len, H = W = resolution) must be at least the video network's minimum, the
    product of its strides per dimension (:func:`~sdas_lib.core.layout.min_input_size`): 2×16×16."""
    from ..core.layout import VIDEO_STEM_STRIDE, min_input_size, video_layout
    from ..core.space import VIDEO_CELL_TYPES

    minimum = min_input_size(3, video_layout(K), {c.name: c.stride for c in VIDEO_CELL_TYPES}, VIDEO_STEM_STRIDE)
    if clip_len < minimum[0] or resolution < minimum[1]:
        raise SdasError(
            f"clip {clip_len}x{resolution}x{resolution} (TxHxW, --clip-len {clip_len} --resolution {resolution}) is "
            f"smaller than the {what}'s minimum {'x'.join(map(str, minimum))} (stem H, W / 4, ST-reduction / 2, "
            f"S-reduction H, W / 2); try --clip-len {max(clip_len, minimum[0])} --resolution {max(resolution, minimum[1])}"
        )


def _check_video_fields(p) -> None:
    """clip_len and test_clips of a video preset."""
    for name in ("clip_len", "test_clips"):
        if getattr(p, name) < 1:
            raise SdasError(f"--{name} must be a positive integer, got {getattr(p, name)}")
    if p.dataset.startswith("moving_digits") and p.test_clips != 1:
        raise SdasError(
            f"--test_clips {p.test_clips}: the embedded moving digits have one clip per test video; use "
            f"--test_clips 1 (the file-backed video sets take several, 20 in §5.2)"
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
    if p.task == "video":
        check_op_set(p.op_set, ndim=3)
        _check_video_fields(p)
        check_clip_size(p.clip_len, p.resolution, p.K, "video search network")
    else:
        check_op_set(p.op_set)
    if p.task == "image" and p.resolution % 4:
        raise SdasError(
            f"--resolution {p.resolution} must be divisible by 4: the two reduction cells halve it with "
            f"factorized reductions that need even sizes; try --resolution {4 * max(1, round(p.resolution / 4))}"
        )
    if p.C2 % p.n_nodes:
        raise SdasError(
            f"--C2 {p.C2} must be divisible by the number of intermediate nodes ({p.n_nodes}); "
            f"try --C2 {p.n_nodes * max(1, round(p.C2 / p.n_nodes))}"
        )
    if p.warmup_iterations < 0:
        raise SdasError(f"--warmup_iterations must not be negative, got {p.warmup_iterations} (0 = no warm-up)")
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
    "check_search_preset", "check_op_set", "preset_fields", "field_help", "VideoSearchPreset", "VIDEO_TINY",
    "VIDEO_PAPER", "VIDEO_MICRO", "VIDEO_SEARCH_PRESETS", "search_presets", "resolve_op_set", "check_clip_size",
]


# ----------------------------------------------------------------------------------------------
# Retraining presets: a found genotype trained from scratch in an evaluation network (§6.1).


@dataclass(frozen=True)
class TrainPreset:
    """Settings of one retraining run (§5.2, §6.1, ImageNet mobile §6.2; DARTS for the rest)."""

    task: ClassVar[str] = "image"  # images (N, C, H, W); VideoTrainPreset: clips (N, C, T, H, W)

    name: str = _field("paper", "the preset's name")
    # -- data
    dataset: str = _field(
        "cifar10", 'digits, cluttered_digits (embedded); cifar10, cifar10_tiny, fashion_mnist, imagenet (data_root)'
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


# tiny: CPU, under a minute, the embedded cluttered digits at 16×16 (DARTS_V2 reaches about 87% test
# accuracy in 10 epochs, 90% in 15; plain digits: 99%).
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
    epochs=10,
    batch_size=64,
    lr=0.05,
    cutout=4,
    drop_path=0.1,
    eval_every=5,  # test accuracy at epochs 5 and 10: each pass over the 1,800 cluttered test images costs ~0.5 s
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


@dataclass(frozen=True)
class VideoTrainPreset(TrainPreset):
    """Settings of one video retraining run (§5.2, §7.1): a found video genotype in the video network
    (Fig. 5c), or a hand-crafted baseline (Fig. 10, Table 8) with the same loop."""

    task: ClassVar[str] = "video"

    dataset: str = _field(
        "kinetics10", "moving_digits, moving_digits_fine (embedded); kinetics10, kinetics, ucf101, hmdb51 (under data_root)"
    )
    resolution: int = _field(112, "clip height = width, in pixels (the crop)")
    network: str = _field("video", "evaluation network structure: video (Fig. 5c)")
    op_set: str = _field("", "op set the genotype must use: o2d, o3d, oadv, or empty for any video set")
    K: int = _field(2, "normal cells per stage of the evaluation network")
    C1: int = _field(32, "stem width (channels)")
    C2: int = _field(128, "first cell's output width (channels)")
    epochs: int = _field(96, "training epochs")
    batch_size: int = _field(64, "training clips per batch")
    cutout: int = _field(0, "cutout is for images; video clips take 0")
    drop_path: float = _field(0.0, "final drop path probability, ramped linearly from 0 over the epochs")
    auxiliary_weight: float = _field(0.0, "the video network has no auxiliary head: 0")
    eval_batch_size: int = _field(64, "test clips per batch (the clips of one video stay together)")
    clip_len: int = _field(16, "frames per clip (T)")
    test_clips: int = _field(20, "clips per test video whose softmax scores are averaged (§5.2: 20)")


# The paper's video retraining (§7.1): Kinetics10, 16×112×112 clips, K=2, C1=32, C2=128, 96 epochs,
# batch 64, 20 test clips per video. The paper names no other setting for video: SGD lr 0.025
# cosine, wd 3e-4 as for CIFAR (DARTS); no drop path and no auxiliary head (§6.1 names them for
# CIFAR10 only); no cutout (an image augmentation; clips get a random crop and flip, §5.2).
VIDEO_TRAIN_PAPER = VideoTrainPreset()

# tiny: the embedded moving digits at the tiny search's clip size (4×16×16), K=1 with wider cells,
# 5 epochs: about 24 s on one thread (a 3D-heavy DAS cell reached 48% test accuracy, chance 10%;
# 10 epochs: 81%, in twice the time), so that Table 6's 18 retrainings fit notebook 05's time.
VIDEO_TRAIN_TINY = VideoTrainPreset(
    name="tiny",
    dataset="moving_digits",
    resolution=16,
    clip_len=4,
    test_clips=1,
    K=1,
    C1=16,
    C2=32,
    epochs=5,
    batch_size=64,
    lr=0.05,
    eval_every=5,
    eval_batch_size=256,
    checkpoint_every=20,
    num_workers=0,
    threads=1,
)

# micro: seconds, for tests (4 frames of 16×16, narrow cells, one epoch of 11 iterations).
VIDEO_TRAIN_MICRO = dataclasses.replace(VIDEO_TRAIN_TINY, name="micro", clip_len=4, C1=8, C2=16, epochs=1, batch_size=128)

VIDEO_TRAIN_PRESETS: dict[str, VideoTrainPreset] = {
    "tiny": VIDEO_TRAIN_TINY, "paper": VIDEO_TRAIN_PAPER, "micro": VIDEO_TRAIN_MICRO,
}


# Table 7's first three rows: K = 2 with (C1, C2) = (16, 64), (24, 96), (32, 128), i.e. 1/2, 3/4 and 1 of
# the default video retraining's widths. network_sizes scales any video retraining preset the same way.
TABLE7_WIDTH_FRACTIONS = (0.5, 0.75, 1.0)


def network_sizes(preset: "VideoTrainPreset", fractions=TABLE7_WIDTH_FRACTIONS) -> list["VideoTrainPreset"]:
    """Table 7's sizes at the scale of ``preset``: copies of it with C1 and C2 multiplied by each fraction
    (K kept), smallest first. The fraction 1 is ``preset`` itself (Table 6's retraining). C1 is rounded;
    C2 is rounded to a multiple of 8, so that each of a cell's 4 nodes gets an even width (the factorized
    reductions need it); fractions that round to one size give it once.

    Args:
        preset: a video retraining preset (``VIDEO_TRAIN_TINY``: K=1, C1=16, C2=32).
        fractions: positive widths relative to the preset's; each must leave C1 and C2 at least 2 channels.
    """
    if getattr(preset, "task", None) != "video":
        raise SdasError("network_sizes takes a video retraining preset (VIDEO_TRAIN_TINY, ...), as Table 7 is on video")
    if isinstance(fractions, (int, float)) or not len(fractions) or not all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in fractions):
        raise SdasError(f"fractions must be positive numbers such as (0.5, 0.75, 1.0) (Table 7), got {fractions!r}")
    out = {}
    for f in sorted(fractions):
        c1, c2 = round(preset.C1 * f), 8 * round(preset.C2 * f / 8)
        if c1 < 2 or c2 < 8:
            raise SdasError(f"fraction {f} leaves C1={c1}, C2={c2} for the preset's C1={preset.C1}, C2={preset.C2}; "
                            f"give fractions that keep C1 at least 2 and C2 at least 8 channels")
        out[(c1, c2)] = size = dataclasses.replace(preset, C1=c1, C2=c2)
        check_train_preset(size)
    return list(out.values())


def size_label(preset: "VideoTrainPreset") -> str:
    """``K1_C8_C16``: a network size (K, C1, C2) as Table 7 lists it, for folder names and tables."""
    return f"K{preset.K}_C{preset.C1}_C{preset.C2}"


def train_presets(task: str = "image") -> dict:
    """The retraining presets of ``task`` (``"image"`` or ``"video"``), by name."""
    return _task_table({"image": TRAIN_PRESETS, "video": VIDEO_TRAIN_PRESETS}, task)


def check_train_preset(p: TrainPreset, n_nodes: int = 4) -> None:
    """Reject impossible retraining settings with one clear line each."""
    for name in ("epochs", "batch_size", "K", "C1", "C2", "resolution", "eval_batch_size"):
        if getattr(p, name) < 1:
            raise SdasError(f"--{name} must be a positive integer, got {getattr(p, name)}")
    if p.task == "video":
        _check_video_train_preset(p)
    else:
        check_op_set(p.op_set)
        if p.network == "video":
            raise SdasError("--network video takes clips; retrain a video genotype with --task video")
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


def _check_video_train_preset(p: VideoTrainPreset) -> None:
    """What only a video retraining preset can get wrong."""
    if p.op_set:
        check_op_set(p.op_set, ndim=3)
    if p.network != "video":
        raise SdasError(f"--network {p.network!r} is an image network; --task video trains the 'video' network (--network video)")
    _check_video_fields(p)
    check_clip_size(p.clip_len, p.resolution, p.K)
    if p.cutout:
        raise SdasError(f"--cutout {p.cutout}: cutout is an image augmentation; video clips take --cutout 0")
    if p.auxiliary_weight:
        raise SdasError(f"--auxiliary_weight {p.auxiliary_weight}: the video network has no auxiliary head; use 0")


__all__ += [
    "TrainPreset", "TRAIN_TINY", "TRAIN_PAPER", "TRAIN_IMAGENET", "TRAIN_MICRO", "TRAIN_PRESETS", "check_train_preset",
    "VideoTrainPreset", "VIDEO_TRAIN_TINY", "VIDEO_TRAIN_PAPER", "VIDEO_TRAIN_MICRO", "VIDEO_TRAIN_PRESETS",
    "train_presets", "network_sizes", "size_label", "TABLE7_WIDTH_FRACTIONS",
]
