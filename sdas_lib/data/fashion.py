"""Fashion-MNIST (Xiao et al., 2017): 70,000 real 28×28 grayscale product photos in 10 classes,
read with ``torchvision.datasets.FashionMNIST`` from ``data_root/FashionMNIST/raw/``.

Where the four IDX files come from, in this order:
1. ``data_root/FashionMNIST/raw/`` already holds them uncompressed: read as they are.
2. The Debian package ``dataset-fashion-mnist`` (``tools/setup.sh`` installs it as root) holds them
   gzipped in ``/usr/share/datasets/fashion-mnist/``: each is decompressed once into the raw folder,
   its md5 checked while it is written to a temporary file there, and renamed into place only when
   it matches, so an interrupted or damaged copy is never read.
3. Online, torchvision downloads them (and checks its own md5s of the archives), only because the
   user asked for this data set.
Otherwise the run stops with an error that says how to get the files. Nothing falls back to
another data set.

A run holds a class-balanced, seeded subset in memory, resized to the preset's resolution and
repeated to 3 channels, as the digits are. A search takes 144 training images per class (1,440:
the tiny CIFAR10 subset's count, so T is the other tiny sets') and 200 test images per class
(2,000) for its Table 2 evaluation; a retraining takes the same training subset and tests on all
10,000 test images.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from ..errors import SdasError
from .base import ImageData
from .cifar import _reachable
from .subsets import balanced_indices

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # where dataset-fashion-mnist puts the .gz files
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# md5 of each file *decompressed*. torchvision lists the md5s of the upstream .gz archives
# (FashionMNIST.resources); Debian recompressed them, so its .gz files differ while their content does not.
# These are the content's md5s: the label files' were checked against the upstream archives that match
# torchvision's md5s, the image files' were computed from dataset-fashion-mnist 0.0~git20200523.
RAW_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}

# A search's subset: 144 train images per class (1,440, the tiny CIFAR10 subset's count: 11 search
# iterations an epoch at batch 64) and 200 test images per class (2,000: one image is 0.05%).
SEARCH_PER_CLASS_TRAIN, SEARCH_PER_CLASS_TEST = 144, 200
PURPOSES = ("search", "retrain")


def raw_folder(root: str | os.PathLike) -> Path:
    """Where torchvision's FashionMNIST reads the uncompressed IDX files: ``root/FashionMNIST/raw``."""
    return Path(root) / "FashionMNIST" / "raw"


def _how_to_get(raw: Path, why: str) -> SdasError:
    from torchvision.datasets import FashionMNIST

    return SdasError(
        f"Fashion-MNIST not found in {str(raw)!r} ({why}). Install it without a download: "
        f"'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu; tools/setup.sh does it as root), "
        f"or run once online (torchvision downloads it), or put the four files {', '.join(FILES)} "
        f"(gzipped from {FashionMNIST.mirrors[0]} or uncompressed) into {str(raw)!r}; or pass --data-root DIR"
    )


