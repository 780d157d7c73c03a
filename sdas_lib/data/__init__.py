"""Data sets and deterministic, resumable batching (layer ``data``; imports torch and torchvision).

The embedded default is scikit-learn's handwritten digits: 1,797 real 8×8 scans shipped inside
scikit-learn, split 80/20 (stratified, fixed seed) into train and test, resized to the preset's
resolution and repeated to 3 channels. ``cluttered_digits`` (embedded too) places the same scans
among fragments of other scans with pixel noise, a harder set that does not saturate at the tiny
scale. Real data sets (CIFAR10 and its tiny subset through torchvision, ImageNet as an ImageFolder
tree) are read from ``data_root`` when the user has them; see data/README.md.

Every run says which data set it used: :attr:`ImageData.description` goes into the log and the
run's config.json.
"""

from __future__ import annotations

import os

from ..errors import SdasError, choices
from .base import ImageData
from .batching import EpochBatches, SeededSamples, iterate_dataset, split_indices
from .cifar import CIFAR10_URL, load_cifar10_data, load_cifar10_tiny_data
from .cluttered import ClutteredDigitsConfig, load_cluttered_digits_data
from .digits import load_digits_data
from .imagenet import load_imagenet_data
from .transforms import Cutout, cifar10_transforms, cutout_batch

DATASETS = ("digits", "cifar10", "imagenet", "cluttered_digits", "cifar10_tiny")


def load_image_data(name: str, root: str | os.PathLike = "data", resolution: int | None = None, cutout: int = 0) -> ImageData:
    """Load a data set by name: ``digits`` (embedded default), ``cluttered_digits`` (embedded),
    ``cifar10``, ``cifar10_tiny`` (its class-balanced subset at 16×16, in memory) or ``imagenet``.

    ``cutout`` goes into the training transforms of the file-backed sets; the in-memory sets
    (digits, cluttered_digits, cifar10_tiny) get it per batch from :func:`cutout_batch` in the
    retraining loop.
    """
    if name == "digits":
        return load_digits_data(resolution or 16)
    if name == "cluttered_digits":
        return load_cluttered_digits_data(resolution or 16)
    if name == "cifar10":
        return load_cifar10_data(root, cutout=cutout)
    if name == "cifar10_tiny":
        return load_cifar10_tiny_data(root, resolution or 16)
    if name == "imagenet":
        return load_imagenet_data(root, resolution or 224, cutout=cutout)
    raise SdasError(f"unknown data set {name!r}; choose one of: {choices(DATASETS)}")


__all__ = [
    "ImageData", "EpochBatches", "SeededSamples", "iterate_dataset", "split_indices", "load_cifar10_data",
    "load_cifar10_tiny_data", "ClutteredDigitsConfig", "load_cluttered_digits_data",
    "load_digits_data", "load_imagenet_data", "Cutout", "cifar10_transforms", "cutout_batch", "DATASETS",
    "load_image_data",
]
