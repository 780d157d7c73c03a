"""How a cell reads its two inputs, shared by the search network and the evaluation networks.

Each cell maps s0 (the output of cell k-2) and s1 (cell k-1) to its per-node width C. When the
cell in between reduced, s0 is larger than s1 by that cell's stride, and a factorized reduction
with that stride brings it down; otherwise a ReLU-1×1 conv-BN does (DARTS' preprocessing).
The strides come from :func:`sdas_lib.core.layout.cell_plan`. For video the same holds in 3D: the
previous cell's stride is (2, 2, 2) after an ST-reduction and (1, 2, 2) after an S-reduction, and
the factorized reduction reduces exactly the dimensions that cell reduced.
"""

from __future__ import annotations

from torch import nn

from ..core.layout import is_reduction
from ..errors import SdasError
from ..ops import FactorizedReduce, FactorizedReduce3d, ReLUConvBN, ReLUConvBN3d


def preprocess(C_in: int, C_out: int, prev_stride, ndim: int, affine: bool) -> nn.Module:
    """The block that maps a cell input of C_in channels to C_out, undoing ``prev_stride``.

    Args:
        C_in, C_out: channels in and out.
        prev_stride: how much larger this input is than the cell's other one (1: same size; for
            video a (T, H, W) stride such as (2, 2, 2) or (1, 2, 2)).
        ndim: 2 for images (N, C, H, W); 3 for video (N, C, T, H, W).
        affine: BN with learnable scale and shift (False in the supernet, as in DARTS).
    """
    if ndim == 3:
        if is_reduction(prev_stride):
            return FactorizedReduce3d(C_in, C_out, affine=affine, stride=prev_stride)  # (N, C_out, T', H', W')
        return ReLUConvBN3d(C_in, C_out, 1, 1, 0, affine=affine)
    if ndim != 2:
        raise SdasError(f"cells take 2D (images) or 3D (video) features, not {ndim}D")
    if is_reduction(prev_stride):
        return FactorizedReduce(C_in, C_out, affine=affine, stride=prev_stride)
    return ReLUConvBN(C_in, C_out, 1, 1, 0, affine=affine)


__all__ = ["preprocess"]
