"""2D building blocks of the image ops and cells, in the ReLU-Conv-BN order of the paper (§4.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SdasError


class _DepthwiseConv2dFn(torch.autograd.Function):
    """A depthwise conv2d whose backward is computed with forward convolutions.

    oneDNN's CPU backward kernels for depthwise convs are slow at the search's sizes, far slower
    than its forward kernel (64×8×16×16, 5×5, dilation 2: forward 0.2 ms, input gradient 1.3 ms,
    weight gradient 5 ms). Both gradients are convolutions themselves:

    - input gradient, stride 1: the same depthwise conv of the output gradient with the kernel
      flipped and padding d·(k−1)−p (a transposed conv); strided convs keep PyTorch's kernel;
    - weight gradient: a correlation of the padded input with the output gradient, per (image, channel),

          dL/dw[c, i, j] = Σ_n Σ_h,w  g[n, c, h, w] · x_pad[n, c, s·h + d·i, s·w + d·j]

      one conv2d with N·C groups (x_pad as a 1-image batch of N·C channels, g as N·C kernels dilated
      by the stride s, sampled with stride d), summed over n.

    These are the exact sums in another order (float32 rounding differs by ~1e-7 relative;
    tests/test_ops.py compares both with autograd's). Both the w step and the α/β step (which needs
    input gradients through every op) get faster; a tiny DAS search iteration by about a quarter on
    one CPU thread.
    """

    @staticmethod
    def forward(ctx, x, weight, stride: int, padding: int, dilation: int):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation)
        return F.conv2d(x, weight, None, stride, padding, dilation, weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        s, p, d = ctx.conf
        C, k = weight.shape[0], weight.shape[-1]
        grad_x = grad_w = None
        if ctx.needs_input_grad[0] and s == 1 and d * (k - 1) >= p:
            # stride 1: the transposed conv is the same depthwise conv with the kernel flipped
            grad_x = F.conv2d(grad, weight.flip(-2, -1), None, 1, d * (k - 1) - p, d, C)
        elif ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [s, s], [p, p], [d, d], False, [0, 0], C, [True, False, False]
            )[0]
        if ctx.needs_input_grad[1]:
            N, _, H, W = grad.shape
            xp = F.pad(x, (p, p, p, p))
            corr = F.conv2d(
                xp.reshape(1, N * C, *xp.shape[-2:]), grad.reshape(N * C, 1, H, W), None, d, 0, s, N * C
            )
            grad_w = corr[..., :k, :k].reshape(N, C, k, k).sum(0).unsqueeze(1)
        return grad_x, grad_w, None, None, None


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(C, C, k, groups=C, bias=False)`` with a faster weight gradient on the CPU.

    Same parameters and state-dict keys as the plain module, so checkpoints and weights files are
    interchangeable. On other devices (cuDNN has fast depthwise kernels) it is the plain module.
    """

    def __init__(self, C: int, kernel: int, stride: int, padding: int, dilation: int):
        super().__init__(C, C, kernel, stride, padding, dilation=dilation, groups=C, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or not torch.is_grad_enabled():
            return super().forward(x)
        return _DepthwiseConv2dFn.apply(x, self.weight, self.stride[0], self.padding[0], self.dilation[0])


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, stride) -> BN: the 1×1 cell-input preprocessing and the conv stem block."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, affine: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise k×k (dilated) conv -> pointwise 1×1 conv -> BN, applied once."""

    def __init__(self, C_in, C_out, kernel, stride, padding, dilation, affine):
        super().__init__(
            nn.ReLU(inplace=False),
            DepthwiseConv2d(C_in, kernel, stride, padding, dilation),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Separable conv applied twice (DARTS): [ReLU -> depthwise k×k -> pointwise -> BN] × 2.

    Only the first depthwise conv carries the stride.
    """

    def __init__(self, C_in, C_out, kernel, stride, padding, affine):
        super().__init__(
            DilConv(C_in, C_in, kernel, stride, padding, 1, affine),
            DilConv(C_in, C_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Strided identity: ReLU, two 1×1 stride-2 convs on pixel grids offset by one, concat, BN.

    It halves H and W and maps C_in to C_out channels (C_out must be even). ``stride`` is 2 or
    (2, 2): the two offset grids cover the input only at stride 2.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True, stride=2):
        super().__init__()
        if C_out % 2:
            raise SdasError(f"FactorizedReduce needs an even channel count, got {C_out}")
        if stride not in (2, (2, 2)):
            raise SdasError(f"a 2D factorized reduction halves H and W: stride 2 or (2, 2), got {stride!r}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        # (N, C, H, W) -> (N, C_out, H/2, W/2); the second grid starts at pixel (1, 1).
        out = torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1)
        return self.bn(out)
