"""Building blocks of the fused supernet path: several ops' convs and BNs run as one call each.

- :func:`embed_kernel`: a small (dilated) depthwise kernel written into a larger undilated one, zeros
  elsewhere (Single-Path NAS's superkernel trick): a 3×3 sits in the middle of a 5×5, and a 3×3 of
  dilation 2 is a 5×5 with holes. It is rebuilt from the small parameters at every call, so the zero
  taps are constants: they get no gradient and never change.
- :func:`stacked_batch_norm`: the BNs of several ops as one BN over their stacked channels. BN
  normalizes each channel on its own, so this is exact; the running statistics still live in (and
  are written back to) each op's own ``BatchNorm`` module. An optional per-channel ``scale`` (BN's
  affine weight, in the same call) carries the fused path's mixing coefficients
  (:func:`block_scale`).
- :func:`shared_batch_norm`: several BNs that read the same input (the pools' BNs).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def embed_kernel(weight: torch.Tensor, size: int, dilation: int = 1) -> torch.Tensor:
    """A depthwise kernel (C, 1, k, k) of ``dilation`` as the centred (C, 1, size, size) kernel of dilation 1.

    With padding ``(size - 1) // 2`` the large kernel computes what the small one computes with
    padding ``dilation·(k - 1) // 2`` at any stride (same window centres).
    """
    C, _, k, _ = weight.shape
    span = dilation * (k - 1) + 1
    if span > size or (size - span) % 2:
        raise ValueError(f"a {k}×{k} kernel of dilation {dilation} does not centre in {size}×{size}")
    if span == size and dilation == 1:
        return weight
    off = (size - span) // 2
    big = weight.new_zeros(C, 1, size, size)
    big[:, :, off : off + span : dilation, off : off + span : dilation] = weight  # zeros stay constants
    return big


def block_scale(c: torch.Tensor, C: int) -> torch.Tensor:
    """Coefficients c (n, m) as one scale per channel of an op-major stack (N, m·n·C, ...): (m·n·C,),
    the ``scale`` of :func:`stacked_batch_norm` (block o·n + e, C channels each, takes c[e, o])."""
    return c.t().reshape(-1, 1).expand(-1, C).reshape(-1)


def stacked_batch_norm(x: torch.Tensor, bns: Sequence[nn.modules.batchnorm._BatchNorm], scale: torch.Tensor | None = None) -> torch.Tensor:
    """``torch.cat([bn(part) for bn, part in zip(bns, x.split(C, 1))], 1)`` as one BN (N, len(bns)·C, ...).

    In train mode each module's running statistics and batch count move exactly as if it had run on
    its own slice; in eval mode its running statistics normalize its slice. ``scale`` (len(bns)·C,),
    if given, multiplies each output channel: BN's own affine weight, applied by the same call (the
    modules themselves are non-affine; the fused path passes its mixing coefficients, Eq. 2).
    """
    bn0 = bns[0]
    training = bn0.training
    same = all(
        b.training == training and b.track_running_stats and b.running_mean is not None and b.weight is None
        and b.momentum == bn0.momentum and b.eps == bn0.eps for b in bns
    )
    if same and training and bn0.momentum is None:  # cumulative average: every module at the same count
        same = len({int(b.num_batches_tracked) for b in bns}) == 1
    if not same:  # mixed settings: one module at a time, still exact
        y = torch.cat([b(part) for b, part in zip(bns, x.split(bn0.num_features, 1))], 1)
        return y if scale is None else y * scale.reshape(-1, *[1] * (x.dim() - 2))
    means = [b.running_mean for b in bns]
    variances = [b.running_var for b in bns]
    rm, rv = torch.cat(means), torch.cat(variances)
    if not training:
        return F.batch_norm(x, rm, rv, scale, None, False, 0.0, bn0.eps)
    torch._foreach_add_([b.num_batches_tracked for b in bns], 1)
    momentum = 1.0 / float(bn0.num_batches_tracked) if bn0.momentum is None else bn0.momentum
    y = F.batch_norm(x, rm, rv, scale, None, True, momentum, bn0.eps)  # updates rm and rv in place
    with torch.no_grad():
        torch._foreach_copy_(means, list(rm.split(bn0.num_features)))
        torch._foreach_copy_(variances, list(rv.split(bn0.num_features)))
    return y


def shared_batch_norm(x: torch.Tensor, bns: Sequence[nn.modules.batchnorm._BatchNorm]) -> torch.Tensor:
    """Several non-affine BNs that read the same x (N, C, H, W): their outputs, (N, 1 or len(bns), C, H, W).

    In train mode every output is the same (batch statistics): x is normalized once and returned as
    (N, 1, C, H, W), to broadcast, and every module's running statistics take the one batch mean and
    unbiased variance. In eval mode each module's running statistics normalize x: (N, len(bns), C, H, W).
    """
    bn0, n, C = bns[0], len(bns), x.shape[1]
    same = all(b.training == bn0.training and b.momentum == bn0.momentum and b.eps == bn0.eps for b in bns)
    if not bn0.training or not same or (bn0.momentum is None and len({int(b.num_batches_tracked) for b in bns}) > 1):
        y = stacked_batch_norm(x.repeat(1, n, *[1] * (x.dim() - 2)), bns)
        return y.view(x.shape[0], n, C, *x.shape[2:])
    torch._foreach_add_([b.num_batches_tracked for b in bns], 1)
    m = 1.0 / float(bn0.num_batches_tracked) if bn0.momentum is None else bn0.momentum
    # One BN call gives the output and the batch statistics: buffers at momentum 1 take the batch mean
    # and unbiased variance (a separate var_mean costs more than the BN itself).
    mean, var = x.new_zeros(C), x.new_ones(C)
    y = F.batch_norm(x, mean, var, None, None, True, 1.0, bn0.eps)
    with torch.no_grad():
        torch._foreach_lerp_([b.running_mean for b in bns], [mean] * n, m)
        torch._foreach_lerp_([b.running_var for b in bns], [var] * n, m)
    return y.unsqueeze(1)


__all__ = ["block_scale", "embed_kernel", "stacked_batch_norm", "shared_batch_norm"]
