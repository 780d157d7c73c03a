"""Op registries: one per operation set, mapping each op name to the builder of its module.

An operation set is an ordered collection of named op builders. Its order is the column order of
α (Eq. 2), so ``op_set.names[α.argmax()]`` is the chosen op. Every builder has the signature
``builder(C, stride, affine) -> nn.Module`` and keeps the channel count C; ``stride`` is 1 for a
normal cell and the cell type's stride (2 for an image reduction cell) on edges that read a cell
input. Video sets (3D kernels ordered (T, H, W), strides such as (1, 2, 2)) register themselves the
same way in their own module, so the cell code never changes.

Names, order and kinds of every set are also kept as torch-free data in
:mod:`sdas_lib.core.opsets` (what genotypes validate against); a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch import nn

from ..errors import SdasError, choices

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
