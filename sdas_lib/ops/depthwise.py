"""Depthwise convolutions (2D and 3D) whose CPU backward is computed with forward convolutions.

oneDNN's CPU backward kernels for depthwise convs are slow at the search's sizes, far slower than
its forward kernel (64×8×16×16, 5×5, dilation 2: forward 0.2 ms, input gradient 1.3 ms, weight
gradient 5 ms; in a tiny video supernet the conv backward was 70% of an iteration). Both gradients
are convolutions themselves:

- input gradient, stride 1: the same depthwise conv of the output gradient with the kernel
  flipped and padding d·(k−1)−p per dimension (a transposed conv); strided convs keep PyTorch's kernel;
- weight gradient: a correlation of the padded input with the output gradient, per (sample, channel),

      dL/dw[c, i, j] = Σ_n Σ_h,w  g[n, c, h, w] · x_pad[n, c, s·h + d·i, s·w + d·j]

  (and the same with a third index for 3D): one conv with N·C groups (x_pad as a 1-sample batch of
  N·C channels, g as N·C kernels dilated by the stride s, sampled with stride d), summed over n.

These are the exact sums in another order (float32 rounding differs by ~1e-7 relative;
tests/test_ops.py and tests/test_video_ops.py compare both gradients with autograd's). Both the w step
and the α/β step (which needs input gradients through every op) get faster.

:class:`DepthwiseConv2d` and :class:`DepthwiseConv3d` have the parameters and state-dict keys of the
plain ``nn.Conv2d`` / ``nn.Conv3d(C, C, k, groups=C, bias=False)``, so checkpoints and weights files are
interchangeable. On other devices (cuDNN has fast depthwise kernels), and without autograd, they are
the plain modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class _DepthwiseConvFn(torch.autograd.Function):
    """Depthwise conv over the last ``len(stride)`` dimensions; backward as the module docstring says."""

    @staticmethod
    def forward(ctx, x, weight, stride: tuple, padding: tuple, dilation: tuple):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation)
        return _CONV[len(stride)](x, weight, None, stride, padding, dilation, weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        s, p, d = ctx.conf
        conv, nd, C = _CONV[len(s)], len(s), weight.shape[0]
        k = weight.shape[2:]
        grad_x = grad_w = None
        transposable = all(si == 1 and di * (ki - 1) >= pi for si, pi, di, ki in zip(s, p, d, k))
        if ctx.needs_input_grad[0] and transposable:
            # stride 1: the transposed conv is the same depthwise conv with the kernel flipped
            pad = tuple(di * (ki - 1) - pi for pi, di, ki in zip(p, d, k))
            grad_x = conv(grad, weight.flip(tuple(range(2, 2 + nd))), None, 1, pad, d, C)
        elif ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, list(s), list(p), list(d), False, [0] * nd, C, [True, False, False]
            )[0]
        if ctx.needs_input_grad[1]:
            N = grad.shape[0]
            xp = F.pad(x, [q for pi in reversed(p) for q in (pi, pi)])
            corr = conv(
                xp.reshape(1, N * C, *xp.shape[2:]), grad.reshape(N * C, 1, *grad.shape[2:]), None, d, 0, s, N * C
            )
            crop = corr[(..., *(slice(0, ki) for ki in k))]
            grad_w = crop.reshape(N, C, *k).sum(0).unsqueeze(1)
        return grad_x, grad_w, None, None, None


def _fast(module, x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and torch.is_grad_enabled() and (x.requires_grad or module.weight.requires_grad)


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(C, C, k, groups=C, bias=False)`` with a faster backward on the CPU."""

    def __init__(self, C: int, kernel, stride, padding, dilation):
        super().__init__(C, C, kernel, stride, padding, dilation=dilation, groups=C, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _fast(self, x):
            return super().forward(x)
        return _DepthwiseConvFn.apply(x, self.weight, self.stride, self.padding, self.dilation)


class DepthwiseConv3d(nn.Conv3d):
    """``nn.Conv3d(C, C, k, groups=C, bias=False)`` with a faster backward on the CPU; ``kernel``,
    ``stride``, ``padding`` and ``dilation`` are ints or (T, H, W) triples.

    The video ops' depthwise kernels are 1×k×k (each frame alone) or k×1×1 (each pixel through
    time). On the CPU such a conv is computed as a 2D one on a view of the clip, where oneDNN's 3D
    kernels are slow (a dilated 1×5×5 conv at 64×8×8×4×4: 3.7 ms forward in 3D, 0.1 ms in 2D):

    - 1×k×k: the frames kept by the temporal stride, as a batch of N·T' images (N·T', C, H, W);
    - k×1×1: the pixels kept by the spatial stride, as one image of T × (H'·W') per sample, with a
      k×1 kernel (N, C, T, H'·W').

    In the channels-last-3d layout both are views, not copies, when the conv has no stride across the
    dimension it slices (otherwise ``reshape`` copies; the result is the same). That route serves the α/β step, which
    needs only the input gradient; with a weight gradient (the w step) the N·T'·C-group correlation
    of the 2D form costs more than the N·C-group one of the 3D form, so the w step keeps the 3D form
    (measured on the tiny video supernet: w step 2.0 s in 3D against 4.3 s in 2D, α/β step 1.3 s in 2D
    against 1.5 s in 3D, O2D). Other kernels use the plain conv3d in the α/β step.
    """

    def __init__(self, C: int, kernel, stride, padding, dilation):
        super().__init__(C, C, kernel, stride, padding, dilation=dilation, groups=C, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _fast(self, x):
            return super().forward(x)
        return depthwise_conv3d(x, self.weight, self.stride, self.padding, self.dilation)


def depthwise_conv3d(x: torch.Tensor, weight: torch.Tensor, stride, padding, dilation) -> torch.Tensor:
    """Depthwise conv of x (N, G, T, H, W) by weight (G, 1, k_t, k_h, k_w), routed as
    :class:`DepthwiseConv3d` routes it (stride, padding, dilation: (T, H, W) triples). The fused video
    path (:mod:`sdas_lib.nets.fused_video`) runs its stacked kernels through it."""
    stride, padding, dilation = tuple(stride), tuple(padding), tuple(dilation)
    if not (x.device.type == "cpu" and torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)):
        return F.conv3d(x, weight, None, stride, padding, dilation, weight.shape[0])
    if weight.requires_grad:
        return _DepthwiseConvFn.apply(x, weight, stride, padding, dilation)
    kt, kh, kw = weight.shape[2:]
    (st, sh, sw), (pt, ph, pw), (dt, dh, dw) = stride, padding, dilation
    if kt == 1 and pt == 0:  # the frames kept by the temporal stride, as a batch of N·T' images
        x = x[:, :, ::st]
        N, C, T, H, W = x.shape
        frames = x.transpose(1, 2).reshape(N * T, C, H, W)
        y = _DepthwiseConvFn.apply(frames, weight[:, :, 0], (sh, sw), (ph, pw), (dh, dw))
        return y.reshape(N, T, C, *y.shape[-2:]).transpose(1, 2)
    if kh == kw == 1 and (ph, pw) == (0, 0):  # the pixels kept by the spatial stride, T × (H'·W') per sample
        x = x[:, :, :, ::sh, ::sw]
        N, C, T, H, W = x.shape
        y = _DepthwiseConvFn.apply(x.reshape(N, C, T, H * W), weight[..., 0], (st, 1), (pt, 0), (dt, 1))
        return y.reshape(N, C, y.shape[2], H, W)
    return F.conv3d(x, weight, None, stride, padding, dilation, weight.shape[0])


__all__ = ["DepthwiseConv2d", "DepthwiseConv3d", "depthwise_conv3d"]
