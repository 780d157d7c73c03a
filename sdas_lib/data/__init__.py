"""Data sets and deterministic, resumable batching (layer ``data``; imports torch and torchvision).

The embedded default is scikit-learn's handwritten digits: 1,797 real 8×8 scans shipped inside
scikit-learn, split 80/20 (stratified, fixed seed) into train and test, resized to the preset's
resolution and repeated to 3 channels. ``cluttered_digits`` (embedded too) places the same scans
among fragments of other scans with pixel noise, a harder set that does not saturate at the tiny
scale. ``fashion_mnist`` holds real 28×28 product photos: Debian's ``dataset-fashion-mnist``
package installs it without a download (:mod:`.fashion`). Real data sets (CIFAR10 and its tiny
subset through torchvision, ImageNet as an ImageFolder tree) are read from ``data_root`` when the
user has them; see data/README.md.

Video (layer ``data`` too): the embedded default is ``moving_digits``, clips of the same scans moving
or turning, with coarse motion classes for the search and fine ones (``moving_digits_fine``) for
transfer, as Kinetics10 is to Kinetics. Real sets (Kinetics10, Kinetics, UCF101, HMDB51) are read with
PyAV from ``data_root`` and cut into clips as §5.2 says (:mod:`.video_clips`).

Every run says which data set it used: :attr:`ImageData.description` goes into the log and the
run's config.json.
"""

from __future__ import annotations

import dataclasses
import os

from ..errors import SdasError, choices
from .base import ImageData, VideoData
from .classmap import ClassMapping
from .batching import EpochBatches, SeededSamples, iterate_dataset, split_indices
from .cifar import CIFAR10_URL, load_cifar10_data, load_cifar10_tiny_data
from .cluttered import ClutteredDigitsConfig, load_cluttered_digits_data
from .digits import load_digits_data
from .fashion import load_fashion_mnist_data
from .imagenet import load_imagenet_data
from .kinetics import load_kinetics10_data, load_kinetics_data
from .moving_digits import MovingDigitsConfig, load_moving_digits_data
from .ucf_hmdb import load_hmdb51_data, load_ucf101_data
from .video_clips import PAPER_CLIPS, ClipSampling
from .transforms import Cutout, cifar10_transforms, cutout_batch

DATASETS = ("digits", "cifar10", "imagenet", "cluttered_digits", "cifar10_tiny", "fashion_mnist")
VIDEO_DATASETS = ("moving_digits", "moving_digits_fine", "kinetics10", "kinetics", "ucf101", "hmdb51")


def load_image_data(name: str, root: str | os.PathLike = "data", resolution: int | None = None, cutout: int = 0,
                    purpose: str = "search") -> ImageData:
    """Load a data set by name: ``digits`` (embedded default), ``cluttered_digits`` (embedded),
    ``cifar10``, ``cifar10_tiny`` (its class-balanced subset at 16×16, in memory), ``fashion_mnist``
    (a class-balanced subset at 16×16 by default, in memory) or ``imagenet``.

    ``cutout`` goes into the training transforms of the file-backed sets; the in-memory sets
    (digits, cluttered_digits, cifar10_tiny, fashion_mnist) get it per batch from :func:`cutout_batch`
    in the retraining loop. ``purpose`` (``"search"`` or ``"retrain"``) matters to ``fashion_mnist``
    only: a search is tested on a 2,000-image subset, a retraining on all 10,000 test images.
    """
    if name == "digits":
        return load_digits_data(resolution or 16)
    if name == "cluttered_digits":
        return load_cluttered_digits_data(resolution or 16)
    if name == "cifar10":
        return load_cifar10_data(root, cutout=cutout)
    if name == "cifar10_tiny":
        return load_cifar10_tiny_data(root, resolution or 16)
    if name == "fashion_mnist":
        return load_fashion_mnist_data(root, resolution or 16, purpose=purpose)
    if name == "imagenet":
        return load_imagenet_data(root, resolution or 224, cutout=cutout)
    raise SdasError(f"unknown data set {name!r}; choose one of: {choices(DATASETS)}")


def load_video_data(
    name: str, root: str | os.PathLike = "data", resolution: int | None = None, clip_len: int | None = None,
    sampling: ClipSampling | None = None, cache_dir: str | os.PathLike | None = None,
) -> VideoData:
    """Load a video data set by name: ``moving_digits`` (embedded default, coarse motion classes),
    ``moving_digits_fine`` (its fine classes, for transfer), or from ``root``: ``kinetics10``
    (Table 3's 10 groups), ``kinetics`` (every annotated class), ``ucf101``, ``hmdb51`` (split 1).

    ``resolution`` and ``clip_len`` size the embedded clips; the file-backed sets take ``sampling``
    (default: the paper's 16×112×112 crops of frames with short edge 128, 20 test clips), with
    ``resolution``/``clip_len`` overriding its crop and length. ``cache_dir``: where the embedded
    clips are cached (default ``$SDAS_CACHE`` or ``~/.cache/sdas``); the file-backed sets keep their
    frame-count index in ``root`` (``.sdas_frame_counts.json``).
    """
    if name in ("moving_digits", "moving_digits_fine"):
        labels = "coarse" if name == "moving_digits" else "fine"
        return load_moving_digits_data(resolution=resolution, clip_len=clip_len, labels=labels, cache_dir=cache_dir)
    if name not in VIDEO_DATASETS:
        raise SdasError(f"unknown video data set {name!r}; choose one of: {choices(VIDEO_DATASETS)}")
    s = sampling or PAPER_CLIPS
    if resolution is not None or clip_len is not None:
        crop = resolution or s.crop
        s = dataclasses.replace(s, crop=crop, short_edge=max(s.short_edge * crop // s.crop, crop), clip_len=clip_len or s.clip_len)
    index_cache = os.path.join(root, ".sdas_frame_counts.json") if os.path.isdir(root) else None
    loader = {"kinetics10": load_kinetics10_data, "kinetics": load_kinetics_data, "ucf101": load_ucf101_data, "hmdb51": load_hmdb51_data}[name]
    return loader(root, sampling=s, index_cache=index_cache)


__all__ = [
    "ImageData", "EpochBatches", "SeededSamples", "iterate_dataset", "split_indices", "load_cifar10_data",
    "load_cifar10_tiny_data", "ClutteredDigitsConfig", "load_cluttered_digits_data",
    "load_digits_data", "load_fashion_mnist_data", "load_imagenet_data", "Cutout", "cifar10_transforms", "cutout_batch", "DATASETS",
    "load_image_data", "VideoData", "ClassMapping", "VIDEO_DATASETS", "load_video_data", "ClipSampling", "PAPER_CLIPS",
    "MovingDigitsConfig", "load_moving_digits_data", "load_kinetics10_data", "load_kinetics_data", "load_ucf101_data",
    "load_hmdb51_data",
]
