"""Hand-crafted video baselines (Fig. 10, Table 8): torchvision 2D ResNets inflated to clips.

One recipe for every architecture, applied by walking the module tree (no network is written by hand):

1. :func:`narrow` divides every layer's width by ``width_divisor`` (4 in Table 8: "we reduce the
   output channels of layers in these networks by a factor of 4").
2. :func:`inflate` turns each 2D layer into its 3D form on (N, C, T, H, W) clips: a k×k conv becomes
   a 1×k×k conv with stride (1, s, s), BatchNorm2d becomes BatchNorm3d, a k×k max/avg pool becomes
   1×k×k, the global average pool averages over (T, H, W). The 3D variant attaches a parallel 3×1×1
   temporal conv to each spatial conv (:class:`SpatioTemporalConv`).
3. :func:`add_temporal_pools` inserts the two temporal max pools of Fig. 10.

Readings of the paper (§7 "Comparison with Hand-Crafted Structures" and the Fig. 10 caption; the
figure itself is missing from our copy):

- **Stages.** "The network structure can be divided into five stages with respect to the change of
  resolution. One temporal max pooling is inserted after stage1 and stage2." Five resolution stages
  are the ResNet paper's conv1 (1/2), conv2_x (max pool + ``layer1``, 1/4), conv3_x (``layer2``,
  1/8), conv4_x (``layer3``, 1/16) and conv5_x (``layer4``, 1/32). So stage 1 is torchvision's stem
  (``conv1``, ``bn1``, ``relu``) and stage 2 is ``maxpool`` + ``layer1``: the pools go after
  ``relu`` and after ``layer1`` (:data:`TEMPORAL_POOLS_AFTER`). A 16-frame clip runs the stem at
  T = 16, ``layer1`` at T = 8 and ``layer2``..``layer4`` at T = 4. Each pool is a non-overlapping
  2×1×1 max pool (stride 2): "temporal max pooling to reduce the temporal dimension progressively"
  gives no kernel size, and 2 halves T exactly.
- **3D branch.** "attaching a parallel 3×1×1 temporal convolution to each spatial convolution":
  out = conv_1×k×k(x) + conv_3×1×1(x), summed before the BN that follows the conv in the 2D model,
  as in the paper's separable-3d op (Fig. 6a: parallel spatial and temporal convs, summed, then BN).
  A spatial conv is one with a spatial kernel larger than 1×1 (the 7×7 stem and the 3×3 conv of
  every bottleneck); 1×1 convs stay pointwise. The temporal conv has the spatial conv's channels,
  groups and spatial stride (1, s, s), so both outputs have one shape, and temporal padding 1.
  Table 8's 3D − 2D parameter differences confirm this: see below.
- **Stem.** The 7×7 stride-2 stem conv becomes 1×7×7 with stride (1, 2, 2), its 3×3 max pool
  1×3×3 with stride (1, 2, 2): the stem does not reduce T (the paper says only that 2D convs become
  1×k×k). The stem's width is divided like every other layer (64 -> 16 at ``width_divisor`` 4); its
  three input channels are the image's and stay.
- **Width divisor.** Every conv's output channels, every BN and the classifier's input are divided.
  Grouped convs (ResNeXt) keep their group width and divide the number of groups: ResNeXt-50 32×4d
  at width/4 has 8 groups of 4 channels. Keeping 32 groups (of 1 channel) would give ResNeXt50-2D
  1.46M parameters, fewer than Res50-2D, whereas Table 8 lists 1.63M > 1.41M.
- **ResNeXt-101** is the ResNeXt paper's 32×4d (torchvision ships only 32×8d and 64×4d; we build
  32×4d with torchvision's ``ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=4)``).
  32×8d at width/4 has 7.47M parameters, far from Table 8's 3.01M; 32×4d matches it.
- **Classifier.** A linear layer on the globally pooled features, ``num_classes`` outputs
  (10 for Kinetics10). Table 8's parameters fit best without it (below).

- **Tiny clips.** The course's 4×16×16 clips keep Fig. 10's stem (stride 2 and a stride-2 max pool) and
  strides: ``layer1`` sees 4×4 frames, ``layer3`` and ``layer4`` 1×1, and the two temporal pools leave one
  frame from ``layer2`` on. A smaller stem stride would suit the clips better but make another network
  than the Res50 of Table 8, so we keep it; notebook 05 shows whether the baselines learn at all.
- **Widths for Fig. 11.** ``width_divisor`` 4 is Table 8's; 8 and 16 draw the curve down to the searched
  cells' size (width / 16: a 4-channel stem and 4-channel bottlenecks in ``layer1``). Below that the
  curve no longer describes a ResNet, and matching the tiny cells by width alone would leave a
  3-channel stem.

Sizes at width/4, 10 classes, one 16×112×112 clip (``count_parameters``, ``count_mult_adds``;
tests/test_baselines.py pins Res50-2D):

    arch            params    params    Table 8   mult-adds  mult-adds    Table 8
                    (count)   (2^20,    params    (Fig. 10   (no temporal mult-adds
                              no fc)    (M)        pools)     pools)       (G)
    res50-2d        1,486,106  1.412    1.41      0.421G     1.164G       1.13
    res101-2d       2,682,906  2.554    2.55      0.653G     2.092G       2.00
    resnext50-2d    1,721,178  1.637    1.63      0.481G     1.379G       1.29
    resnext101-2d   3,166,042  3.015    3.01      0.761G     2.499G       2.34
    res50-3d        1,722,026  1.637    1.63      0.477G     1.335G       1.30
    res101-3d       3,127,722  2.978    2.97      0.750G     2.426G       2.32
    resnext50-3d    1,839,210  1.749    1.74      0.512G     1.468G       1.38
    resnext101-3d   3,388,522  3.227    3.22      0.813G     2.669G       2.50

- Parameters: our counts are 5% above Table 8 in every row, a constant ratio. Counted in units of
  2^20 without the classifier and truncated to two decimals (the paper truncates elsewhere too,
  docs/paper_notes.md), all eight rows match exactly, 2D and 3D, ResNet and ResNeXt. That also confirms the
  readings above: which convs get a temporal branch and with which groups, the grouped-conv
  width, ResNeXt-101 32×4d.
- Mult-adds: with the temporal pools of Fig. 10 (wherever they sit in the first stages), our counts
  are a third to a half of Table 8's. Table 8 fits a count with all 16 frames through every stage,
  i.e. one that ignores the temporal pools: 3–7% above it in units of 10^9, 0.4–4.4% below it in
  units of 2^30. No placement of two halving pools comes closer. We build the pools, as Fig. 10
  says, and report our own count.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import SdasError, choices

# Where Fig. 10's temporal max pools go in torchvision's ResNet family: after stage 1 (the stem:
# conv1, bn1, relu) and after stage 2 (maxpool + layer1). See the module docstring.
TEMPORAL_POOLS_AFTER = ("relu", "layer1")


def _resnet(depth: int, groups: int = 1, width_per_group: int = 64) -> Callable[[int], nn.Module]:
    """A torchvision ResNet/ResNeXt builder with no pretrained weights, by depth and cardinality."""

    def build(num_classes: int) -> nn.Module:
        from torchvision.models.resnet import Bottleneck, ResNet

        blocks = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}[depth]
        return ResNet(Bottleneck, blocks, num_classes=num_classes, groups=groups, width_per_group=width_per_group)

    return build


# The 2D models of Table 8, as torchvision builds them (resnet50, resnet101, resnext50_32x4d; see
# the module docstring for ResNeXt-101 32×4d).
_MODELS_2D: dict[str, Callable[[int], nn.Module]] = {
    "res50": _resnet(50),
    "res101": _resnet(101),
    "resnext50": _resnet(50, groups=32, width_per_group=4),
    "resnext101": _resnet(101, groups=32, width_per_group=4),
}

BASELINES: tuple[str, ...] = tuple(f"{name}-{kind}" for kind in ("2d", "3d") for name in _MODELS_2D)


class SpatioTemporalConv(nn.Module):
    """A 1×k×k spatial conv plus a parallel 3×1×1 temporal conv, summed (Fig. 10's 3D variant).

    (N, C_in, T, H, W) -> (N, C_out, T, H/s, W/s). Kernels are ordered (T, H, W). The BN that
    followed the 2D conv normalizes the sum, as in the separable-3d op (Fig. 6a).
    """

    def __init__(self, spatial: nn.Conv3d):
        super().__init__()
        self.spatial = spatial
        w = spatial.weight
        self.temporal = nn.Conv3d(
            spatial.in_channels, spatial.out_channels, kernel_size=(3, 1, 1), stride=(1, *spatial.stride[1:]),
            padding=(1, 0, 0), groups=spatial.groups, bias=False, device=w.device, dtype=w.dtype,
        )
        _init_conv(self.temporal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(x) + self.temporal(x)  # both (N, C_out, T, H', W')


def _init_conv(conv: nn.Module) -> None:
    """torchvision ResNet's conv init: He normal, fan-out, for ReLU."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def _replace_children(module: nn.Module, convert: Callable[[nn.Module], nn.Module | None]) -> None:
    """Replace, depth first, every submodule for which ``convert`` returns a new module."""
    for name, child in module.named_children():
        new = convert(child)
        if new is None:
            _replace_children(child, convert)
        else:
            setattr(module, name, new)


def narrow(model2d: nn.Module, width_divisor: int) -> nn.Module:
    """Divide the width of every layer of a 2D model by ``width_divisor``, in place; re-initialized.

    Conv2d, BatchNorm2d and Linear layers are rebuilt with 1/width_divisor of their channels, except
    the image's input channels (those of the first conv in module order) and the classifier's
    outputs. Grouped convs keep their group width (fewer groups); depthwise convs stay depthwise.
    New convs get torchvision ResNet's init, BN weight 1 and bias 0, linear layers PyTorch's default.

    Args:
        model2d: a 2D model such as torchvision's ResNet.
        width_divisor: 1 (unchanged) or a divisor of every layer's width, e.g. 4 as in Table 8.
    """
    if isinstance(width_divisor, bool) or not isinstance(width_divisor, int) or width_divisor < 1:
        raise SdasError(f"width divisor must be a positive integer such as 1 or 4 (Table 8), got {width_divisor!r}")
    if width_divisor == 1:
        return model2d
    d = width_divisor
    first_conv = next((m for m in model2d.modules() if isinstance(m, nn.Conv2d)), None)

    def div(n: int, what: str) -> int:
        if n % d:
            raise SdasError(f"width divisor {d} does not divide {what} ({n}); choose a divisor of every layer's width, e.g. 2 or 4")
        return n // d

    def convert(m: nn.Module) -> nn.Module | None:
        w = next(m.parameters(recurse=False), None)
        kw = dict(device=w.device, dtype=w.dtype) if w is not None else {}
        if isinstance(m, nn.Conv2d):
            c_in = m.in_channels if m is first_conv else div(m.in_channels, "a conv's input channels")
            c_out = div(m.out_channels, "a conv's output channels")
            if m.groups == 1:
                groups = 1
            elif m.groups == m.in_channels:
                groups = c_in  # depthwise stays depthwise
            else:
                groups = div(m.groups, "a grouped conv's number of groups")
            new = nn.Conv2d(c_in, c_out, m.kernel_size, m.stride, m.padding, m.dilation, groups,
                            m.bias is not None, m.padding_mode, **kw)
            _init_conv(new)
            return new
        if isinstance(m, nn.BatchNorm2d):
            return nn.BatchNorm2d(div(m.num_features, "a BN's channels"), m.eps, m.momentum, m.affine,
                                  m.track_running_stats, **kw)
        if isinstance(m, nn.Linear):  # the classifier: fewer inputs, the same classes
            return nn.Linear(div(m.in_features, "the classifier's input features"), m.out_features, m.bias is not None, **kw)
        if next(m.parameters(recurse=False), None) is not None:
            raise SdasError(f"narrow() does not know how to divide the width of {type(m).__name__}")
        return None

    _replace_children(model2d, convert)
    return model2d


def _pair(v) -> tuple[int, int]:
    """An int or an (H, W) pair as an (H, W) tuple."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _inflate_module(m: nn.Module, temporal: bool) -> nn.Module | None:
    """The 3D form of one 2D layer (None: not a layer to convert; recurse into it)."""
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise SdasError(f"inflate() takes convs with numeric zero padding, got {m}")
        w = m.weight
        conv = nn.Conv3d(m.in_channels, m.out_channels, (1, *m.kernel_size), (1, *m.stride), (0, *m.padding),
                         (1, *m.dilation), m.groups, m.bias is not None, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            conv.weight.copy_(w.unsqueeze(2))  # (C_out, C_in/g, k, k) -> (C_out, C_in/g, 1, k, k)
            if m.bias is not None:
                conv.bias.copy_(m.bias)
        spatial = max(m.kernel_size) > 1  # a 1×1 conv is pointwise, not spatial: no temporal branch
        return SpatioTemporalConv(conv) if temporal and spatial else conv
    if isinstance(m, nn.BatchNorm2d):
        w = next(iter(m.parameters()), None)
        kw = dict(device=w.device, dtype=w.dtype) if w is not None else {}
        bn = nn.BatchNorm3d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, **kw)
        bn.load_state_dict(m.state_dict())
        return bn
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
        if isinstance(m, nn.MaxPool2d):
            return nn.MaxPool3d((1, *k), (1, *s), (0, *p), (1, *_pair(m.dilation)), ceil_mode=m.ceil_mode)
        return nn.AvgPool3d((1, *k), (1, *s), (0, *p), m.ceil_mode, m.count_include_pad, m.divisor_override)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        if _pair(m.output_size) != (1, 1):
            raise SdasError(f"inflate() takes global average pooling only, got {m}")
        return nn.AdaptiveAvgPool3d(1)  # the clip's mean over (T, H, W)
    if type(m).__name__.endswith("2d"):
        raise SdasError(f"inflate() does not know the 3D form of {type(m).__name__}")
    return None


def inflate(model2d: nn.Module, temporal: bool) -> nn.Module:
    """A 2D model made to run on clips (N, C, T, H, W), in place, with its weights kept.

    Each k×k conv becomes 1×k×k (stride (1, s, s)) with the same weights, BatchNorm2d becomes
    BatchNorm3d with the same statistics, k×k pools become 1×k×k, the global average pool averages
    over (T, H, W). Without temporal convs nothing mixes frames before that global pool: the
    inflated model is the 2D model applied per frame, its logits the mean of the frames' logits.

    Args:
        model2d: a 2D model (any module tree of Conv2d, BatchNorm2d, 2D pools and shape-free layers).
        temporal: attach a 3×1×1 temporal conv to each spatial conv (:class:`SpatioTemporalConv`).
    """
    converted = _inflate_module(model2d, temporal)
    if converted is not None:
        return converted
    _replace_children(model2d, lambda m: _inflate_module(m, temporal))
    return model2d


def add_temporal_pools(model: nn.Module, after: Sequence[str] = TEMPORAL_POOLS_AFTER) -> nn.Module:
    """Insert a 2×1×1 temporal max pool (stride 2: T -> T/2) after each named child, in place.

    Args:
        model: an inflated model whose forward calls the named children in order.
        after: names of direct children; the child becomes ``Sequential(child, MaxPool3d)``.
    """
    for name in after:
        child = getattr(model, name, None)
        if not isinstance(child, nn.Module):
            raise SdasError(f"no child module {name!r} to put a temporal pool after; children: {choices(n for n, _ in model.named_children())}")
        setattr(model, name, nn.Sequential(child, nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1))))
    return model


def build_baseline(arch: str, num_classes: int, width_divisor: int = 1) -> nn.Module:
    """A Fig. 10 baseline for clips (N, 3, T, H, W) -> logits (N, num_classes).

    torchvision's 2D model (no pretrained weights) narrowed, inflated and given two temporal pools.
    T must be at least 4 (two halvings); the paper's clips are 16×112×112.

    Args:
        arch: one of :data:`BASELINES`, e.g. ``"res50-2d"`` (case-insensitive).
        num_classes: classifier outputs, 10 for Kinetics10.
        width_divisor: divides every layer's width, 4 in Table 8.
    """
    key = str(arch).lower()
    if key not in BASELINES:
        raise SdasError(f"unknown baseline {arch!r}; choose one of: {choices(BASELINES)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise SdasError(f"num_classes must be a positive integer, got {num_classes!r}")
    name, kind = key.rsplit("-", 1)
    model = narrow(_MODELS_2D[name](num_classes), width_divisor)
    return add_temporal_pools(inflate(model, temporal=(kind == "3d")))


__all__ = ["BASELINES", "TEMPORAL_POOLS_AFTER", "SpatioTemporalConv", "add_temporal_pools", "build_baseline", "inflate", "narrow"]
