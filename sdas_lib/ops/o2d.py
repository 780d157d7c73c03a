"""O2D for images (paper §4.2, docs/paper_notes.md "Operation sets"): 7 ops in a fixed order, α's column order.

There is no ``none`` op: the edge weight β decides the topology instead. In a reduction cell the
ops that read the cell's inputs take stride 2 and the identity becomes a factorized reduction.
"""

from __future__ import annotations

from torch import nn

from ..errors import SdasError
from .blocks2d import DilConv, FactorizedReduce, SepConv
from .registry import new_op_set


def _stride2d(stride) -> int:
    """An image op's stride: an int, or an (H, W) pair of equal values."""
    if isinstance(stride, tuple):
        if len(stride) != 2 or stride[0] != stride[1]:
            raise SdasError(f"2D ops take an int or an equal (H, W) stride, got {stride!r}; use a video op set for (T, H, W)")
        stride = stride[0]
    return int(stride)


O2D = new_op_set("o2d", ndim=2)


@O2D.register("skip_connect", kind="identity")
def _skip(C, stride, affine):
    # In a reduction cell the identity becomes a factorized reduction (DARTS).
    return nn.Identity() if _stride2d(stride) == 1 else FactorizedReduce(C, C, affine)


@O2D.register("max_pool_3x3", kind="pool")
def _max_pool(C, stride, affine):
    return nn.MaxPool2d(3, stride=_stride2d(stride), padding=1)


@O2D.register("avg_pool_3x3", kind="pool")
def _avg_pool(C, stride, affine):
    return nn.AvgPool2d(3, stride=_stride2d(stride), padding=1, count_include_pad=False)


@O2D.register("sep_conv_3x3", kind="conv")
def _sep3(C, stride, affine):
    return SepConv(C, C, 3, _stride2d(stride), 1, affine)


@O2D.register("sep_conv_5x5", kind="conv")
def _sep5(C, stride, affine):
    return SepConv(C, C, 5, _stride2d(stride), 2, affine)


@O2D.register("dil_conv_3x3", kind="conv")
def _dil3(C, stride, affine):
    # Dilation 2: a 3×3 kernel that sees a 5×5 window.
    return DilConv(C, C, 3, _stride2d(stride), 2, 2, affine)


@O2D.register("dil_conv_5x5", kind="conv")
def _dil5(C, stride, affine):
    return DilConv(C, C, 5, _stride2d(stride), 4, 2, affine)
