"""Presets: plain frozen dataclasses, a tiny CPU one beside the paper's.

Override a field with ``dataclasses.replace(preset, epochs=5)`` or on the CLI (``--epochs 5``).
There is no global mutable config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from .errors import SdasError, choices


@dataclass(frozen=True)
class SearchPreset:
    """Settings of one architecture search (paper §5.3, §6.1; DARTS for what the paper leaves out)."""

    name: str = "paper"
    # -- data
    dataset: str = "cifar10"          # "digits" (embedded) or "cifar10" (torchvision, data_root)
    data_root: str = "data"
    resolution: int = 32              # input H = W
    train_portion: float = 0.5        # w-train share of the training set; the rest is α/β-val (§5.3)
    split_seed: int = 0               # fixed: every run sees the same w-train / α/β-val split
    # -- search space
    op_set: str = "o2d"
    n_nodes: int = 4
    k: int = 2
    # -- search network (Fig. 5a): K normal cells per stage, stem C1, first cell C2
    K: int = 2
    C1: int = 48
    C2: int = 64
    # -- optimization (Algorithm 1, first order)
    epochs: int = 50
    batch_size: int = 64
    w_lr: float = 0.025               # SGD, cosine-annealed per epoch to w_lr_min
    w_lr_min: float = 0.0
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 3e-4             # Adam for α and β
    arch_beta1: float = 0.5
    arch_beta2: float = 0.999
    arch_weight_decay: float = 1e-3
    # -- evaluation and bookkeeping
    bn_recalibration_batches: int = 20  # discrete-mode eval re-estimates BN stats on this many w-train batches
    eval_every: int = 1               # epochs between relaxed/discrete test evaluations
    checkpoint_every: int = 200       # iterations between checkpoints (also at every epoch end)
    channels_last: bool = True        # NHWC memory format: much faster small convs with oneDNN on CPU
    num_workers: int = 4              # DataLoader workers for file-backed data sets
    threads: int = 0                  # torch CPU threads; 0 keeps torch's default


# The tiny preset: CPU, a couple of minutes, embedded digits at 16×16.
#
# Why the architecture learning rate is 100× the paper's: with Adam, α moves by about lr per
# step, so the paper's 3e-4 over tiny's 88 iterations moves α by at most ~0.03; priorities then
# differ by ~1e-3 and the decisions are noise. At 3e-2 the α rows spread by O(1) within the first
# epochs, so each decision follows a learned preference (see benchmarks/tiny_decisions.py and
# figures/tiny_decisions.png: decision priorities stand well above the spread of untouched rows,
# and seeds agree far above chance). Epochs are 8 so that schedule A has learned for ~11
# iterations before its first decision.
TINY = SearchPreset(
    name="tiny",
    dataset="digits",
    resolution=16,
    K=1,
    C1=24,
    C2=32,
    epochs=8,
    batch_size=64,
    arch_lr=3e-2,
    bn_recalibration_batches=5,
    checkpoint_every=20,
    num_workers=0,
)

PAPER = SearchPreset()

SEARCH_PRESETS: dict[str, SearchPreset] = {"tiny": TINY, "paper": PAPER}


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


def check_search_preset(p: SearchPreset) -> None:
    """Reject impossible settings with one clear line each."""
    for name in ("epochs", "batch_size", "K", "C1", "C2", "resolution", "n_nodes", "k"):
        if getattr(p, name) < 1:
            raise SdasError(f"--{name} must be a positive integer, got {getattr(p, name)}")
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
    "SearchPreset", "TINY", "PAPER", "SEARCH_PRESETS", "get_preset", "override",
    "check_search_preset", "preset_fields",
]
