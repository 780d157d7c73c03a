"""Evaluation networks: a found genotype stacked into a network that is trained from scratch.

Two structures from the paper (Fig. 5), identical to DARTS' ``NetworkCIFAR`` and
``NetworkImageNet`` for the same genotype, so that the reference genotypes have their published
sizes (tests/test_evalnet.py pins them):

- ``cifar`` (Fig. 5a): a 3×3 conv stem with C1 channels, then the cells of
  :func:`~sdas_lib.core.layout.image_layout` (K normal, reduce, K normal, reduce, K normal).
  The first cell outputs C2 = n_nodes × C channels; the per-node width C doubles at each reduction.
- ``imagenet`` (Fig. 5b, the mobile setting): three stride-2 3×3 convs bring 224×224 down to 28×28
  before the same cells. C1 is the width of the first stem conv (docs/paper_notes.md: 24 in DARTS), the other
  two stem convs have 2·C1 channels, and the first cell reads a stem output twice as large (``prev_stride`` 2).

- ``video`` (Fig. 5c, our reading of the missing figure; :mod:`sdas_lib.core.layout`): the per-frame
  :class:`~sdas_lib.nets.stems.VideoStem` (C1 channels, H and W divided by 4), then the cells of
  :func:`~sdas_lib.core.layout.video_layout` (K normal, ST-reduction, K normal, S-reduction,
  K normal), 3D global pooling and a linear classifier, for clips (C, T, H, W).

The image networks carry an auxiliary classifier on the output of the second reduction cell (2/3 of
the depth; §6.1 "auxiliary towers"), used only in training. All apply drop path ("path dropout") to
the non-identity inputs of every node. The search network (:mod:`sdas_lib.nets.supernet`) is a separate
class; the two share only the op registry (:mod:`sdas_lib.ops`) and the channel bookkeeping
(:func:`~sdas_lib.core.layout.cell_plan`, :func:`~sdas_lib.nets.stacking.preprocess`).

Networks are built by name from :data:`NETWORKS` (``build_network("cifar", genotype, ...)``,
``build_network("video", genotype, ...)``), each with its cell types and input shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.genotype import CellGenotype, Genotype
from ..core.layout import check_input_size, cell_plan, image_layout, min_input_size, video_layout
from ..core.space import NORMAL, REDUCE, S_REDUCE, ST_REDUCE, CellType
from ..errors import SdasError, choices
from ..ops import get_op_set
from .stacking import preprocess
from .stems import VideoStem


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples of a node input with probability ``drop_prob``, rescaling the rest.

    x: (N, C, ...) -> same shape. One Bernoulli draw per sample (DARTS' drop path).
    """
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class EvalCell(nn.Module):
    """A discrete cell: node i = Σ over its k kept inputs j of op_ji(state_j) (Eq. 1).

    The output concatenates the ``concat`` nodes: (N, len(concat)·C, H', W'). The cell code is
    the same for images and video; only the preprocessing modules and the op set differ.

    Args:
        genotype: this cell type's :class:`~sdas_lib.core.genotype.CellGenotype`.
        op_set: name of the op set the genotype uses.
        C: per-node width.
        stride: the cell type's stride, applied on edges that read input nodes 0 and 1.
        preprocess0 / preprocess1: map the two previous cells' outputs to C channels.
    """

    def __init__(self, genotype: CellGenotype, op_set: str, C: int, stride, preprocess0: nn.Module, preprocess1: nn.Module,
                 search_ops: bool = False):
        super().__init__()
        ops = get_op_set(op_set)
        build = (lambda name, C, s: ops.build_search(name, C, s)) if search_ops else (lambda name, C, s: ops.build(name, C, s, affine=True))
        self.preprocess0, self.preprocess1 = preprocess0, preprocess1
        self.n_inputs = genotype.n_inputs
        self.concat = tuple(genotype.concat)
        # One op per kept edge, in genotype order: ops[n][m] is the m-th input of node n + n_inputs.
        self.inputs = tuple(tuple(j for _, j in node) for node in genotype.nodes)
        self.ops = nn.ModuleList(
            nn.ModuleList(build(name, C, stride if j < self.n_inputs else 1) for name, j in node)
            for node in genotype.nodes
        )
        self.out_channels = len(self.concat) * C

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]  # 2 × (N, C, H, W)
        for inputs, ops in zip(self.inputs, self.ops):
            node = None
            for j, op in zip(inputs, ops):
                h = op(states[j])
                # Drop path spares the identity, as DARTS does: dropping it would drop the input.
                if self.training and drop_prob > 0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                node = h if node is None else node + h
            states.append(node)
        return torch.cat([states[i] for i in self.concat], dim=1)


