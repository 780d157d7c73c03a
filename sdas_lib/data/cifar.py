"""CIFAR10 through torchvision, from ``data_root/cifar-10-batches-py`` (the python pickle version):
the full set (32×32, file-backed) and its tiny class-balanced subset (16×16, in memory)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import SdasError
from .base import ImageData
from .subsets import balanced_indices
from .transforms import cifar10_transforms

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url``'s host accepts a connection within ``timeout`` seconds (DNS included).

    Runs in a daemon thread because name resolution has no timeout of its own: offline machines
    whose resolver hangs still get an answer at once.
    """
    import socket
    import threading
    from urllib.parse import urlparse

    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    ok = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(ok)


def _cifar10_missing(root: Path, folder: Path, why: str) -> SdasError:
    return SdasError(
        f"CIFAR10 not found in {str(folder)!r} ({why}). Expected layout: "
        f"{folder}/data_batch_1..5, test_batch, batches.meta (the python pickle version). "
        f"Download {CIFAR10_URL} and extract it into {str(root)!r}, or pass --data-root DIR"
    )


def _open_cifar10(root: Path, download: bool, train_transform=None, test_transform=None):
    """torchvision's CIFAR10 train and test sets from ``root/cifar-10-batches-py``.

    Downloads only when ``download`` is set, the folder is absent and the host is reachable;
    otherwise a missing or unreadable folder fails at once, naming the folder, layout and link.
    """
    import torchvision

    folder = root / "cifar-10-batches-py"
    fetch = download and not folder.is_dir()
    if fetch and not _reachable(CIFAR10_URL):
        raise _cifar10_missing(root, folder, "offline: cannot reach www.cs.toronto.edu to download it")
    try:
        if fetch:
            root.mkdir(parents=True, exist_ok=True)
        train = torchvision.datasets.CIFAR10(str(root), train=True, transform=train_transform, download=fetch)
        test = torchvision.datasets.CIFAR10(str(root), train=False, transform=test_transform)
    except (RuntimeError, OSError) as err:
        raise _cifar10_missing(root, folder, f"{type(err).__name__}: {err}") from None
    return train, test


def load_cifar10_data(root: str | os.PathLike = "data", download: bool = True, cutout: int = 0) -> ImageData:
    """torchvision's CIFAR10 from ``root/cifar-10-batches-py`` (downloaded there when online).

    Offline with no files it fails at once, naming the folder, the layout and the download link.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py``.
        download: fetch the archive when the folder is missing and the host is reachable.
        cutout: side of the cutout square for training images (retraining only; 0 = off).
    """
    root = Path(root)
    folder = root / "cifar-10-batches-py"
    train, test = _open_cifar10(root, download, cifar10_transforms(True, cutout), cifar10_transforms(False))
    return ImageData(
        name="cifar10",
        description=f"cifar10 (torchvision, {folder}; {len(train)} train / {len(test)} test, 32x32, 10 classes)",
        train=train, test=test, num_classes=10, in_channels=3, resolution=32,
    )


# The tiny subset: 144 training images per class (1,440: plain digits' 1,437 rounded up to a
# multiple of 10, so a tiny search or retrain has the digits' iterations: 11 search and 22 retrain
# iterations per epoch) and 200 test images per class (2,000: one image is 0.05%).
TINY_PER_CLASS_TRAIN, TINY_PER_CLASS_TEST = 144, 200


def load_cifar10_tiny_data(
    root: str | os.PathLike = "data", resolution: int = 16, per_class_train: int = TINY_PER_CLASS_TRAIN,
    per_class_test: int = TINY_PER_CLASS_TEST, download: bool = True, seed: int = 0,
) -> ImageData:
    """A class-balanced subset of CIFAR10, downsampled to ``resolution`` and held in memory.

    The subset is drawn with a fixed seed, in file order, from torchvision's CIFAR10 under
    ``root/cifar-10-batches-py`` (downloaded there only when the folder is absent and the host is
    reachable; offline it fails at once like :func:`load_cifar10_data`). Images are downsampled
    with antialiased bilinear interpolation and normalized with CIFAR10's mean and std; as an
    in-memory set they get no crop or flip, and cutout comes per batch from the retraining loop.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py``.
        resolution: side of the downsampled images (16 for the tiny presets).
        per_class_train / per_class_test: images of each of the 10 classes (default 144 / 200:
            1,440 train, 2,000 test).
        download: fetch the archive when the folder is missing and the host is reachable.
        seed: seed of the subset.
    """
    import torch.nn.functional as F
    from torch.utils.data import TensorDataset

    from .transforms import CIFAR_MEAN, CIFAR_STD

    if resolution < 1 or per_class_train < 1 or per_class_test < 1:
        raise SdasError("cifar10_tiny: resolution, per_class_train and per_class_test must be positive")
    root = Path(root)
    folder = root / "cifar-10-batches-py"
    train, test = _open_cifar10(root, download)
    mean, std = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR_STD).view(1, 3, 1, 1)

    def subset(ds, per_class: int, what: str, offset: int) -> TensorDataset:
        labels = torch.as_tensor(ds.targets, dtype=torch.long)
        idx = balanced_indices(labels, per_class, 10, seed * 2 + offset, what, dataset="CIFAR10", where=folder,
                               full="5000 train / 1000 test")
        x = torch.from_numpy(ds.data[idx.numpy()]).permute(0, 3, 1, 2).float() / 255  # (N, 3, 32, 32) in [0, 1]
        if resolution != x.shape[-1]:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
        return TensorDataset(((x - mean) / std).contiguous(), labels[idx])

    tr, te = subset(train, per_class_train, "train", 0), subset(test, per_class_test, "test", 1)
    return ImageData(
        name="cifar10_tiny",
        description=(
            f"cifar10_tiny (class-balanced subset of CIFAR10, {len(tr)} train / {len(te)} test, downsampled to "
            f"{resolution}x{resolution}; {per_class_train} / {per_class_test} per class, seed {seed}, from {folder})"
        ),
        train=tr, test=te, num_classes=10, in_channels=3, resolution=resolution,
    )
