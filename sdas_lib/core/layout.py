"""Network layouts and channel bookkeeping, shared by the search network and the evaluation networks.

A network is a stem followed by a sequence of cells, each of a cell type (Fig. 5). Each cell reads
the outputs of the two cells before it, s0 (k-2) and s1 (k-1), maps both to its per-node width C
and concatenates its intermediate nodes. The per-node width doubles at each reduction cell.
s0 can be larger than s1 when the cell in between reduced: then s0 is brought down by a
factorized reduction with that cell's stride (``prev_stride``), otherwise by a 1×1 conv.

Everything here is integer arithmetic on names and strides, so it is tested without torch.
Strides are ints for images (2) and (T, H, W) tuples for video ((2, 2, 2), (1, 2, 2)).

The video network (Fig. 5c; the figure is missing from our copy of the paper, so this placement is
the project's reading, :func:`video_layout`)::

    clip (3, T, H, W)
    -> stem: two per-frame 1×3×3 convs of stride (1, 2, 2)        (C1, T, H/4, W/4)
    -> K normal cells
    -> ST-reduction cell, stride (2, 2, 2)                         (T/2, H/8, W/8)
    -> K normal cells
    -> S-reduction cell, stride (1, 2, 2)                          (T/2, H/16, W/16)
    -> K normal cells -> global average pool -> linear

Why this placement:

- §4.1: "the main purpose of stem layers is to reduce the spatial or temporal dimensions". The stem
  reduces only space (H/4, W/4, as the ImageNet stem brings 224 to 28, here 112 to 28) and keeps
  every frame, so the cells decide how time is modelled: time is reduced only by the searched
  ST-reduction cell, which is why it exists. A per-frame stem also keeps the video O2D network a
  truly per-frame network, so O2D against O3D (Table 6) compares the op sets alone.
- Like the image networks, the cells form three stages of K normal cells separated by two
  reduction cells (3K+2 cells), and the per-node width doubles at each reduction. Two reductions
  fit Table 7/8's size: for K=2, C1=32, C2=128 the paper reports 0.93M parameters and 1.38G
  mult-adds at 16×112×112; an example Oadv genotype gives 1.06M and 1.50G here
  (tests/test_video_nets.py). A third reduction would add a stage of per-node width 256 and
  several times the parameters. Caveat: at K=3 or C2=192 our mult-adds grow faster than Table 8's
  (2.06G against 1.52G, 4.18G against 2.20G for that genotype), so the paper's cells may run on
  smaller maps, or its counter differ; the missing figure would settle it.
- ST before S: the hand-crafted baselines (Fig. 10) reduce time early (after stages 1 and 2), and
  the captions of Figs. 12-13 list the cells in the order normal, ST-reduction, S-reduction.
- A 16×112×112 clip reaches the head at 8×7×7, as the ImageNet network ends at 7×7; the tiny
  4×16×16 clips end at 2×1×1, so T ≥ 2 at the head for every preset clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ..errors import SdasError


def is_reduction(stride) -> bool:
    """Whether a stride (int or tuple) reduces any dimension."""
    return any(s != 1 for s in (stride if isinstance(stride, tuple) else (stride,)))


def image_layout(K: int) -> list[str]:
    """Cell types of the image networks (Fig. 5a/b): K normal, reduce, K normal, reduce, K normal."""
    _check_K(K)
    return ["normal"] * K + ["reduce"] + ["normal"] * K + ["reduce"] + ["normal"] * K


def video_layout(K: int) -> list[str]:
    """Cell types of the video networks (Fig. 5c, our reading; module docstring):
    K normal, ST-reduction, K normal, S-reduction, K normal."""
    _check_K(K)
    return ["normal"] * K + ["st_reduce"] + ["normal"] * K + ["s_reduce"] + ["normal"] * K


def _check_K(K: int) -> None:
    if K < 1:
        raise SdasError(f"K (normal cells per stage) must be >= 1, got {K}")


VIDEO_STEM_STRIDE = (1, 4, 4)
"""How much the video stem reduces (T, H, W): two 1×3×3 convs of stride (1, 2, 2) (nets/stems.py)."""


# -- feature sizes ----------------------------------------------------------------------------------


def _per_dim(stride, ndim: int) -> tuple[int, ...]:
    if isinstance(stride, tuple):
        if len(stride) != ndim:
            raise SdasError(f"stride {stride} has {len(stride)} dimensions; these features have {ndim}")
        return stride
    return (stride,) * ndim


def reduced(size: Sequence[int], stride) -> tuple[int, ...]:
    """Feature size after a stride: ceil(D / s) per dimension, as every padded op of a cell gives.

    Args:
        size: (H, W) or (T, H, W). stride: an int (every dimension) or a tuple like ``size``.
    """
    return tuple(-(-d // s) for d, s in zip(size, _per_dim(stride, len(size))))


def feature_sizes(
    size: Sequence[int], layout: Sequence[str], strides: Mapping[str, object], stem_stride=1,
) -> list[tuple[int, ...]]:
    """The feature size after the stem and after each cell of ``layout``: len(layout) + 1 entries.

    Args:
        size: the input's (H, W) or (T, H, W). layout, strides: as :func:`cell_plan`.
        stem_stride: how much the stem reduces (:data:`VIDEO_STEM_STRIDE` for video, 1 for CIFAR).
    """
    sizes = [reduced(size, stem_stride)]
    for name in layout:
        sizes.append(reduced(sizes[-1], strides[name]))
    return sizes


def min_input_size(ndim: int, layout: Sequence[str], strides: Mapping[str, object], stem_stride=1) -> tuple[int, ...]:
    """The smallest input the network's reductions can all halve: the product of its strides per
    dimension, e.g. (2, 16, 16) for the video network (stem ×4 spatially, ST ×2, S ×2 spatially)."""
    total = list(_per_dim(stem_stride, ndim))
    for name in layout:
        total = [t * s for t, s in zip(total, _per_dim(strides[name], ndim))]
    return tuple(total)


def check_input_size(shape: Sequence[int], minimum: Sequence[int], network: str) -> None:
    """Refuse an input (N, C, [T,] H, W) of the wrong rank or smaller than ``minimum`` ([T,] H, W)."""
    ndim = len(minimum)
    names = ("T", "H", "W")[-ndim:]
    want = "(N, C, T, H, W) clips" if ndim == 3 else "(N, C, H, W) images"
    if len(shape) != ndim + 2:
        raise SdasError(f"the {network} network takes {want}; got an input of shape {tuple(shape)}")
    if any(d < m for d, m in zip(shape[2:], minimum)):
        raise SdasError(
            f"input {'x'.join(map(str, shape[2:]))} ({'x'.join(names)}) is too small for the {network} network: "
            f"its reductions need at least {'x'.join(map(str, minimum))}"
        )


def check_strides(strides: Mapping[str, object], ndim: int) -> None:
    """Image cell types need int strides; video ones 1 or a (T, H, W) tuple."""
    for name, s in strides.items():
        ok = isinstance(s, int) if ndim == 2 else (s == 1 or (isinstance(s, tuple) and len(s) == 3))
        if not ok:
            kind = "an int stride (1 or 2)" if ndim == 2 else "stride 1 or a (T, H, W) tuple such as (2, 2, 2)"
            raise SdasError(f"cell type {name!r} has stride {s!r}; {ndim}D ops need {kind}")


@dataclass(frozen=True)
class CellPlan:
    """The channel and stride bookkeeping of one cell of a network.

    Attributes:
        index: position in the network. cell_type: its type's name.
        C_pp, C_p: channels of s0 (cell k-2) and s1 (cell k-1) as they arrive.
        C: per-node width inside the cell. C_out: channels of the cell's output (concat × C).
        stride: the cell type's stride, applied on the edges that read s0 and s1.
        prev_stride: how much larger s0 is than s1 (the previous cell's or the stem's stride);
            1 means a 1×1 conv preprocesses s0, anything else a factorized reduction.
    """

    index: int
    cell_type: str
    C_pp: int
    C_p: int
    C: int
    C_out: int
    stride: object
    prev_stride: object

    @property
    def reduction(self) -> bool:
        return is_reduction(self.stride)

    @property
    def reduction_prev(self) -> bool:
        return is_reduction(self.prev_stride)


def cell_plan(
    layout: Sequence[str], strides: Mapping[str, object], C_stem: int, C: int, concat: Mapping[str, int],
    stem_prev_stride: object = 1,
) -> list[CellPlan]:
    """Channels and strides of every cell of ``layout``.

    Args:
        layout: cell type of each cell, in order (e.g. :func:`image_layout`).
        strides: stride of each cell type.
        C_stem: channels of both stem outputs (the first cell's s0 and s1).
        C: per-node width of the first cell (C2 / n_nodes); doubles at each reduction.
        concat: number of nodes each cell type concatenates (n_nodes in the supernet).
        stem_prev_stride: how much larger the stem's s0 is than its s1 (2 in the ImageNet stem).
    """
    plans = []
    C_pp, C_p, prev_stride = C_stem, C_stem, stem_prev_stride
    for index, name in enumerate(layout):
        stride = strides[name]
        if is_reduction(stride):
            C *= 2
        if C % 2 and is_reduction(prev_stride):  # (a reduction cell's own width was just doubled)
            raise SdasError(
                f"per-node width {C} of cell {index} ({name}) must be even: its first input is brought "
                f"down by a factorized reduction; raise C2"
            )
        C_out = concat[name] * C
        plans.append(CellPlan(index, name, C_pp, C_p, C, C_out, stride, prev_stride))
        C_pp, C_p, prev_stride = C_p, C_out, stride
    return plans


__all__ = [
    "CellPlan", "cell_plan", "image_layout", "video_layout", "is_reduction", "VIDEO_STEM_STRIDE", "reduced",
    "feature_sizes", "min_input_size", "check_input_size", "check_strides",
]
