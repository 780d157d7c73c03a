"""The three video op sets (paper §4.2, Fig. 6, docs/paper_notes.md "Operation sets"), α's column order.

Features are (N, C, T, H, W); kernels are named T×H×W. An op with k_t = 1 works on each frame on
its own (a "2D" op). There is no ``none`` op: β decides the topology.

- ``video_o2d``, 7 ops: O2D with 1×k×k kernels.
- ``video_o3d``, 9 ops: video O2D without avg pool and the 1×5×5 dilated conv, plus the 3D ops
  (3×3×3 max pool, 3×3×3 and 3×5×5 separable-3d convs, 3×3×3 dilated separable-3d conv).
- ``video_oadv``, 9 ops: O3D without its two dilated convs, plus channel-wise scale and bias.

Builders take ``stride`` 1 or a (T, H, W) tuple: (1, 1, 1) in a normal cell, (1, 2, 2) on the input
edges of an S-reduction cell and (2, 2, 2) on those of an ST-reduction cell. Under a stride every
op reduces: a 1×k×k op with stride (2, 2, 2) keeps every other frame. The strided identity is a
:class:`~sdas_lib.ops.blocks3d.FactorizedReduce3d`, and strided scale and bias put one before the
channel-wise op; :mod:`sdas_lib.ops.blocks3d` documents these choices, the dilation of the 3×3×3
dilated op and the channel-wise ops' reduction ratio.
"""

from __future__ import annotations

from torch import nn

from ..errors import SdasError
from .blocks3d import (
    ChannelBias, ChannelScale, DilConv3d, DilSep3dConv, FactorizedReduce3d, FrameAvgPool, SepConv3d, Sep3dConv, Triple,
)
from .registry import OpSet, new_op_set

VIDEO_STRIDES: tuple[Triple, ...] = ((1, 1, 1), (1, 2, 2), (2, 2, 2))
"""Strides of the video cell types: normal, S-reduction, ST-reduction."""


def video_stride(stride) -> Triple:
    """A video op's stride as (T, H, W): the int 1, or one of :data:`VIDEO_STRIDES` (tuple or list)."""
    if isinstance(stride, int) and not isinstance(stride, bool):
        if stride == 1:
            return (1, 1, 1)
        raise SdasError(
            f"video ops take stride 1 or a (T, H, W) stride, got the int {stride}; a video reduction cell "
            f"uses (1, 2, 2) (S-reduction) or (2, 2, 2) (ST-reduction)"
        )
    if isinstance(stride, (tuple, list)) and tuple(stride) in VIDEO_STRIDES:
        return tuple(int(s) for s in stride)
    raise SdasError(
        f"video ops take stride 1 or a (T, H, W) stride (1, 1, 1), (1, 2, 2) or (2, 2, 2), got {stride!r}"
    )


def _identity(C, stride, affine) -> nn.Module:
    # In a reduction cell the identity becomes a factorized reduction (DARTS), here in 3D.
    s = video_stride(stride)
    return nn.Identity() if s == (1, 1, 1) else FactorizedReduce3d(C, C, affine, s)


def _max_pool_1x3x3(C, stride, affine) -> nn.Module:
    return nn.MaxPool3d((1, 3, 3), stride=video_stride(stride), padding=(0, 1, 1))


def _avg_pool_1x3x3(C, stride, affine) -> nn.Module:
    # = nn.AvgPool3d((1, 3, 3), stride, (0, 1, 1), count_include_pad=False), which refuses maps under 3×3.
    return FrameAvgPool(3, video_stride(stride))


def _max_pool_3x3x3(C, stride, affine) -> nn.Module:
    return nn.MaxPool3d(3, stride=video_stride(stride), padding=1)


def _sep_conv_1x3x3(C, stride, affine) -> nn.Module:
    return SepConv3d(C, C, (1, 3, 3), video_stride(stride), (0, 1, 1), affine)


def _sep_conv_1x5x5(C, stride, affine) -> nn.Module:
    return SepConv3d(C, C, (1, 5, 5), video_stride(stride), (0, 2, 2), affine)


