"""Candidate operations and their registries, one registry per operation set.

An operation set is an ordered collection of named op builders. Its order is the column order of
α (Eq. 2), so ``op_set.names[α.argmax()]`` is the chosen op. Every builder has the signature
``builder(C, stride, affine) -> nn.Module`` and keeps the channel count C; ``stride`` is 1 for a
normal cell and the cell type's stride (2 for an image reduction cell) on edges that read a cell
input. Video sets (3D kernels ordered (T, H, W), strides such as (1, 2, 2)) register themselves the
same way in their own module, so the cell code never changes.

The image set O2D (paper §4.2, NOTES.md "Operation sets") has 7 ops and no ``none`` op: the edge
weight β decides the topology instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch import nn

from .errors import SdasError, choices

OpBuilder = Callable[[int, object, bool], nn.Module]


@dataclass(frozen=True)
class OpSpec:
    """One registered op: its builder and its kind ('identity', 'pool', 'conv' or 'channelwise')."""

    name: str
    kind: str
    builder: OpBuilder


@dataclass
class OpSet:
    """An ordered, named set of candidate ops; the order is α's column order.

    Args:
        name: registry key, e.g. ``"o2d"``.
        ndim: spatial dimensions of the features the ops take: 2 for (N, C, H, W) images,
            3 for (N, C, T, H, W) video.
    """

    name: str
    ndim: int
    specs: dict[str, OpSpec] = field(default_factory=dict)

    def register(self, name: str, kind: str) -> Callable[[OpBuilder], OpBuilder]:
        """Decorator adding ``name`` at the end of the set; registering a name twice is an error."""

        def add(builder: OpBuilder) -> OpBuilder:
            if name in self.specs:
                raise ValueError(f"op {name!r} is already registered in op set {self.name!r}")
            self.specs[name] = OpSpec(name, kind, builder)
            return builder

        return add

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self) -> Iterator[str]:
        return iter(self.specs)

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def index(self, name: str) -> int:
        """Column of ``name`` in α."""
        self.check(name)
        return self.names.index(name)

    def check(self, name: str, where: str = "") -> None:
        if name not in self.specs:
            raise SdasError(
                f"unknown op {name!r}{where} for op set {self.name!r}; "
                f"choose one of: {choices(self.names)}"
            )

    def kind(self, name: str) -> str:
        self.check(name)
        return self.specs[name].kind

    def build(self, name: str, C: int, stride=1, affine: bool = True) -> nn.Module:
        """Build op ``name`` for C channels at ``stride``; affine=False gives the search-time BN."""
        self.check(name)
        return self.specs[name].builder(C, stride, affine)

    def build_search(self, name: str, C: int, stride=1) -> nn.Module:
        """Op ``name`` as the supernet runs it: BatchNorm without affine parameters, and pooling
        followed by such a BatchNorm, as in DARTS' MixedOp (it puts the parameter-free pools on
        the scale of the conv ops)."""
        op = self.build(name, C, stride, affine=False)
        if self.kind(name) == "pool":
            bn = nn.BatchNorm2d(C, affine=False) if self.ndim == 2 else nn.BatchNorm3d(C, affine=False)
            op = nn.Sequential(op, bn)
        return op

    def __repr__(self) -> str:
        return f"OpSet({self.name!r}, ndim={self.ndim}, ops={list(self.names)})"


OP_SETS: dict[str, OpSet] = {}


def new_op_set(name: str, ndim: int) -> OpSet:
    """Create and register an empty op set; a second set with the same name is an error."""
    if name in OP_SETS:
        raise ValueError(f"op set {name!r} is already registered")
    OP_SETS[name] = OpSet(name, ndim)
    return OP_SETS[name]


def get_op_set(name: str) -> OpSet:
    """Look up a registered op set by name, with an error listing the known ones."""
    if name not in OP_SETS:
        raise SdasError(f"unknown op set {name!r}; choose one of: {choices(OP_SETS)}")
    return OP_SETS[name]


# ----------------------------------------------------------------------------------------------
# Building blocks (2D). Conv blocks use the ReLU-Conv-BN order of the paper (§4.2).


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
            nn.Conv2d(C_in, C_in, kernel, stride, padding, dilation=dilation, groups=C_in, bias=False),
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

    It halves H and W and maps C_in to C_out channels (C_out must be even).
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True):
        super().__init__()
        if C_out % 2:
            raise SdasError(f"FactorizedReduce needs an even channel count, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        # (N, C, H, W) -> (N, C_out, H/2, W/2); the second grid starts at pixel (1, 1).
        out = torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1)
        return self.bn(out)


def _stride2d(stride) -> int:
    if isinstance(stride, tuple):
        raise SdasError(f"2D ops take an int stride, got {stride!r}; use a video op set for 3D strides")
    return int(stride)


# ----------------------------------------------------------------------------------------------
# O2D for images: 7 ops in a fixed order (the column order of α).

O2D = new_op_set("o2d", ndim=2)


@O2D.register("skip_connect", kind="identity")
def _skip(C, stride, affine):
    # In a reduction cell the identity becomes a factorized reduction (DARTS).
    return nn.Identity() if _stride2d(stride) == 1 else FactorizedReduce(C, C, affine)


@O2D.register("max_pool_3x3", kind="pool")
def _max_pool(C, stride, affine):
    return nn.MaxPool2d(3, stride=_stride2d(stride), padding=1)


@O2D.register("avg_pool_3x3", kind="pool")
def _avg_pool(C, stride, affine):
    return nn.AvgPool2d(3, stride=_stride2d(stride), padding=1, count_include_pad=False)


@O2D.register("sep_conv_3x3", kind="conv")
def _sep3(C, stride, affine):
    return SepConv(C, C, 3, _stride2d(stride), 1, affine)


@O2D.register("sep_conv_5x5", kind="conv")
def _sep5(C, stride, affine):
    return SepConv(C, C, 5, _stride2d(stride), 2, affine)


@O2D.register("dil_conv_3x3", kind="conv")
def _dil3(C, stride, affine):
    # Dilation 2: a 3×3 kernel that sees a 5×5 window.
    return DilConv(C, C, 3, _stride2d(stride), 2, 2, affine)


@O2D.register("dil_conv_5x5", kind="conv")
def _dil5(C, stride, affine):
    return DilConv(C, C, 5, _stride2d(stride), 4, 2, affine)
