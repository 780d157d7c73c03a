"""Network layouts and channel bookkeeping, shared by the search network and the evaluation networks.

A network is a stem followed by a sequence of cells, each of a cell type (Fig. 5). Each cell reads
the outputs of the two cells before it, s0 (k-2) and s1 (k-1), maps both to its per-node width C
and concatenates its intermediate nodes. The per-node width doubles at each reduction cell.
s0 can be larger than s1 when the cell in between reduced: then s0 is brought down by a
factorized reduction with that cell's stride (``prev_stride``), otherwise by a 1×1 conv.

Everything here is integer arithmetic on names and strides, so it is tested without torch.
Strides are ints for images (2) and (T, H, W) tuples for video ((2, 2, 2), (1, 2, 2)).
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
    if K < 1:
        raise SdasError(f"K (normal cells per stage) must be >= 1, got {K}")
    return ["normal"] * K + ["reduce"] + ["normal"] * K + ["reduce"] + ["normal"] * K


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


__all__ = ["CellPlan", "cell_plan", "image_layout", "is_reduction"]