class _AuxPool(nn.Module):
    """DARTS' auxiliary pooling (5×5 average, no padding) when it leaves at least 2×2, as the 2×2 conv
    after it needs, else an adaptive 2×2 average (16×16 inputs leave a 4×4 map, 28×28 ones a 7×7 map
    that stride 3 would pool to 1×1)."""

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (min(x.shape[-2:]) - self.kernel) // self.stride + 1 >= 2:
            return F.avg_pool2d(x, self.kernel, self.stride, padding=0, count_include_pad=False)
        return F.adaptive_avg_pool2d(x, 2)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride} (adaptive 2x2 where it would leave less than 2x2)"


class AuxiliaryHead(nn.Module):
    """Auxiliary classifier on the 2/3-depth features (DARTS AuxiliaryHeadCIFAR / ImageNet).

    ReLU -> avg pool to about 2×2 -> 1×1 conv 128 -> BN -> ReLU -> 2×2 conv 768 [-> BN] -> ReLU
    -> linear. For CIFAR (8×8 input) the pool is 5×5 stride 3; for ImageNet (7×7) stride 2 and, as
    in DARTS' published models, no BN after the 768-channel conv.

    Args:
        C: input channels. num_classes: outputs. stride: pooling stride (3 CIFAR, 2 ImageNet).
        bn_768: whether the 768-channel conv is followed by BN.
    """

    def __init__(self, C: int, num_classes: int, stride: int = 3, bn_768: bool = True):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            _AuxPool(5, stride),  # (N, C, 2, 2)
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),  # (N, 768, 1, 1)
            *([nn.BatchNorm2d(768)] if bn_768 else []),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if x.shape[-1] > 1 or x.shape[-2] > 1:  # only for inputs other than 32×32 / 224×224
            x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(x.flatten(1))


