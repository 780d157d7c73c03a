"""ImageNet as an ImageFolder tree: ``root/train/<class>/<image>`` and ``root/val/<class>/<image>``."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SdasError
from .base import ImageData
from .transforms import IMAGENET_MEAN, IMAGENET_STD, Cutout


def load_imagenet_data(root: str | os.PathLike, resolution: int = 224, cutout: int = 0) -> ImageData:
    """An ImageFolder tree ``root/train/<class>/*.jpg`` and ``root/val/<class>/*.jpg`` (§5.2 transforms).

    Training images: random resized crop, horizontal flip, normalization (then cutout if > 0);
    test images: resize the short side to resolution·256/224, center crop, normalization.
    """
    import torchvision
    import torchvision.transforms as T

    root = Path(root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise SdasError(
                f"ImageNet folder {str(root / split)!r} is missing. Expected layout: "
                f"{root}/train/<class>/<image> and {root}/val/<class>/<image>; pass --data-root DIR"
            )
    norm = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    short = round(resolution * 256 / 224)
    train_tf = T.Compose(
        [T.RandomResizedCrop(resolution), T.RandomHorizontalFlip(), T.ToTensor(), norm]
        + ([Cutout(cutout)] if cutout > 0 else [])
    )
    test_tf = T.Compose([T.Resize(short), T.CenterCrop(resolution), T.ToTensor(), norm])
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
