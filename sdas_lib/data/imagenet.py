"""ImageNet as an ImageFolder tree: ``root/train/<class>/<image>`` and ``root/val/<class>/<image>``."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SdasError
from .base import ImageData
from .transforms import imagenet_transforms


def load_imagenet_data(root: str | os.PathLike, resolution: int = 224, cutout: int = 0) -> ImageData:
    """An ImageFolder tree ``root/train/<class>/*.jpg`` and ``root/val/<class>/*.jpg`` (§5.2 transforms).

    Both splits first resize the short edge to resolution·256/224 (256 for 224), keeping the aspect
    ratio. Training images: a random resolution×resolution crop of that, a random horizontal flip,
    normalization (IMAGENET_MEAN/STD), then cutout if ``cutout`` > 0; test images: the center crop
    and normalization. The crop never rescales (no random-resized crop) and there is no color jitter:
    see :func:`sdas_lib.data.transforms.imagenet_transforms`.
    """
    import torchvision

    root = Path(root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise SdasError(
                f"ImageNet folder {str(root / split)!r} is missing. Expected layout: "
                f"{root}/train/<class>/<image> and {root}/val/<class>/<image>; pass --data-root DIR"
            )
    train_tf = imagenet_transforms(True, resolution, cutout)
    test_tf = imagenet_transforms(False, resolution)
    try:
        train = torchvision.datasets.ImageFolder(str(root / "train"), transform=train_tf)
        test = torchvision.datasets.ImageFolder(str(root / "val"), transform=test_tf)
    except (FileNotFoundError, RuntimeError) as err:
        raise SdasError(f"cannot read ImageNet from {str(root)!r}: {err}") from None
    return ImageData(
        name="imagenet",
        description=f"imagenet (ImageFolder {root}; {len(train)} train / {len(test)} val, {len(train.classes)} classes)",
        train=train, test=test, num_classes=len(train.classes), in_channels=3, resolution=resolution,
    )