class EvalNetwork(nn.Module):
    """A stem, a stack of :class:`EvalCell`, global average pooling and a linear classifier.

    ``forward(x)`` gives logits (N, num_classes). ``forward(x, return_aux=True)`` gives
    ``(logits, aux_logits)``, where aux_logits is None unless the network is in training mode and
    has an auxiliary head. ``drop_path_prob`` is set by the trainer each epoch (linear ramp, §6.1).
    Subclasses build ``self.stem(x) -> (s0, s1)``, ``self.cells`` and ``self.aux_index``.
    """

    network_name = "?"

    def __init__(self, genotype: Genotype, layout: Sequence[str], num_classes: int):
        super().__init__()
        self.genotype = genotype
        self.layout = list(layout)
        self.num_classes = num_classes
        self.drop_path_prob = 0.0
        self.cells = nn.ModuleList()
        self.auxiliary_head: nn.Module | None = None
        self.aux_index = -1

    def stem_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, return_aux: bool = False):
        s0, s1 = self.stem_forward(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_index and self.auxiliary_head is not None and self.training and return_aux:
                aux = self.auxiliary_head(s1)  # (N, num_classes)
        logits = self.classifier(self.global_pooling(s1).flatten(1))  # (N, C_last) -> (N, classes)
        return (logits, aux) if return_aux else logits

    def extra_repr(self) -> str:
        # First line of print(net): the structure in one glance, before the module tree.
        n = sum(p.numel() for name, p in self.named_parameters() if not name.startswith("auxiliary_head."))
        short = {"st_reduce": "ST", "s_reduce": "S"}
        return (
            f"{self.network_name}, {len(self.cells)} cells [{' '.join(short.get(c, c[0].upper()) for c in self.layout)}], "
            f"{n:,} parameters without the auxiliary head, drop_path_prob={self.drop_path_prob:g}\n"
            + str(self.genotype)
        )


def _check_sizes(C1: int, C2: int, n_nodes: int, num_classes: int, in_channels: int) -> int:
    for name, v in (("C1", C1), ("C2", C2), ("num_classes", num_classes), ("in_channels", in_channels)):
        if v < 1:
            raise SdasError(f"{name} must be a positive integer, got {v}")
    if C2 % n_nodes:
        raise SdasError(
            f"C2={C2} must be divisible by the {n_nodes} nodes the cell concatenates; "
            f"try C2={n_nodes * max(1, round(C2 / n_nodes))}"
        )
    C = C2 // n_nodes
    if C % 2:
        raise SdasError(
            f"per-node width C2/{n_nodes} = {C} must be even: factorized reductions split it in two; "
            f"try C2={n_nodes * (C + 1)}"
        )
    return C


def _checked_genotype(genotype: Genotype, cell_types: Sequence[CellType], ndim: int = 2) -> Genotype:
    """Check the genotype fits a network: its cell types and an op set of ``ndim``-D ops."""
    names = [c.name for c in cell_types]
    if list(genotype.cell_types) != names:
        # Re-validating through from_dict yields the standard message naming both sides.
        genotype = Genotype.from_dict(genotype.to_dict(), cell_types=names, k=None)
    if get_op_set(genotype.op_set).ndim != ndim:
        kind = "image networks need a 2D op set such as 'o2d'" if ndim == 2 else (
            "video network needs a video op set such as 'video_o3d'")
        raise SdasError(
            f"genotype uses op set {genotype.op_set!r} ({get_op_set(genotype.op_set).ndim}D ops); the {kind}"
        )
    n_nodes = {len(genotype[c].nodes) for c in names}
    if len(n_nodes) != 1:
        raise SdasError(f"every cell type must have the same number of nodes, got {sorted(n_nodes)}")
    return genotype


def _stack_cells(net: EvalNetwork, cell_types: Sequence[CellType], C: int, C_stem: int, stem_prev_stride,
                 search_ops: bool = False) -> int:
    """Append the cells of ``net.layout`` to ``net.cells``; returns the last cell's channels.

    ``search_ops`` builds every op and preprocessing block as the supernet does (non-affine BN,
    pools + BN), for comparing a decided supernet with a plain network of the same ops.
    """
    affine = not search_ops
    g = net.genotype
    ndim = get_op_set(g.op_set).ndim
    strides = {c.name: c.stride for c in cell_types}
    plans = cell_plan(net.layout, strides, C_stem, C, {c: len(g[c].concat) for c in strides}, stem_prev_stride)
    reductions = [p.index for p in plans if p.reduction]
    for plan in plans:
        pre0 = preprocess(plan.C_pp, plan.C, plan.prev_stride, ndim, affine)
        pre1 = preprocess(plan.C_p, plan.C, 1, ndim, affine)
        net.cells.append(EvalCell(g[plan.cell_type], g.op_set, plan.C, plan.stride, pre0, pre1, search_ops=search_ops))
    if len(reductions) >= 2:  # 2/3 depth: the auxiliary head reads the second reduction's output
        net.aux_index, net.aux_channels = reductions[1], plans[reductions[1]].C_out
    return plans[-1].C_out


class CifarNetwork(EvalNetwork):
    """Fig. 5a evaluation network (DARTS NetworkCIFAR): conv3×3 stem (C1) -> 3K+2 cells -> pool -> FC.

    Args:
        genotype: an image genotype with cell types ``normal`` and ``reduce``.
        K: normal cells per stage (6 in §6.1). C1: stem width (108). C2: first cell's output
            width (144 = 4 nodes × 36). num_classes, in_channels: data set's.
        auxiliary: build the auxiliary head (used in training only).
        search_ops: build the cells with the supernet's ops (see :func:`_stack_cells`).
    """

    network_name = "cifar"
    cell_types = (NORMAL, REDUCE)

    def __init__(self, genotype: Genotype, *, K: int = 6, C1: int = 108, C2: int = 144, num_classes: int = 10,
                 in_channels: int = 3, auxiliary: bool = True, search_ops: bool = False):
        genotype = _checked_genotype(genotype, self.cell_types)
        super().__init__(genotype, image_layout(K), num_classes)
        C = _check_sizes(C1, C2, len(genotype["normal"].nodes), num_classes, in_channels)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C1, 3, padding=1, bias=False), nn.BatchNorm2d(C1))
        C_last = _stack_cells(self, self.cell_types, C, C1, 1, search_ops)
        if auxiliary:
            self.auxiliary_head = AuxiliaryHead(self.aux_channels, num_classes, stride=3, bn_768=True)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_last, num_classes)

    def stem_forward(self, x):
        s = self.stem(x)  # (N, C1, H, W)
        return s, s


