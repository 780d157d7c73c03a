"""Depthwise convolutions (2D and 3D) whose CPU backward is computed with forward convolutions.

oneDNN's CPU backward kernels for depthwise convs are slow at the search's sizes, far slower than
its forward kernel (64×8×16×16, 5×5, dilation 2: forward 0.2 ms, input gradient 1.3 ms, weight
gradient 5 ms; in a tiny video supernet the conv backward was 70% of an iteration). Both gradients
are convolutions themselves:

- input gradient (:func:`input_grad`), stride 1: the same depthwise conv of the output gradient
  with the kernel flipped and padding d·(k−1)−p per dimension (a transposed conv). A stride equal
  to the dilation (the dil convs of reduction cells) reads only x[::d], whose gradient is then a
  stride-1 conv. Other strided convs: ``conv_transpose``, or, where they are dilated too and
  oneDNN's kernels are slow, the gradient spread onto the input's grid and the stride-1 conv;
- weight gradient (:func:`weight_grad`): a correlation of the padded input with the output
  gradient, per (sample, channel),

      dL/dw[c, i, j] = Σ_n Σ_h,w  g[n, c, h, w] · x_pad[n, c, s·h + d·i, s·w + d·j]

  (and the same with a third index for 3D): one conv with N·C groups (x as a 1-sample batch of
  N·C channels, padded by the conv itself, g as N·C kernels dilated by the stride s, sampled with
  stride d), summed over n.

Every kernel is first cropped to the taps that meet the input (:func:`crop_kernel`: on the 1×1
maps of the video nets' last cells a 5×5 kernel is its centre tap).

The fused supernet path convolves one input repeated over several channel blocks
(:func:`repeated_depthwise`): its backward sums the input gradient over the blocks and correlates
x itself with each block's gradient, so the repeated input is never kept. The timings that chose
between ways of writing these sums (one thread, channels-last, this project's 2-core machine) are
in the functions' comments; benchmarks/supernet_iteration.py measures the whole iteration.

These are the exact sums in another order (float32 rounding differs by ~1e-7 relative;
tests/test_ops.py and tests/test_video_ops.py compare both gradients with autograd's). Both the w step
and the α/β step (which needs input gradients through every op) get faster.

:class:`DepthwiseConv2d` and :class:`DepthwiseConv3d` have the parameters and state-dict keys of the
plain ``nn.Conv2d`` / ``nn.Conv3d(C, C, k, groups=C, bias=False)``, so checkpoints and weights files are
interchangeable. On other devices (cuDNN has fast depthwise kernels), and without autograd, they are
the plain modules.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class _DepthwiseConvFn(torch.autograd.Function):
    """Depthwise conv over the last ``len(stride)`` dimensions; backward as the module docstring says."""

    @staticmethod
    def forward(ctx, x, weight, stride: tuple, padding: tuple, dilation: tuple):
        weight, padding, cut = crop_kernel(weight, x.shape[2:], stride, padding, dilation)
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, cut)
        return _CONV[len(stride)](x, weight, None, stride, padding, dilation, weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        s, p, d, cut = ctx.conf
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = input_grad(grad, weight, x.shape[2:], s, p, d)
        if ctx.needs_input_grad[1]:
            grad_w = _uncrop(weight_grad(x, grad, weight.shape[2:], s, p, d), cut)
        return grad_x, grad_w, None, None, None


def crop_kernel(weight: torch.Tensor, size, s: tuple, p: tuple, d: tuple) -> tuple[torch.Tensor, tuple, tuple]:
    """The kernel without the outer taps that meet only padding on an input of spatial ``size``:
    (weight's central view, its padding, the taps cut from each end per dimension). The output is
    the same; the gradient of a cut tap is exactly 0. A 5×5 kernel on a 1×1 map (the video net's last
    cells) is a 1×1 one: oneDNN runs 5×5 kernels on 1×1 and 2×2 maps very slowly (128×256×1×1: 8 ms,
    where the 1×1 takes a fraction of a millisecond)."""
    k = weight.shape[2:]
    cut = []
    for n, ki, si, pi, di in zip(size, k, s, p, d):
        out = (n + 2 * pi - di * (ki - 1) - 1) // si + 1
        low = sum(1 for i in range(ki) if di * i - pi < -si * (out - 1))  # windows never reach x's start
        high = sum(1 for i in range(ki) if di * i - pi > n - 1)  # nor its end
        cut.append(min(low, high, pi // di, (ki - 1) // 2))
    if not any(cut):
        return weight, p, tuple(cut)
    view = weight[(..., *(slice(c, ki - c) for c, ki in zip(cut, k)))]
    return view, tuple(pi - di * c for pi, di, c in zip(p, d, cut)), tuple(cut)


def _uncrop(grad_w: torch.Tensor, cut: tuple) -> torch.Tensor:
    """A cropped kernel's gradient, zeros restored for the cut taps."""
    return F.pad(grad_w, [c for c in reversed(cut) for _ in (0, 1)]) if any(cut) else grad_w


def _conv(x: torch.Tensor, weight: torch.Tensor, s: tuple, p: tuple, d: tuple) -> torch.Tensor:
    """The plain depthwise conv (no custom backward), its kernel cropped (:func:`crop_kernel`)."""
    weight, p, _ = crop_kernel(weight, x.shape[2:], s, p, d)
    return _CONV[len(s)](x, weight, None, s, p, d, weight.shape[0])


def input_grad(grad: torch.Tensor, weight: torch.Tensor, size, s: tuple, p: tuple, d: tuple) -> torch.Tensor:
    """dL/dx of a depthwise conv by ``weight`` (C, 1, *k) at stride s, padding p and dilation d, for an
    input of spatial ``size``, from the output gradient ``grad``: the transposed conv, computed as

    - stride 1: the same depthwise conv with the kernel flipped, at padding d·(k−1)−p;
    - stride equal to the dilation (the dil convs of reduction cells): the windows read x[::d] only,
      so its gradient is the stride-1 undilated conv, zeros elsewhere (64×128×16×16, 5×5, stride and
      dilation 2, channels-last: 0.9 ms against 10 the next way);
    - strided, undilated: ``conv_transpose`` (oneDNN's fast kernel for it);
    - strided and dilated otherwise (slow in oneDNN's transposed and backward kernels alike): the
      gradient spread onto the input's grid (zeros between its samples, and the r trailing rows or
      columns the forward's windows never reached), then the stride-1 conv above.
    """
    nd, C, k = len(s), weight.shape[0], weight.shape[2:]
    conv = _CONV[nd]
    out = grad.shape[2:]
    pad = tuple(di * (ki - 1) - pi for pi, di, ki in zip(p, d, k))
    flip = tuple(range(2, 2 + nd))
    if min(pad) >= 0 and all(si == 1 for si in s):
        return conv(grad, weight.flip(flip), None, 1, pad, d, C)
    q = _subsampled(s, p, d, k)
    if q is not None:  # only x[::d] is read: its gradient is a stride-1 conv, zeros elsewhere
        grad_x = _zeros(grad, size)
        grad_x[(..., *(slice(None, None, di) for di in d))] = conv(grad, weight.flip(flip), None, 1, tuple(ki - 1 - qi for ki, qi in zip(k, q)), 1, C)
        return grad_x
    rest = tuple(n - ((o - 1) * si + di * (ki - 1) + 1 - 2 * pi) for n, o, si, pi, di, ki in zip(size, out, s, p, d, k))
    if min(pad) < 0 or all(di == 1 for di in d):
        return _CONV_T[nd](grad, weight, None, s, p, rest, C, d)
    spread = _zeros(grad, tuple((o - 1) * si + 1 + r for o, si, r in zip(out, s, rest)))
    spread[(..., *(slice(0, (o - 1) * si + 1, si) for o, si in zip(out, s)))] = grad
    return conv(spread, weight.flip(flip), None, 1, pad, d, C)


def _subsampled(s: tuple, p: tuple, d: tuple, k) -> tuple | None:
    """For a strided conv whose stride equals its dilation and divides its padding (the dil convs of
    reduction cells: stride 2, dilation 2), q = p / d: every window then reads x[::d] only, and the
    conv is the stride-1, undilated conv of x[::d] at padding q. None otherwise."""
    if any(si > 1 for si in s) and all(si == di and pi % di == 0 and pi // di <= ki - 1 for si, pi, di, ki in zip(s, p, d, k)):
        return tuple(pi // di for pi, di in zip(p, d))
    return None


def _zeros(like: torch.Tensor, size) -> torch.Tensor:
    """Zeros (N, C, *size) in ``like``'s memory format (``new_zeros`` would give NCHW, where oneDNN's
    depthwise kernels are slower)."""
    fmt = {4: torch.channels_last, 5: torch.channels_last_3d}.get(like.dim())
    if fmt is None or not like.is_contiguous(memory_format=fmt) or like.is_contiguous():
        fmt = torch.contiguous_format
    return torch.empty((*like.shape[:2], *size), dtype=like.dtype, device=like.device, memory_format=fmt).zero_()


def weight_grad(x: torch.Tensor, grad: torch.Tensor, k, s: tuple, p: tuple, d: tuple, copies: int = 1) -> torch.Tensor:
    """dL/dw (copies·C, 1, *k) of a depthwise conv of x (N, C, ...) at stride s, padding p and dilation
    d, from the output gradient ``grad`` (N, copies·C, ...): the correlation of the module docstring,
    one conv with N·C groups (the conv pads x itself). ``copies`` > 1: the conv read x repeated over
    ``copies`` channel blocks (:func:`repeated_depthwise`); each group of x then meets its ``copies``
    gradients. x and grad are read as NCHW (a copy from channels-last).

    With copies > 1, oneDNN's kernel for one x channel against several kernels (a channel
    multiplier) is slow on small maps, so the sum is written by the size of the gradient's map
    (timed alone, 5×5 kernels, 8 copies unless said):

    - ≤ 16 positions (4×4), or a strided conv: C groups of N channels, the sum over n inside the
      conv (64×32×4×4: 0.7 ms against 2.1, and 1.4 against 9.9 at dilation 2; 64×16×16×16 at
      stride 2: 2.6 ms against 6.3);
    - ≤ 64 (8×8): x repeated (one output per group, the plain depthwise kernel; 64×16×8×8 with
      4 copies: 0.7 ms against 2.2);
    - larger: the channel multiplier (64×16×16×16: 9.3 ms, against 12 with x repeated and 24 grouped).
    """
    q = _subsampled(s, p, d, k)
    if q is not None:  # the stride-1 conv of x[::d] (see _subsampled)
        x, s, p, d = x[(..., *(slice(None, None, di) for di in d))], (1,) * len(s), q, (1,) * len(s)
    N, C = x.shape[:2]
    S, conv = grad.shape[2:], _CONV[len(s)]
    crop = (..., *(slice(0, ki) for ki in k))
    if copies > 1 and (math.prod(S) <= 16 or max(s) > 1):  # C groups of N channels: the conv sums over n
        g = grad.reshape(N, copies, C, *S).permute(2, 1, 0, *range(3, 3 + len(S))).reshape(C * copies, N, *S)
        corr = conv(x.transpose(0, 1).reshape(1, C * N, *x.shape[2:]), g, None, d, p, s, C)
        return corr[crop].reshape(C, copies, *k).transpose(0, 1).reshape(copies * C, 1, *k)
    g = grad.reshape(N, copies, C, *S).transpose(1, 2).reshape(N * C * copies, 1, *S)
    groups = N * C
    x = x.reshape(N * C, 1, *x.shape[2:])
    if copies > 1 and math.prod(S) <= 64:  # x repeated: one output per group
        x = x.expand(-1, copies, *x.shape[2:])
        groups *= copies
    corr = conv(x.reshape(1, -1, *x.shape[2:]), g, None, d, p, s, groups)
    return corr[crop].reshape(N, C, copies, *k).sum(0).transpose(0, 1).reshape(copies * C, 1, *k)


class _RepeatedDepthwiseFn(torch.autograd.Function):
    """Depthwise conv of x (N, C, H, W) repeated over ``copies`` channel blocks (N, copies·C, H, W):
    the repeat happens in the forward only, and x alone is saved for the backward."""

    @staticmethod
    def forward(ctx, x, weight, copies: int, stride: tuple, padding: tuple, dilation: tuple):
        weight, padding, cut = crop_kernel(weight, x.shape[2:], stride, padding, dilation)
        ctx.save_for_backward(x, weight)
        ctx.conf = (copies, stride, padding, dilation, cut)
        return _CONV[len(stride)](repeat_channels(x, copies), weight, None, stride, padding, dilation, weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        m, s, p, d, cut = ctx.conf
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            g = input_grad(grad, weight, x.shape[2:], s, p, d)  # (N, m·C, ...)
            if x.dim() == 4 and g.is_contiguous(memory_format=torch.channels_last):  # keep it NHWC
                N, C, H, W = x.shape
                grad_x = g.permute(0, 2, 3, 1).view(N, H, W, m, C).sum(3).permute(0, 3, 1, 2)
            else:
                grad_x = g.reshape(x.shape[0], m, *x.shape[1:]).sum(1)
        if ctx.needs_input_grad[1]:
            grad_w = _uncrop(weight_grad(x, grad, weight.shape[2:], s, p, d, m), cut)
        return grad_x, grad_w, None, None, None, None


def repeat_channels(x: torch.Tensor, copies: int) -> torch.Tensor:
    """``x.repeat(1, copies, 1, 1)`` that keeps a channels-last x channels-last (``repeat`` returns NCHW)."""
    if copies == 1:
        return x
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.cat([x.permute(0, 2, 3, 1)] * copies, 3).permute(0, 3, 1, 2)  # (cat: the fastest copy here)
    return x.repeat(1, copies, *[1] * (x.dim() - 2))


def repeated_depthwise(x: torch.Tensor, weight: torch.Tensor, copies: int, stride: int, padding: int, dilation: int = 1) -> torch.Tensor:
    """Depthwise conv of x (N, C, H, W) repeated ``copies`` times over channels, by weight (copies·C, 1, k, k):
    on the CPU with autograd the backward above; elsewhere the plain conv of the repeated x."""
    if x.device.type == "cpu" and torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return _RepeatedDepthwiseFn.apply(x, weight, copies, (stride,) * 2, (padding,) * 2, (dilation,) * 2)
    return _conv(repeat_channels(x, copies), weight, (stride,) * 2, (padding,) * 2, (dilation,) * 2)


def _fast(module, x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and torch.is_grad_enabled() and (x.requires_grad or module.weight.requires_grad)


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(C, C, k, groups=C, bias=False)`` with a faster backward on the CPU."""

    def __init__(self, C: int, kernel, stride, padding, dilation):
        super().__init__(C, C, kernel, stride, padding, dilation=dilation, groups=C, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _fast(self, x):
            return _conv(x, self.weight, self.stride, self.padding, self.dilation)
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
            return _conv(x, self.weight, self.stride, self.padding, self.dilation)
        return depthwise_conv3d(x, self.weight, self.stride, self.padding, self.dilation)


def depthwise_conv3d(x: torch.Tensor, weight: torch.Tensor, stride, padding, dilation) -> torch.Tensor:
    """Depthwise conv of x (N, G, T, H, W) by weight (G, 1, k_t, k_h, k_w), routed as
    :class:`DepthwiseConv3d` routes it (stride, padding, dilation: (T, H, W) triples). The fused video
    path (:mod:`sdas_lib.nets.fused_video`) runs its stacked kernels through it."""
    stride, padding, dilation = tuple(stride), tuple(padding), tuple(dilation)
    if not (x.device.type == "cpu" and torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)):
        return _conv(x, weight, stride, padding, dilation)
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
    return _conv(x, weight, stride, padding, dilation)


__all__ = ["DepthwiseConv2d", "DepthwiseConv3d", "depthwise_conv3d", "input_grad", "repeated_depthwise", "weight_grad"]
