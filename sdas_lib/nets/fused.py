"""The fused supernet path: the mixed edges that read one node, computed together (O2D).

The per-op modules of :class:`~sdas_lib.nets.supernet.SearchEdge` are the readable reference: each
edge runs its 7 ops one by one and sums them, Σ_o softmax(α)_o · sigmoid(β) · o(x) (Eq. 2). That is
about 30 small modules per edge, and on the CPU most of an iteration's cost is the fixed cost of
those calls, not arithmetic. Here the n mixed edges that read one node x (N, C, H, W) — all with the
same stride — run as a handful of calls, reading the same parameters and BN buffers:

- **channels-last throughout**: x is taken NHWC (the searches' format) and every stack stays NHWC.
  oneDNN's CPU kernels for depthwise convs, pools and BN are 2–6× faster in NHWC than in NCHW at
  these sizes, and an NCHW stack would undo the format the rest of the network runs in;
- **one ReLU** of x, shared by every conv op and factorized reduction of those edges;
- **stage 1, two depthwise convs** of the ReLU repeated over 2n channel blocks
  (:func:`~sdas_lib.ops.depthwise.repeated_depthwise`: the repeat lives in the forward only):
  [sep_conv_3x3 | sep_conv_5x5] × edges as 5×5 kernels (a 3×3 embedded in 5×5,
  :func:`~sdas_lib.ops.stacked.embed_kernel`), and [dil_conv_3x3 | dil_conv_5x5] × edges as 5×5
  kernels of dilation 2 (a 3×3 of dilation 2 is the centre of one);
- for each of the two, **one grouped pointwise conv** (2n groups) and **one BN** over the 2n·C
  stacked channels;
- **stage 2**, the second halves of the two sep convs: one ReLU, one 5×5 depthwise conv, one
  grouped pointwise conv (2n groups), one BN;
- **the pools** once each (the input and stride are shared), then their BNs together
  (:func:`~sdas_lib.ops.stacked.shared_batch_norm`); the identity, or the n factorized reductions
  as two convs and one BN;
- **the mixing** (Eq. 2), coefficient c[e, o] = softmax(α)_e,o · sigmoid(β)_e: a conv op's output
  ends in a non-affine BN, so c scales it inside that BN call, as BN's own per-channel weight
  (:func:`~sdas_lib.ops.stacked.stacked_batch_norm`'s ``scale``), and the four conv ops of an edge
  are then plain sums of its blocks; the pools and the identity (or reduction) are added with
  ``addcmul``. The result is (N, H', W', n, C) in memory, one NHWC view per edge; ``unbind`` over
  the edges makes its backward one stack, where n index calls would each fill a zero tensor of
  the whole stack.

Every op's output is the one its module computes (to float rounding; the sums run in another
order), so forward values, the gradients of every weight and of α and β, and the BN running
statistics match the reference (tests/test_fused.py). Decided edges are not fused: they run their
one op, as in the discrete network.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.depthwise import repeated_depthwise
from ..ops.stacked import block_scale, embed_kernel, shared_batch_norm, stacked_batch_norm

FUSED_OP_SETS = ("o2d", "video_o2d", "video_o3d", "video_oadv")
"""Op sets whose searches run fused: every op set (the video ones: :mod:`sdas_lib.nets.fused_video`).
Video O2D joined once its average pool stopped handing PyTorch's CPU ``batch_norm`` backward
(1×1 maps) strides it misreads (:class:`~sdas_lib.ops.blocks3d.FrameAvgPool`); until then both
paths' gradients were wrong there, each differently."""

