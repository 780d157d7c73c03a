"""The fused supernet path: the mixed edges that read one node, computed together (O2D).

The per-op modules of :class:`~sdas_lib.nets.supernet.SearchEdge` are the readable reference: each
edge runs its 7 ops one by one and sums them, Σ_o softmax(α)_o · sigmoid(β) · o(x) (Eq. 2). That is
about 30 small modules per edge, and on the CPU most of an iteration's cost is the fixed cost of
those calls, not arithmetic. Here the n mixed edges that read one node x (N, C, H, W) — all with the
same stride — run as a handful of calls, reading the same parameters and BN buffers:

- **one ReLU** of x, shared by every conv op and factorized reduction of those edges;
- **stage 1, one depthwise conv** for the first depthwise conv of sep_conv_3x3, sep_conv_5x5 and
  dil_conv_3x3 of every edge (x repeated over 3n channel blocks), their kernels embedded in 5×5
  (:func:`~sdas_lib.ops.stacked.embed_kernel`); dil_conv_5x5 spans 9×9 and runs as its own
  depthwise conv (``dil5_apart``, the default) or embedded in 9×9 with the rest;
- **one grouped pointwise conv** (4n groups, as one batched matrix product) and **one BN** over the 4n·C stacked channels;
- **stage 2**, the second halves of the two sep convs: one ReLU, one 5×5 depthwise conv, one
  grouped pointwise conv (2n groups), one BN;
- **the pools** once each (the input and stride are shared), then their BNs together
  (:func:`~sdas_lib.ops.stacked.shared_batch_norm`); the identity, or the n factorized reductions
  as two convs and one BN;
- **the mixing** (Eq. 2) as weighted reductions over the stacked outputs, one coefficient row
  softmax(α)_e · sigmoid(β)_e per edge: (N, n, C, H', W'), edge k's result at [:, k]
  (the cell takes them apart with ``unbind``: one backward call, where n index calls would each
  fill a zero tensor of the whole stack).

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

from ..ops.stacked import depthwise_conv, embed_kernel, shared_batch_norm, stacked_batch_norm

FUSED_OP_SETS = ("o2d", "video_o2d", "video_o3d", "video_oadv")
"""Op sets whose searches run fused: every op set (the video ones: :mod:`sdas_lib.nets.fused_video`).
Video O2D joined once its average pool stopped handing PyTorch's CPU ``batch_norm`` backward
(1×1 maps) strides it misreads (:class:`~sdas_lib.ops.blocks3d.FrameAvgPool`); until then both
paths' gradients were wrong there, each differently."""