def _dil_conv_1x3x3(C, stride, affine) -> nn.Module:
    # Dilation (1, 2, 2): a 1×3×3 kernel that sees a 1×5×5 window, once.
    return DilConv3d(C, C, (1, 3, 3), video_stride(stride), (0, 2, 2), (1, 2, 2), affine)


def _dil_conv_1x5x5(C, stride, affine) -> nn.Module:
    return DilConv3d(C, C, (1, 5, 5), video_stride(stride), (0, 4, 4), (1, 2, 2), affine)


def _sep3d_conv_3x3x3(C, stride, affine) -> nn.Module:
    return Sep3dConv(C, C, 3, 3, video_stride(stride), affine)


def _sep3d_conv_3x5x5(C, stride, affine) -> nn.Module:
    return Sep3dConv(C, C, 3, 5, video_stride(stride), affine)


def _dil_sep3d_conv_3x3x3(C, stride, affine) -> nn.Module:
    # Dilation 2 in T, H and W (blocks3d explains why): a 3×3×3 window spread over 5×5×5, once.
    return DilSep3dConv(C, C, 3, 3, video_stride(stride), 2, affine)


def _channel_scale(C, stride, affine) -> nn.Module:
    return ChannelScale(C, video_stride(stride), affine)


def _channel_bias(C, stride, affine) -> nn.Module:
    return ChannelBias(C, video_stride(stride), affine)


def _make(name: str, ops) -> OpSet:
    op_set = new_op_set(name, ndim=3)
    for op_name, kind, builder in ops:
        op_set.register(op_name, kind)(builder)
    return op_set


# The three sets share builders; each row is (name, kind, builder) in α's column order.
VIDEO_O2D = _make("video_o2d", [
    ("skip_connect", "identity", _identity),   # a FactorizedReduce3d in a reduction cell
    ("max_pool_1x3x3", "pool", _max_pool_1x3x3),
    ("avg_pool_1x3x3", "pool", _avg_pool_1x3x3),
    ("sep_conv_1x3x3", "conv", _sep_conv_1x3x3),
    ("sep_conv_1x5x5", "conv", _sep_conv_1x5x5),
    ("dil_conv_1x3x3", "conv", _dil_conv_1x3x3),
    ("dil_conv_1x5x5", "conv", _dil_conv_1x5x5),
])

VIDEO_O3D = _make("video_o3d", [
    ("skip_connect", "identity", _identity),
    ("max_pool_1x3x3", "pool", _max_pool_1x3x3),
    ("sep_conv_1x3x3", "conv", _sep_conv_1x3x3),
    ("sep_conv_1x5x5", "conv", _sep_conv_1x5x5),
    ("dil_conv_1x3x3", "conv", _dil_conv_1x3x3),
    ("max_pool_3x3x3", "pool", _max_pool_3x3x3),
    ("sep3d_conv_3x3x3", "conv", _sep3d_conv_3x3x3),
    ("sep3d_conv_3x5x5", "conv", _sep3d_conv_3x5x5),
    ("dil_sep3d_conv_3x3x3", "conv", _dil_sep3d_conv_3x3x3),
])

VIDEO_OADV = _make("video_oadv", [
    ("skip_connect", "identity", _identity),
    ("max_pool_1x3x3", "pool", _max_pool_1x3x3),
    ("sep_conv_1x3x3", "conv", _sep_conv_1x3x3),
    ("sep_conv_1x5x5", "conv", _sep_conv_1x5x5),
    ("max_pool_3x3x3", "pool", _max_pool_3x3x3),
    ("sep3d_conv_3x3x3", "conv", _sep3d_conv_3x3x3),
    ("sep3d_conv_3x5x5", "conv", _sep3d_conv_3x5x5),
    ("channel_scale", "channelwise", _channel_scale),
    ("channel_bias", "channelwise", _channel_bias),
])


__all__ = ["VIDEO_O2D", "VIDEO_O3D", "VIDEO_OADV", "VIDEO_STRIDES", "video_stride"]