O2D_ORDER = ("skip_connect", "max_pool_3x3", "avg_pool_3x3", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


def _nhwc(y: torch.Tensor, *blocks: int) -> torch.Tensor:
    """y (N, K·C, H, W) as (N, H, W, *blocks, C): a view when y is channels-last (its channels innermost)."""
    N, _, H, W = y.shape
    return y.permute(0, 2, 3, 1).reshape(N, H, W, *blocks, -1)


def _scale(c: torch.Tensor) -> torch.Tensor:
    """Coefficients (n,) as (1, 1, 1, n, 1), to scale (N, H, W, n, C) outputs."""
    return c.reshape(1, 1, 1, -1, 1)


def mixed_o2d_edges(x: torch.Tensor, edges: Sequence[nn.Module], coefs: torch.Tensor) -> list[torch.Tensor]:
    """Σ_o coefs[k, o] · o_k(x) for each of the n mixed O2D edges ``edges`` reading x: n tensors (N, C, H', W').

    Args:
        x: the node all the edges read (N, C, H, W).
        edges: undecided :class:`~sdas_lib.nets.supernet.SearchEdge` modules with the same stride.
        coefs: (n, 7) softmax(α) · sigmoid(β) per edge, in the op set's column order (Eq. 2).
    """
    n = len(edges)
    x = x.contiguous(memory_format=torch.channels_last)  # computed in NHWC (see the module docstring)
    N, C = x.shape[:2]
    sep3, sep5, dil3, dil5 = ([e.ops[name] for e in edges] for name in O2D_ORDER[3:])
    pool_max, pool_avg = ([e.ops[name] for e in edges] for name in O2D_ORDER[1:3])
    s = dil3[0][1].stride[0]
    cat = torch.cat
    r = F.relu(x)  # (N, C, H, W), shared by every conv op and factorized reduction

    # Stage 1 of the sep convs, [sep3 | sep5] × edges (op-major channel blocks of C; sep3's 3×3 kernels
    # embedded in 5×5), and the dil convs, [dil3 | dil5] × edges, as 5×5 kernels of dilation 2 (dil3's
    # 3×3 of dilation 2 is the centre of one): two depthwise convs of r repeated 2n times.
    firsts = [m[0] for m in sep3] + [m[0] for m in sep5]  # ReLU-depthwise-pointwise-BN blocks
    k = cat([embed_kernel(cat([m[1].weight for m in firsts[:n]]), 5), cat([m[1].weight for m in firsts[n:]])])
    y1 = F.conv2d(repeated_depthwise(r, k, 2 * n, s, 2), cat([m[2].weight for m in firsts]), groups=2 * n)
    y1 = stacked_batch_norm(y1, [m[3] for m in firsts])  # (N, 2nC, H', W')
    dils = dil3 + dil5
    k = cat([embed_kernel(cat([m[1].weight for m in dil3]), 5), cat([m[1].weight for m in dil5])])
    yd = F.conv2d(repeated_depthwise(r, k, 2 * n, s, 4, 2), cat([m[2].weight for m in dils]), groups=2 * n)
    # Eq. 2's coefficients scale the BN outputs in the BN call itself (its affine weight)
    yd = stacked_batch_norm(yd, [m[3] for m in dils], block_scale(coefs[:, 5:7], C))

    # Stage 2: the second halves of sep3 and sep5, stride 1.
    seconds = [m[1] for m in sep3] + [m[1] for m in sep5]
    k = cat([embed_kernel(cat([m[1].weight for m in seconds[:n]]), 5), cat([m[1].weight for m in seconds[n:]])])
    y2 = F.conv2d(repeated_depthwise(F.relu(y1), k, 1, 1, 2), cat([m[2].weight for m in seconds]), groups=2 * n)
    y2 = stacked_batch_norm(y2, [m[3] for m in seconds], block_scale(coefs[:, 3:5], C))

    (a, b), (c, e) = _nhwc(y2, 2, n).unbind(3), _nhwc(yd, 2, n).unbind(3)
    out = a + b + c + e  # the four conv ops, mixed: (N, H', W', n, C)
    # The pools: computed once (same input, same stride), then each edge's own BN.
    mx = shared_batch_norm(F.max_pool2d(x, 3, s, 1), [m[1] for m in pool_max])  # (N, 1 or n, C, H', W')
    av = shared_batch_norm(F.avg_pool2d(x, 3, s, 1, count_include_pad=False), [m[1] for m in pool_avg])
    out = torch.addcmul(out, mx.permute(0, 3, 4, 1, 2), _scale(coefs[:, 1]))
    out = torch.addcmul(out, av.permute(0, 3, 4, 1, 2), _scale(coefs[:, 2]))
    if s == 1:
        out = torch.addcmul(out, _nhwc(x, 1), _scale(coefs[:, 0]))  # the identity
    else:  # factorized reductions: conv_1 on the even grid and conv_2 on the odd one, each edge's halves side by side
        fr = [e.ops["skip_connect"] for e in edges]
        a = F.conv2d(r, cat([f.conv_1.weight for f in fr]), stride=2)  # (N, n·C/2, H', W')
        b = F.conv2d(r[:, :, 1:, 1:], cat([f.conv_2.weight for f in fr]), stride=2)
        z = torch.stack([_nhwc(a, n), _nhwc(b, n)], 4).flatten(3).permute(0, 3, 1, 2)  # (N, n·C, H', W'), NHWC
        z = stacked_batch_norm(z, [f.bn for f in fr])
        out = torch.addcmul(out, _nhwc(z, n), _scale(coefs[:, 0]))
    return [o.permute(0, 3, 1, 2) for o in out.unbind(3)]  # NHWC views (N, C, H', W'): unbind's backward stacks NHWC


__all__ = ["FUSED_OP_SETS", "mixed_o2d_edges"]