def install_raw_file(source: Path, raw: Path, expected_md5: str) -> Path:
    """Decompress (``.gz``) or copy ``source`` into ``raw`` under its name without ``.gz``, atomically.

    The bytes go to a temporary file in ``raw`` while their md5 is computed; only a file whose md5 is
    ``expected_md5`` is renamed into place (an atomic rename on one file system), so a reader never
    sees a partial or damaged file. A mismatch removes the temporary file and raises.
    """
    name = source.name[:-3] if source.name.endswith(".gz") else source.name
    raw.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5()
    fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, (gzip.open(source, "rb") if source.name.endswith(".gz") else open(source, "rb")) as src:
            while chunk := src.read(1 << 20):
                md5.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the data from other users of a shared data root
        if md5.hexdigest() != expected_md5:
            raise SdasError(
                f"Fashion-MNIST file {str(source)!r} is damaged: md5 of its content is {md5.hexdigest()}, expected "
                f"{expected_md5}; reinstall it ('sudo apt-get install --reinstall dataset-fashion-mnist') or download it again"
            )
        os.replace(tmp, raw / name)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise SdasError(f"cannot decompress Fashion-MNIST file {str(source)!r} into {str(raw)!r}: {err}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return raw / name


def prepare_raw_files(root: str | os.PathLike, download: bool = True, package_dir: str | os.PathLike | None = None,
                      checksums: dict[str, str] | None = None) -> Path:
    """Make sure ``root/FashionMNIST/raw`` holds the four uncompressed IDX files; return that folder.

    Args:
        root: the data root.
        download: let torchvision download the files when neither the raw folder nor the package has them
            and its host is reachable.
        package_dir: folder of the gzipped (or plain) files to decompress from (default :data:`DEBIAN_DIR`, the
            Debian package's).
        checksums: md5 of each decompressed file (default :data:`RAW_MD5`; tests pass their own).
    """
    checksums = RAW_MD5 if checksums is None else checksums
    raw = raw_folder(root)
    missing = [f for f in FILES if not (raw / f).is_file()]
    if not missing:
        return raw
    package = Path(package_dir) if package_dir is not None else DEBIAN_DIR
    sources = {}
    for f in missing:
        found = [p for p in (package / f"{f}.gz", package / f) if p.is_file()]
        if found:
            sources[f] = found[0]
    if len(sources) == len(missing):
        for f in missing:
            install_raw_file(sources[f], raw, checksums[f])
        return raw
    from torchvision.datasets import FashionMNIST

    where = f"no package files in {str(package)!r}"
    if not download:
        raise _how_to_get(raw, f"missing {', '.join(missing)}; {where}; downloading is off")
    if not _reachable(FashionMNIST.mirrors[0]):
        raise _how_to_get(raw, f"missing {', '.join(missing)}; {where}; offline: cannot reach {FashionMNIST.mirrors[0]}")
    try:
        FashionMNIST(str(root), train=True, download=True)
    except (RuntimeError, OSError) as err:
        raise _how_to_get(raw, f"the download failed: {type(err).__name__}: {err}") from None
    return raw


def load_fashion_mnist_data(
    root: str | os.PathLike = "data", resolution: int = 16, purpose: str = "search",
    per_class_train: int = SEARCH_PER_CLASS_TRAIN, per_class_test: int | None = None, download: bool = True,
    seed: int = 0, package_dir: str | os.PathLike | None = None, checksums: dict[str, str] | None = None,
) -> ImageData:
    """Fashion-MNIST as normalized (N, 3, R, R) tensors: a class-balanced subset, resized and repeated to 3 channels.

    Args:
        root: the data root; the files live in ``root/FashionMNIST/raw`` (see :func:`prepare_raw_files`).
        resolution: side of the images (28: the files' pixels; otherwise antialiased bilinear resizing).
        purpose: ``"search"`` (test subset of 200 per class, for Table 2) or ``"retrain"`` (all 10,000 test images).
        per_class_train: training images per class (default 144: 1,440).
        per_class_test: test images per class; None: the purpose's (200 for a search, every one for a retraining).
        download, package_dir, checksums: where the files may come from (see :func:`prepare_raw_files`).
        seed: seed of the subsets.
    """
    from torchvision.datasets import FashionMNIST

    if purpose not in PURPOSES:
        raise SdasError(f"fashion_mnist: unknown purpose {purpose!r}; choose 'search' or 'retrain'")
    if per_class_test is None and purpose == "search":
        per_class_test = SEARCH_PER_CLASS_TEST
    if resolution < 1 or per_class_train < 1 or (per_class_test is not None and per_class_test < 1):
        raise SdasError("fashion_mnist: resolution, per_class_train and per_class_test must be positive")
    raw = prepare_raw_files(root, download, package_dir, checksums)
    try:
        train, test = FashionMNIST(str(root), train=True), FashionMNIST(str(root), train=False)
    except (RuntimeError, OSError, ValueError, AssertionError) as err:
        raise _how_to_get(raw, f"unreadable: {type(err).__name__}: {err}") from None

    def pick(ds, per_class: int | None, what: str, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = ds.targets.long()
        idx = torch.arange(len(labels)) if per_class is None else balanced_indices(
            labels, per_class, 10, seed * 2 + offset, what, dataset="Fashion-MNIST", where=raw, full="6000 train / 1000 test")
        x = ds.data[idx].float()[:, None] / 255  # (N, 1, 28, 28) in [0, 1]
        if resolution != x.shape[-1]:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
        return x, labels[idx]

    x_train, y_train = pick(train, per_class_train, "train", 0)
    x_test, y_test = pick(test, per_class_test, "test", 1)
    mean, std = x_train.mean(), x_train.std()  # of the training subset, as for the digits

    def tensors(x, y) -> TensorDataset:
        return TensorDataset(((x - mean) / std).repeat(1, 3, 1, 1).contiguous(), y)  # (N, 3, R, R)

    test_what = "all test images" if per_class_test is None else f"{per_class_test} test per class"
    return ImageData(
        name="fashion_mnist",
        description=(
            f"fashion_mnist (Fashion-MNIST's 28x28 grayscale product photos, class-balanced subset for a {'search' if purpose == 'search' else 'retraining'}: "
            f"{len(y_train)} train / {len(y_test)} test, {per_class_train} train per class, {test_what}, seed {seed}; "
            f"resized to {resolution}x{resolution} and repeated to 3 channels, 10 classes; from {raw})"
        ),
        train=tensors(x_train, y_train), test=tensors(x_test, y_test), num_classes=10, in_channels=3, resolution=resolution,
    )


__all__ = ["DEBIAN_DIR", "FILES", "RAW_MD5", "raw_folder", "install_raw_file", "prepare_raw_files", "load_fashion_mnist_data"]