class ImageNetNetwork(EvalNetwork):
    """Fig. 5b mobile evaluation network (DARTS NetworkImageNet): 3 stride-2 stem convs -> cells.

    stem0 = conv3×3/2 (C1) BN ReLU conv3×3/2 (2·C1) BN; stem1 = ReLU conv3×3/2 (2·C1) BN, so a
    224×224 input reaches the first cell at 28×28 and leaves the last at 7×7. DARTS' "C=48" is
    our 2·C1 stem width and its per-node width; C2 = 4·48 = 192 (§6.1: K=4, C1=24, C2=192).

    Args: as :class:`CifarNetwork` (defaults: K=4, C1=24, C2=192, 1000 classes).
    """

    network_name = "imagenet"
    cell_types = (NORMAL, REDUCE)

    def __init__(self, genotype: Genotype, *, K: int = 4, C1: int = 24, C2: int = 192, num_classes: int = 1000,
                 in_channels: int = 3, auxiliary: bool = True):
        genotype = _checked_genotype(genotype, self.cell_types)
        super().__init__(genotype, image_layout(K), num_classes)
        C = _check_sizes(C1, C2, len(genotype["normal"].nodes), num_classes, in_channels)
        Cs = 2 * C1
        self.stem0 = nn.Sequential(
            nn.Conv2d(in_channels, C1, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C1), nn.ReLU(inplace=True),
            nn.Conv2d(C1, Cs, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(Cs),
        )
        self.stem1 = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(Cs, Cs, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(Cs))
        # Both cell inputs of the first cell differ in resolution (stem0 is 2× larger): prev_stride 2.
        C_last = _stack_cells(self, self.cell_types, C, Cs, 2)
        if auxiliary:
            self.auxiliary_head = AuxiliaryHead(self.aux_channels, num_classes, stride=2, bn_768=False)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)  # = DARTS' AvgPool2d(7) at 224×224
        self.classifier = nn.Linear(C_last, num_classes)

    def stem_forward(self, x):
        s0 = self.stem0(x)  # (N, 2·C1, H/4, W/4)
        s1 = self.stem1(s0)  # (N, 2·C1, H/8, W/8)
        return s0, s1


class VideoNetwork(EvalNetwork):
    """Fig. 5c evaluation network: per-frame stem (C1) -> 3K+2 cells (N.. ST N.. S N..) -> 3D pool -> FC.

    A 16×112×112 clip is 16×28×28 after the stem, 8×14×14 after the ST-reduction cell and 8×7×7
    after the S-reduction cell (:func:`~sdas_lib.core.layout.feature_sizes`). Drop path works as in
    the image networks.

    No auxiliary head: the paper names auxiliary towers only for CIFAR10 (§6.1), and §7's video
    settings (Table 7/8 sizes, 96 epochs, batch 64) mention none; with K=2 the network is 8 cells
    deep, and DARTS' head is built for 8×8 and 7×7 image maps. ``auxiliary`` is accepted, so that
    every registered builder takes the same arguments, and ignored.

    Args:
        genotype: a video genotype with cell types ``normal``, ``st_reduce``, ``s_reduce``.
        K: normal cells per stage (2 in §7.1). C1: stem width (32). C2: first cell's output width
            (128 = 4 nodes × 32). num_classes: 10 for Kinetics10. in_channels: 3 (RGB), 2 (flow).
        search_ops: build the cells with the supernet's ops (see :func:`_stack_cells`).
    """

    network_name = "video"
    cell_types = (NORMAL, ST_REDUCE, S_REDUCE)

    def __init__(self, genotype: Genotype, *, K: int = 2, C1: int = 32, C2: int = 128, num_classes: int = 10,
                 in_channels: int = 3, auxiliary: bool = False, search_ops: bool = False):
        genotype = _checked_genotype(genotype, self.cell_types, ndim=3)
        super().__init__(genotype, video_layout(K), num_classes)
        C = _check_sizes(C1, C2, len(genotype["normal"].nodes), num_classes, in_channels)
        self.stem = VideoStem(in_channels, C1)  # (N, C1, T, H/4, W/4)
        C_last = _stack_cells(self, self.cell_types, C, C1, 1, search_ops)
        self.aux_index = -1  # no auxiliary head (class docstring)
        strides = {c.name: c.stride for c in self.cell_types}
        self.min_input = min_input_size(3, self.layout, strides, VideoStem.stride)  # (T, H, W) = (2, 16, 16)
        self.global_pooling = nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Linear(C_last, num_classes)

    def stem_forward(self, x):
        check_input_size(x.shape, self.min_input, self.network_name)
        s = self.stem(x)  # (N, C1, T, H/4, W/4)
        return s, s


