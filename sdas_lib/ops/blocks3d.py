"""3D building blocks of the video ops and cells, in the ReLU-Conv-BN order of the paper (§4.2).

Features are (N, C, T, H, W). Every kernel, stride, padding and dilation is ordered (T, H, W); an
int means the same value in all three. Strides are those of the video cell types: (1, 1, 1) in a
normal cell, (1, 2, 2) in an S-reduction cell and (2, 2, 2) in an ST-reduction cell (docs/paper_notes.md).

Choices the paper leaves open, made here (docs/paper_notes.md "Operation sets"):

- **Strided identity** (the identity on an input edge of a reduction cell):
  :class:`FactorizedReduce3d`, DARTS' FactorizedReduce with 1×1×1 convs. Two 1×1×1 convs with the
  cell's stride read two sampling grids, the second offset by one step along every strided
  dimension (the 2D version's diagonal offset, extended to time under (2, 2, 2)); each gives half
  of the output channels.
- **Strided scale and bias**: the strided identity followed by the channel-wise op, so that in a
  reduction cell scale and bias act on the reduced identity as in a normal cell they act on the
  identity (``ChannelScale(C, stride=(1, 2, 2))``).
- **Separable-3d conv with a stride**: both parallel branches (1×k×k and k_t×1×1) carry the whole
  stride, so their outputs have the same shape and can be summed.
- **3×3×3 dilated separable-3d conv**: dilation 2 in all three dimensions, i.e. (1, 2, 2) in the
  spatial branch and (2, 1, 1) in the temporal one, so its window spans 5×5×5 frames and pixels.
  The name says 3×3×3, and the 2D dilated conv dilates every dimension its kernel has; the
  spatial-only variant is already in the set as the 1×3×3 dilated conv.
- **Reduction ratio of the channel-wise ops**: r = 4 rather than SENet's 16, with at least
  min(C, 4) hidden units: hidden width max(C // 4, min(C, 4)). SENet's channels are 64 to 2048;
  the per-node widths here are 16 in search (C2 = 64), 32 in evaluation (C2 = 128) and 4 to 8 in
  the tiny CPU presets, where r = 16 would leave one hidden unit or none, and a single ReLU unit
  that starts dead leaves the op a constant. SENet's ablation (its Table 10) finds r = 4 to 16
  about equally good.

State-dict layouts (what a checkpoint holds):

- :class:`ReLUConvBN3d`, :class:`DilConv3d`: a Sequential ``1.weight`` (conv), ... , BN last.
- :class:`SepConv3d`, :class:`Sep3dConv`: a Sequential of two single applications, ``0.*`` and ``1.*``.
- :class:`DilSep3dConv`: ``spatial.weight`` (C, 1, 1, k, k), ``temporal.weight`` (C, 1, k_t, 1, 1),
  ``pointwise.weight`` (C_out, C, 1, 1, 1), ``bn.*``.
- :class:`FactorizedReduce3d`: ``conv_1.weight``, ``conv_2.weight`` (C_out/2, C_in, 1, 1, 1), ``bn.*``.
- :class:`ChannelScale`, :class:`ChannelBias`: ``fc1.weight`` (hidden, C), ``fc1.bias``,
  ``fc2.weight`` (C, hidden), ``fc2.bias``; the strided forms add ``reduce.*`` (a
  :class:`FactorizedReduce3d`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SdasError
from .depthwise import DepthwiseConv3d

Triple = tuple[int, int, int]


def _channels_last_3d_strides(shape) -> tuple[int, ...]:
    """The strides ``contiguous(memory_format=torch.channels_last_3d)`` gives a (N, C, T, H, W) tensor."""
    N, C, T, H, W = shape
    return (T * H * W * C, 1, H * W * C, W * C, C)


def triple(value) -> Triple:
    """An int or a (T, H, W) sequence as a (T, H, W) tuple of ints."""
    if isinstance(value, int):
        return (value, value, value)
    value = tuple(value)
    if len(value) != 3 or not all(isinstance(v, int) for v in value):
        raise SdasError(f"3D blocks take an int or a (T, H, W) triple of ints, got {value!r}")
    return value


def _same_padding(kernel: Triple, dilation: Triple) -> Triple:
    # Odd kernels only: padding d·(k-1)/2 keeps each size at stride 1 and gives ceil(D/s) at stride s.
    return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))


class ReLUConvBN3d(nn.Sequential):
    """ReLU -> Conv3d(kernel, stride) -> BN: the 1×1×1 cell-input preprocessing and conv stem block."""

    def __init__(self, C_in: int, C_out: int, kernel, stride, padding, affine: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv3d(C_in, C_out, triple(kernel), stride=triple(stride), padding=triple(padding), bias=False),
            nn.BatchNorm3d(C_out, affine=affine),
        )


class DilConv3d(nn.Sequential):
    """ReLU -> depthwise (dilated) conv -> pointwise 1×1×1 conv -> BN, applied once.

    With a 1×k×k kernel and dilation (1, 2, 2) this is the video O2D/O3D "1×k×k dilated separable
    conv"; with dilation 1 it is one half of :class:`SepConv3d`.
    """

    def __init__(self, C_in: int, C_out: int, kernel, stride, padding, dilation, affine: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            DepthwiseConv3d(C_in, triple(kernel), triple(stride), triple(padding), triple(dilation)),
            nn.Conv3d(C_in, C_out, 1, bias=False),
            nn.BatchNorm3d(C_out, affine=affine),
        )


class SepConv3d(nn.Sequential):
    """Separable conv applied twice (DARTS): [ReLU -> depthwise -> pointwise 1×1×1 -> BN] × 2.

    Only the first depthwise conv carries the stride. The video ops use 1×k×k kernels (each frame
    on its own, §4.2).
    """

    def __init__(self, C_in: int, C_out: int, kernel, stride, padding, affine: bool):
        super().__init__(
            DilConv3d(C_in, C_in, kernel, stride, padding, 1, affine),
            DilConv3d(C_in, C_out, kernel, 1, padding, 1, affine),
        )


class DilSep3dConv(nn.Module):
    """One separable-3d conv (Fig. 6a), applied once: ReLU -> [depthwise 1×k×k ‖ depthwise k_t×1×1]
    summed -> pointwise 1×1×1 -> BN.

    The two depthwise convs run in parallel on the same input, as P3D-B does; their sum simulates a
    k_t×k×k depthwise conv. Both carry the whole stride, so their outputs match in shape.

    Args:
        C_in, C_out: channels. kernel_t: temporal size k_t. kernel_s: spatial size k (odd sizes).
        stride: (T, H, W) stride. dilation: int or (T, H, W); the spatial branch uses its H, W
            entries and the temporal branch its T entry (2 for the 3×3×3 dilated op).
        affine: BN with learnable scale and shift (False in the supernet).
    """

    def __init__(self, C_in: int, C_out: int, kernel_t: int, kernel_s: int, stride, dilation, affine: bool):
        super().__init__()
        stride, (dt, dh, dw) = triple(stride), triple(dilation)
        ks, kt = (1, kernel_s, kernel_s), (kernel_t, 1, 1)
        ds, dtm = (1, dh, dw), (dt, 1, 1)
        self.relu = nn.ReLU(inplace=False)
        self.spatial = DepthwiseConv3d(C_in, ks, stride, _same_padding(ks, ds), ds)
        self.temporal = DepthwiseConv3d(C_in, kt, stride, _same_padding(kt, dtm), dtm)
        self.pointwise = nn.Conv3d(C_in, C_out, 1, bias=False)
        self.bn = nn.BatchNorm3d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)  # (N, C_in, T, H, W)
        x = self.spatial(x) + self.temporal(x)  # (N, C_in, T/s_t, H/s_h, W/s_w)
        return self.bn(self.pointwise(x))  # (N, C_out, ...)


class Sep3dConv(nn.Sequential):
    """Separable-3d conv applied twice, like :class:`SepConv3d`: two :class:`DilSep3dConv` of
    dilation 1, only the first carrying the stride."""

    def __init__(self, C_in: int, C_out: int, kernel_t: int, kernel_s: int, stride, affine: bool):
        super().__init__(
            DilSep3dConv(C_in, C_in, kernel_t, kernel_s, stride, 1, affine),
            DilSep3dConv(C_in, C_out, kernel_t, kernel_s, 1, 1, affine),
        )


class FactorizedReduce3d(nn.Module):
    """Strided identity: ReLU, two 1×1×1 strided convs on grids offset by one, concat, BN.

    It maps C_in to C_out channels (C_out even) and divides T, H, W by ``stride``: (1, 2, 2) for
    an S-reduction, (2, 2, 2) for an ST-reduction (any (T, H, W) of 1s and 2s that reduces). The
    second grid is offset by one along every strided dimension. Its far end is zero-padded by one
    there, so an odd length D (or T = 1) gives ceil(D/2) like the padded pools and convs of the
    same cell; for even lengths the padding is never sampled and this is DARTS' FactorizedReduce.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True, stride=(1, 2, 2)):
        super().__init__()
        if C_out % 2:
            raise SdasError(f"FactorizedReduce3d needs an even channel count, got {C_out}")
        stride = stride if isinstance(stride, int) else tuple(stride)
        if isinstance(stride, int) or len(stride) != 3 or any(s not in (1, 2) for s in stride) or 2 not in stride:
            raise SdasError(
                f"a 3D factorized reduction takes a (T, H, W) stride of 1s and 2s that reduces, "
                f"such as (1, 2, 2) or (2, 2, 2); got {stride!r}"
            )
        self.stride: Triple = stride
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv3d(C_in, C_out // 2, 1, stride=stride, bias=False)
        self.conv_2 = nn.Conv3d(C_in, C_out // 2, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm3d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)  # (N, C_in, T, H, W)
        st, sh, sw = (s - 1 for s in self.stride)  # 1 where the dimension is strided
        # Shift by one along each strided dim, then pad one zero at its far end: same length as x.
        shifted = F.pad(x[:, :, st:, sh:, sw:], (0, sw, 0, sh, 0, st))
        out = torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1)  # (N, C_out, T/st, H/sh, W/sw)
        return self.bn(out)

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


class FrameAvgPool(nn.Module):
    """1×k×k average pooling (padding k//2, padding not counted), computed frame by frame with
    ``avg_pool2d``. ``nn.AvgPool3d`` would be the same, but it refuses inputs smaller than its kernel
    even when padded, and the video network's last maps are 2×2 and 1×1 for the tiny 16×16 clips.

    A temporal stride s keeps frames 0, s, 2s, ...: ceil(T/s) frames, as a 1-frame kernel of stride s does.

    Layouts: a channels-last-3d clip (strides exactly those of ``contiguous(memory_format=
    torch.channels_last_3d)``) at temporal stride 1 is pooled as N·T 2D channels-last frames, all
    views; any other clip as N images of C·T channels (each (sample, channel, frame) plane is pooled
    on its own), views for a contiguous clip at temporal stride 1. Nothing else transposes frames
    and channels: on a (N, C, T, 1, 1) map that gives strides (T·C, 1, C, 1, 1), channels-last by
    ``is_contiguous`` but contiguous by ``suggest_memory_format``, and PyTorch's CPU ``batch_norm``
    backward (checked with 2.14) reads such an input or output gradient in the wrong order: wrong
    gradients, with no error (tests/test_fused.py pins it).
    """

    def __init__(self, kernel: int = 3, stride=1):
        super().__init__()
        self.kernel, self.stride = kernel, triple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        st, sh, sw = self.stride
        N, C, T, H, W = x.shape
        k = self.kernel
        if st == 1 and x.stride() == _channels_last_3d_strides(x.shape):
            frames = x.transpose(1, 2).reshape(N * T, C, H, W)  # a view, channels-last frames
            y = F.avg_pool2d(frames, k, (sh, sw), k // 2, count_include_pad=False)
            return y.reshape(N, T, C, *y.shape[-2:]).transpose(1, 2)  # (N, C, T, H', W'), channels-last-3d
        x = x[:, :, ::st]  # (N, C, T', H, W)
        T = x.shape[2]
        y = F.avg_pool2d(x.reshape(N, C * T, H, W), k, (sh, sw), k // 2, count_include_pad=False)
        return y.reshape(N, C, T, *y.shape[-2:])  # (N, C, T', H', W')

    def extra_repr(self) -> str:
        return f"kernel=(1, {self.kernel}, {self.kernel}), stride={self.stride}, count_include_pad=False"


class _ChannelwiseOp(nn.Module):
    """The SENet branch shared by scale and bias: global avg pool -> FC -> ReLU -> FC, one value
    per channel, preceded by a :class:`FactorizedReduce3d` when ``stride`` reduces."""

    def __init__(self, C: int, stride=1, affine: bool = True, reduction: int = 4):
        super().__init__()
        stride = triple(stride)
        self.reduce = FactorizedReduce3d(C, C, affine, stride) if stride != (1, 1, 1) else None
        hidden = max(C // reduction, min(C, 4))  # r = 4, never fewer than 4 units (module docstring)
        self.fc1 = nn.Linear(C, hidden)
        self.relu = nn.ReLU(inplace=False)
        self.fc2 = nn.Linear(hidden, C)

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N, C, 1, 1, 1): the per-channel value before sigmoid."""
        z = x.mean(dim=tuple(range(2, x.dim())))  # (N, C) global average pool
        z = self.fc2(self.relu(self.fc1(z)))  # (N, C)
        return z.view(*z.shape, *([1] * (x.dim() - 2)))

    def reduced(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.reduce is None else self.reduce(x)


class ChannelScale(_ChannelwiseOp):
    """Channel-wise scale (Fig. 6b, SENet): x · sigmoid(FC(ReLU(FC(avgpool(x))))), one factor per channel.

    Args:
        C: channels. stride: (T, H, W); a reducing stride puts a :class:`FactorizedReduce3d`
            (BN ``affine`` as given) before the op. reduction: r, the hidden width is C // r
            (at least min(C, 4)).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduced(x)
        return x * torch.sigmoid(self.context(x))  # (N, C, T, H, W) · (N, C, 1, 1, 1)


class ChannelBias(_ChannelwiseOp):
    """Channel-wise bias (Fig. 6c): x + FC(ReLU(FC(avgpool(x)))), one bias per channel broadcast
    over every position. Args as :class:`ChannelScale`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduced(x)
        return x + self.context(x)  # (N, C, T, H, W) + (N, C, 1, 1, 1)


__all__ = [
    "triple", "ReLUConvBN3d", "DilConv3d", "SepConv3d", "DilSep3dConv", "Sep3dConv", "FactorizedReduce3d", "FrameAvgPool",
    "ChannelScale", "ChannelBias",
]
