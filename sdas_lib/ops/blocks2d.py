"""2D building blocks of the image ops and cells, in the ReLU-Conv-BN order of the paper (§4.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SdasError
from .depthwise import DepthwiseConv2d


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