# ----------------------------------------------------------------------------------------------
# Registry of network structures by name.


@dataclass(frozen=True)
class NetworkSpec:
    """A registered network structure: how to build it and what it expects.

    Args:
        name: registry key (``"cifar"``).
        builder: ``builder(genotype, *, K, C1, C2, num_classes, in_channels, auxiliary)``.
        cell_types: the genotype's cell types, in order.
        input_shape: resolution -> the shape of one input without the batch dim, e.g. (3, 32, 32),
            or (3, 16, r, r) for a video network's 16-frame clips.
        resolution: default input resolution. K, C1, C2, num_classes: the paper's evaluation sizes.
        description: one line for ``summary``.
    """

    name: str
    builder: Callable[..., EvalNetwork]
    cell_types: tuple[str, ...]
    input_shape: Callable[[int], tuple[int, ...]]
    resolution: int
    K: int
    C1: int
    C2: int
    num_classes: int
    description: str


NETWORKS: dict[str, NetworkSpec] = {}


def register_network(spec: NetworkSpec) -> NetworkSpec:
    """Add a network structure; registering a name twice is an error."""
    if spec.name in NETWORKS:
        raise ValueError(f"network {spec.name!r} is already registered")
    NETWORKS[spec.name] = spec
    return spec


def get_network(name: str) -> NetworkSpec:
    if name not in NETWORKS:
        raise SdasError(f"unknown network {name!r}; choose one of: {choices(NETWORKS)}")
    return NETWORKS[name]


def build_network(name: str, genotype: Genotype, **kwargs) -> EvalNetwork:
    """Build registered network ``name`` for ``genotype``; kwargs: K, C1, C2, num_classes, in_channels, auxiliary."""
    return get_network(name).builder(genotype, **kwargs)


register_network(NetworkSpec(
    "cifar", CifarNetwork, ("normal", "reduce"), lambda r: (3, r, r), 32, K=6, C1=108, C2=144, num_classes=10,
    description="Fig. 5a: conv stem, 3K+2 cells, auxiliary head at 2/3 depth (DARTS NetworkCIFAR)",
))
register_network(NetworkSpec(
    "imagenet", ImageNetNetwork, ("normal", "reduce"), lambda r: (3, r, r), 224, K=4, C1=24, C2=192, num_classes=1000,
    description="Fig. 5b mobile: three stride-2 stem convs, 3K+2 cells (DARTS NetworkImageNet)",
))
PAPER_CLIP_LEN = 16  # frames per clip (§5.2: 16×112×112)
register_network(NetworkSpec(
    "video", VideoNetwork, ("normal", "st_reduce", "s_reduce"), lambda r: (3, PAPER_CLIP_LEN, r, r), 112,
    K=2, C1=32, C2=128, num_classes=10,
    description="Fig. 5c: per-frame stem (H, W / 4), 3K+2 cells with ST- and S-reduction, no auxiliary head",
))


__all__ = [
    "EvalCell", "EvalNetwork", "CifarNetwork", "ImageNetNetwork", "VideoNetwork", "AuxiliaryHead", "drop_path",
    "NetworkSpec", "NETWORKS", "register_network", "get_network", "build_network",
]
