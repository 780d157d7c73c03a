"""The fused supernet path for the video op sets: the mixed edges that read one clip node, computed together.

The video counterpart of :mod:`sdas_lib.nets.fused` (same idea, same parameters, same numbers as the
per-op reference :class:`~sdas_lib.nets.supernet.SearchEdge`, Eq. 2). For the n mixed edges that read
one node x (N, C, T, H, W) with one stride, the conv ops' applications (ReLU -> depthwise -> pointwise
1×1×1 -> BN; a separable conv has two, only the first strided) run as one call per stage:

- **the spatial stack**: the 1×k×k depthwise kernels of every conv op of every edge, embedded in
  1×5×5 (a 1×3×3 of dilation (1, 2, 2) is a 1×5×5 with holes), as one depthwise conv; the 1×5×5
  kernel of dilation 2 (``dil_conv_1x5x5``, 1×9×9 span) runs as its own, as in the image path;
- **the temporal stack, kept apart** (issue 21: 3D depthwise kernels are slow in oneDNN, and a
  k_t×k×k kernel would multiply the work): the k_t×1×1 kernels of the separable-3d ops (Fig. 6a),
  embedded in one k_t (3, or 5 when the 3×3×3 dilated op is in the set), as one depthwise conv,
  added to those ops' spatial outputs;
- **one grouped pointwise conv** (a batched matrix product) and **one BN** over the stacked channels;
- the pools once each (same input, same stride), then their BNs together; the identity, or each
  edge's 3D factorized reduction; the channel-wise scale and bias (Oadv) per edge;
- the mixing (Eq. 2): each conv op's last BN scales its output by the op's coefficient
  softmax(α)·sigmoid(β) in the BN call (BN's own per-channel weight, as in the image path), and the
  ops of an edge are summed; the other ops are added with their coefficients.

Both depthwise stacks go through :func:`~sdas_lib.ops.depthwise.depthwise_conv3d`, the routing of the
reference's :class:`~sdas_lib.ops.depthwise.DepthwiseConv3d` (3D in the w step, as 2D views in the
α/β step). Blocks are ordered so that every stack is a contiguous channel range:
[twice, spatial only | twice, separable-3d | once, separable-3d | once, spatial only | once, apart].
tests/test_fused.py checks outputs, gradients of every weight and of α/β, and BN statistics against
the reference in train and eval mode, before and after decisions, for all three op sets; and, since
two equal answers can be equally wrong, the gradients of both paths against finite differences on
video O2D, whose last cell (1×1 maps, 2 frames) once gave both paths wrong gradients: the average
pool's output (N, C, T, 1, 1) had strides that PyTorch's CPU ``batch_norm`` backward misreads
(:class:`~sdas_lib.ops.blocks3d.FrameAvgPool` says which).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..ops.blocks3d import DilConv3d, DilSep3dConv, Sep3dConv, SepConv3d
from ..ops.depthwise import depthwise_conv3d
from ..ops.stacked import block_scale, embed_kernel, shared_batch_norm, stacked_batch_norm

VIDEO_OPS_HANDLED = ("video_o2d", "video_o3d", "video_oadv")  # all fused in searches (fused.FUSED_OP_SETS)
SPATIAL_SIZE = 5  # the spatial stack's kernel: 1×5×5


def _applications(op: nn.Module) -> list[tuple]:
    """A conv op as its applications, each (spatial depthwise, temporal depthwise or None, pointwise, BN)."""
    if isinstance(op, (SepConv3d, Sep3dConv)):
        return [a for half in op for a in _applications(half)]
    if isinstance(op, DilConv3d):
        return [(op[1], None, op[2], op[3])]
    if isinstance(op, DilSep3dConv):
        return [(op.spatial, op.temporal, op.pointwise, op.bn)]
    raise TypeError(f"not a video conv op: {type(op).__name__}")


def _span(conv: nn.Module) -> int:
    """Spatial span of a 1×k×k depthwise conv: dilation·(k - 1) + 1."""
    return conv.dilation[1] * (conv.kernel_size[1] - 1) + 1


def _category(apps: list[tuple]) -> int:
    """Block order key: 0 twice spatial only, 1 twice separable-3d, 2 once separable-3d, 3 once spatial
    only, 4 once with a spatial span over 5 (apart)."""
    spatial, temporal = apps[0][0], apps[0][1]
    if len(apps) == 2:
        return 1 if temporal is not None else 0
    if temporal is not None:
        return 2
    return 3 if _span(spatial) <= SPATIAL_SIZE else 4


def _spatial_kernel(conv: nn.Module) -> torch.Tensor:
    """A 1×k×k depthwise kernel (C, 1, 1, k, k) as the 1×5×5 kernel of dilation 1 that computes the same."""
    return embed_kernel(conv.weight[:, :, 0], SPATIAL_SIZE, conv.dilation[1]).unsqueeze(2)


def _embed_1d(conv: nn.Module, size: int) -> torch.Tensor:
    """A k_t×1×1 depthwise kernel (C, 1, k_t, 1, 1) as the centred size×1×1 kernel of dilation 1 that
    computes the same (padding size // 2)."""
    w, d = conv.weight, conv.dilation[0]  # (C, 1, k_t, 1, 1)
    k = w.shape[2]
    span = d * (k - 1) + 1
    if span == size and d == 1:
        return w
    off = (size - span) // 2
    big = w.new_zeros(w.shape[0], 1, size, 1, 1)
    big[:, :, off : off + span : d] = w  # zeros stay constants: no gradient
    return big


def grouped_pointwise(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight, groups=G)`` for 1×1 kernels weight (G·C_out, C, 1, 1) on x (N, G·C, H, W),
    as one batched matrix product, for stacks laid out NCHW (this path's): there oneDNN's grouped
    1×1 convs are many times slower at these sizes. On NHWC stacks (the O2D path's, :mod:`.fused`)
    oneDNN's grouped conv is as fast, and the product would need a copy to NCHW first.
    The same for clips: 1×1×1 kernels (G·C_out, C, 1, 1, 1) on x (N, G·C, T, H, W)."""
    N, S = x.shape[0], x.shape[2:]
    G = x.shape[1] // weight.shape[1]
    y = torch.matmul(weight.view(G, -1, weight.shape[1]), x.reshape(N, G, x.shape[1] // G, -1))  # (N, G, C_out, H·W)
    return y.view(N, -1, *S)


def _stage(xs: torch.Tensor, apps: Sequence[tuple], stride, scale: torch.Tensor | None = None) -> torch.Tensor:
    """One application of every block: depthwise (spatial stack + temporal stack, apart kernels on
    their own) -> grouped pointwise -> stacked BN (its outputs times ``scale``, one per channel, if
    given). xs (N, B·C, T, H, W), blocks in category order."""
    B = len(apps)
    C = xs.shape[1] // B
    apart = [a for a in apps if _span(a[0]) > SPATIAL_SIZE]
    n5 = B - len(apart)
    t_idx = [b for b, a in enumerate(apps) if a[1] is not None]
    parts = []
    if n5:
        k5 = torch.cat([_spatial_kernel(a[0]) for a in apps[:n5]])
        d = depthwise_conv3d(xs[:, : n5 * C], k5, stride, (0, 2, 2), (1, 1, 1))  # (N, n5·C, T', H', W')
        if t_idx:
            t0, t1 = t_idx[0], t_idx[-1] + 1
            assert t_idx == list(range(t0, t1)), "separable-3d blocks must be contiguous"
            size = max(a[1].dilation[0] * (a[1].kernel_size[0] - 1) + 1 for a in apps[t0:t1])
            kt = torch.cat([_embed_1d(a[1], size) for a in apps[t0:t1]])
            dt = depthwise_conv3d(xs[:, t0 * C : t1 * C], kt, stride, (size // 2, 0, 0), (1, 1, 1))
            head, mid, tail = d.split([t0 * C, (t1 - t0) * C, (n5 - t1) * C], 1)
            d = torch.cat([head, mid + dt, tail], 1)  # spatial ‖ temporal, summed (Fig. 6a)
        parts.append(d)
    if apart:
        conv = apart[0][0]
        assert all(a[0].dilation == conv.dilation and a[0].kernel_size == conv.kernel_size for a in apart)
        parts.append(depthwise_conv3d(xs[:, n5 * C :], torch.cat([a[0].weight for a in apart]), stride, conv.padding, conv.dilation))
    d = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
    y = grouped_pointwise(d, torch.cat([a[2].weight for a in apps]))
    return stacked_batch_norm(y, [a[3] for a in apps], scale)


def _sum_ops(y: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """Σ_o y[:, o, e] for y (N, m·n·C, *S) stacked op-major, each block already scaled by its
    coefficient (in the BN call): (N, n, C, *S)."""
    return y.view(y.shape[0], m, n, -1, *y.shape[2:]).sum(1)


def _scale(c: torch.Tensor) -> torch.Tensor:
    """Coefficients (n,) as (1, n, 1, 1, 1, 1), to scale (N, n, C, T, H, W) outputs."""
    return c.reshape(1, -1, 1, 1, 1, 1)


def mixed_video_edges(x: torch.Tensor, edges: Sequence[nn.Module], coefs: torch.Tensor, names: Sequence[str], kinds: Sequence[str]) -> torch.Tensor:
    """Σ_o coefs[k, o] · o_k(x) for each of the n mixed video edges ``edges`` reading x: (N, n, C, T', H', W').

    Args:
        x: the node all the edges read (N, C, T, H, W).
        edges: undecided :class:`~sdas_lib.nets.supernet.SearchEdge` modules of a video op set, one stride.
        coefs: (n, n_ops) softmax(α) · sigmoid(β) per edge, in the op set's column order (Eq. 2).
        names, kinds: the op set's op names and kinds, in α's column order.
    """
    n = len(edges)
    conv_cols = [o for o, k in enumerate(kinds) if k == "conv"]
    apps = {o: [_applications(e.ops[names[o]]) for e in edges] for o in conv_cols}
    order = sorted(conv_cols, key=lambda o: _category(apps[o][0]))  # stable: α's order within a category
    twice = [o for o in order if len(apps[o][0]) == 2]
    once = [o for o in order if len(apps[o][0]) == 1]
    stride = apps[order[0]][0][0][0].stride
    r = torch.relu(x)  # (N, C, T, H, W), shared by every conv op
    first = [apps[o][k][0] for o in order for k in range(n)]
    C = x.shape[1]
    # Eq. 2's coefficients scale the last BN of each conv op in the BN call (ops applied twice go on: 1)
    scale = torch.cat([coefs.new_ones(len(twice) * n * C), block_scale(coefs[:, once], C)])
    y1 = _stage(r.repeat(1, len(first), 1, 1, 1), first, stride, scale)  # (N, |order|·n·C, T', H', W')
    y1_twice, y1_once = y1.split([len(twice) * n * C, len(once) * n * C], 1)
    out = None
    if twice:
        second = [apps[o][k][1] for o in twice for k in range(n)]
        y2 = _stage(torch.relu(y1_twice), second, (1, 1, 1), block_scale(coefs[:, twice], C))
        out = _sum_ops(y2, len(twice), n)
    if once:
        m = _sum_ops(y1_once, len(once), n)
        out = m if out is None else out + m
    for o, kind in enumerate(kinds):
        if kind == "pool":  # stateless pool module, computed once; then each edge's own BN
            pool = edges[0].ops[names[o]][0]
            out = torch.addcmul(out, shared_batch_norm(pool(x), [e.ops[names[o]][1] for e in edges]), _scale(coefs[:, o]))
        elif kind == "identity" and stride == (1, 1, 1):
            out = torch.addcmul(out, x.unsqueeze(1), _scale(coefs[:, o]))
        elif kind != "conv":  # the factorized reduction, the channel-wise ops: each edge its own module
            z = torch.stack([e.ops[names[o]](x) for e in edges], 1)  # (N, n, C, T', H', W')
            out = torch.addcmul(out, z, _scale(coefs[:, o]))
    return out


__all__ = ["VIDEO_OPS_HANDLED", "grouped_pointwise", "mixed_video_edges"]