O2D_ORDER = ("skip_connect", "max_pool_3x3", "avg_pool_3x3", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


def _scale(c: torch.Tensor) -> torch.Tensor:
    """Coefficients (n,) as (1, n, 1, 1, 1), to scale (N, n, C, H, W) outputs."""
    return c.reshape(1, -1, 1, 1, 1)


def _mix(y: torch.Tensor, c: torch.Tensor, n: int) -> torch.Tensor:
    """Σ_o c[e, o] · y[:, o, e] for y (N, m·n·C, H, W) stacked op-major and c (n, m): (N, n, C, H, W)."""
    N, _, H, W = y.shape
    m = c.shape[1]
    return (y.view(N, m, n, -1, H, W) * c.t().reshape(1, m, n, 1, 1, 1)).sum(1)


def grouped_pointwise(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight, groups=G)`` for 1×1 kernels weight (G·C_out, C, 1, 1) on x (N, G·C, H, W),
    as one batched matrix product: oneDNN's grouped 1×1 convs are many times slower at these sizes.
    The same for clips: 1×1×1 kernels (G·C_out, C, 1, 1, 1) on x (N, G·C, T, H, W)."""
    N, S = x.shape[0], x.shape[2:]
    G = x.shape[1] // weight.shape[1]
    y = torch.matmul(weight.view(G, -1, weight.shape[1]), x.reshape(N, G, x.shape[1] // G, -1))  # (N, G, C_out, H·W)
    return y.view(N, -1, *S)


def mixed_o2d_edges(x: torch.Tensor, edges: Sequence[nn.Module], coefs: torch.Tensor, dil5_apart: bool = True) -> torch.Tensor:
    """Σ_o coefs[k, o] · o_k(x) for each of the n mixed O2D edges ``edges`` reading x: (N, n, C, H', W').

    Args:
        x: the node all the edges read (N, C, H, W).
        edges: undecided :class:`~sdas_lib.nets.supernet.SearchEdge` modules with the same stride.
        coefs: (n, 7) softmax(α) · sigmoid(β) per edge, in the op set's column order (Eq. 2).
        dil5_apart: dil_conv_5x5's depthwise conv alone (5×5, dilation 2) rather than embedded in 9×9.
    """
    n = len(edges)
    N, C = x.shape[:2]
    sep3, sep5, dil3, dil5 = ([e.ops[name] for e in edges] for name in O2D_ORDER[3:])
    pool_max, pool_avg = ([e.ops[name] for e in edges] for name in O2D_ORDER[1:3])
    s = dil3[0][1].stride[0]
    cat = torch.cat
    r = F.relu(x)  # (N, C, H, W), shared by every conv op and factorized reduction

    # Stage 1: [sep3 | sep5 | dil3 | dil5] × edges, op-major channel blocks of C.
    firsts = [m[0] for m in sep3] + [m[0] for m in sep5] + dil3 + dil5  # ReLU-depthwise-pointwise-BN blocks
    k_sep3 = embed_kernel(cat([m[1].weight for m in firsts[:n]]), 5)
    k_sep5 = cat([m[1].weight for m in firsts[n : 2 * n]])
    k_dil3 = embed_kernel(cat([m[1].weight for m in dil3]), 5, 2)
    k_dil5 = cat([m[1].weight for m in dil5])
    if dil5_apart:
        d = cat([
            depthwise_conv(r.repeat(1, 3 * n, 1, 1), cat([k_sep3, k_sep5, k_dil3]), s, 2),
            depthwise_conv(r.repeat(1, n, 1, 1), k_dil5, s, 4, 2),
        ], 1)
    else:
        k9 = cat([embed_kernel(k_sep3, 9), embed_kernel(k_sep5, 9), embed_kernel(k_dil3, 9), embed_kernel(k_dil5, 9, 2)])
        d = depthwise_conv(r.repeat(1, 4 * n, 1, 1), k9, s, 4)  # (N, 4nC, H', W')
    y1 = grouped_pointwise(d, cat([m[2].weight for m in firsts]))
    y1 = stacked_batch_norm(y1, [m[3] for m in firsts])  # (N, 4nC, H', W')
    y1_sep, y1_dil = y1.split(2 * n * C, 1)  # (split, not slicing: its backward is one cat)

    # Stage 2: the second halves of sep3 and sep5, stride 1.
    seconds = [m[1] for m in sep3] + [m[1] for m in sep5]
    k2 = cat([embed_kernel(cat([m[1].weight for m in seconds[:n]]), 5), cat([m[1].weight for m in seconds[n:]])])
    y2 = depthwise_conv(F.relu(y1_sep), k2, 1, 2)
    y2 = stacked_batch_norm(grouped_pointwise(y2, cat([m[2].weight for m in seconds])), [m[3] for m in seconds])

    out = _mix(y2, coefs[:, 3:5], n) + _mix(y1_dil, coefs[:, 5:7], n)  # (N, n, C, H', W')
    # The pools: computed once (same input, same stride), then each edge's own BN.
    mx = shared_batch_norm(F.max_pool2d(x, 3, s, 1), [m[1] for m in pool_max])  # (N, 1 or n, C, H', W')
    av = shared_batch_norm(F.avg_pool2d(x, 3, s, 1, count_include_pad=False), [m[1] for m in pool_avg])
    out = torch.addcmul(out, mx, _scale(coefs[:, 1]))
    out = torch.addcmul(out, av, _scale(coefs[:, 2]))
    if s == 1:
        return torch.addcmul(out, x.unsqueeze(1), _scale(coefs[:, 0]))  # the identity
    # Factorized reductions: conv_1 on the even grid and conv_2 on the odd one, each edge's halves side by side.
    fr = [e.ops["skip_connect"] for e in edges]
    a = F.conv2d(r, cat([f.conv_1.weight for f in fr]), stride=2)  # (N, n·C/2, H', W')
    b = F.conv2d(r[:, :, 1:, 1:], cat([f.conv_2.weight for f in fr]), stride=2)
    H, W = a.shape[2:]
    z = torch.stack([a.view(N, n, -1, H, W), b.view(N, n, -1, H, W)], 2).view(N, -1, H, W)  # (N, n·C, H', W')
    z = stacked_batch_norm(z, [f.bn for f in fr]).view(N, n, -1, H, W)
    return torch.addcmul(out, z, _scale(coefs[:, 0]))


__all__ = ["FUSED_OP_SETS", "mixed_o2d_edges"]
