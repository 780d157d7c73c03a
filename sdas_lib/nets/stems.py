"""The video stem (Fig. 5c): hand-designed layers that shrink a clip cheaply before the cells.

Two per-frame convs, each 1×3×3 with stride (1, 2, 2)::

    (N, 3, T, H, W) -> conv 1×3×3 /(1,2,2) -> BN -> ReLU    (N, C1, T, H/2, W/2)
                    -> conv 1×3×3 /(1,2,2) -> BN            (N, C1, T, H/4, W/4)

So a 16×112×112 clip reaches the first cell at 16×28×28, as the ImageNet stem brings 224×224 to
28×28 (Fig. 5b). The stem keeps every frame and mixes none: time is reduced by the searched
ST-reduction cell and modelled by whatever ops the search picks, so a network of the video O2D set
stays per-frame (why: :mod:`sdas_lib.core.layout`). C1 is the stem's output width (§4.1). The stem
ends in BN without ReLU, as DARTS' stems do: every cell input starts with a ReLU.
It is shared, unchanged, by the video supernet and the video evaluation network.
"""

from __future__ import annotations

from torch import nn

from ..core.layout import VIDEO_STEM_STRIDE


class VideoStem(nn.Sequential):
    """conv 1×3×3 /(1,2,2) (C1) -> BN -> ReLU -> conv 1×3×3 /(1,2,2) (C1) -> BN: (T, H, W) -> (T, H/4, W/4).

    Args:
        in_channels: clip channels (3 for RGB, 2 for optical flow). C1: output width.
    """

    stride = VIDEO_STEM_STRIDE  # (N, C_in, T, H, W) -> (N, C1, T, ceil(H/4), ceil(W/4))

    def __init__(self, in_channels: int, C1: int):
        kernel, stride, padding = (1, 3, 3), (1, 2, 2), (0, 1, 1)
        super().__init__(
            nn.Conv3d(in_channels, C1, kernel, stride, padding, bias=False),
            nn.BatchNorm3d(C1),
            nn.ReLU(inplace=True),
            nn.Conv3d(C1, C1, kernel, stride, padding, bias=False),
            nn.BatchNorm3d(C1),
        )


__all__ = ["VideoStem"]
