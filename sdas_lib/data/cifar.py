"""CIFAR10 through torchvision, from ``data_root/cifar-10-batches-py`` (the python pickle version)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SdasError
from .base import ImageData
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


def load_cifar10_data(root: str | os.PathLike = "data", download: bool = True, cutout: int = 0) -> ImageData:
    """torchvision's CIFAR10 from ``root/cifar-10-batches-py`` (downloaded there when online).

    Offline with no files it fails at once, naming the folder, the layout and the download link.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py``.
        download: fetch the archive when the folder is missing and the host is reachable.
        cutout: side of the cutout square for training images (retraining only; 0 = off).
    """
    import torchvision

    root = Path(root)
    folder = root / "cifar-10-batches-py"
    fetch = download and not folder.is_dir()
    if fetch and not _reachable(CIFAR10_URL):
        raise _cifar10_missing(root, folder, "offline: cannot reach www.cs.toronto.edu to download it")
    try:
        if fetch:
            root.mkdir(parents=True, exist_ok=True)
        train = torchvision.datasets.CIFAR10(str(root), train=True, transform=cifar10_transforms(True, cutout), download=fetch)
        test = torchvision.datasets.CIFAR10(str(root), train=False, transform=cifar10_transforms(False))
    except (RuntimeError, OSError) as err:
        raise _cifar10_missing(root, folder, f"{type(err).__name__}: {err}") from None
    return ImageData(
        name="cifar10",
        description=f"cifar10 (torchvision, {folder}; {len(train)} train / {len(test)} test, 32x32, 10 classes)",
        train=train, test=test, num_classes=10, in_channels=3, resolution=32,
    )
