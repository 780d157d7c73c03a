"""Data sets and deterministic, resumable batching.

The embedded default is scikit-learn's handwritten digits: 1,797 real 8×8 scans shipped inside
scikit-learn, split 80/20 (stratified, fixed seed) into train and test, resized to the preset's
resolution and repeated to 3 channels. Real data sets (CIFAR10 through torchvision, ImageNet as
an ImageFolder tree) are read from ``data_root`` when the user has them.

Every run says which data set it used: :attr:`ImageData.description` goes into the log and the
run's config.json.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from .errors import SdasError, choices

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class ImageData:
    """A train/test pair of image classification data sets plus what a network needs to know."""

    name: str
    description: str  # says which data set a run actually used
    train: Dataset
    test: Dataset
    num_classes: int
    in_channels: int
    resolution: int

    @property
    def in_memory(self) -> bool:
        return isinstance(self.train, TensorDataset)


def load_digits_data(resolution: int = 16, test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """scikit-learn's digits as normalized (N, 3, R, R) float tensors; 1,437 train / 360 test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (N, 8, 8) in [0, 1]
    labels = torch.tensor(digits.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        list(range(len(labels))), test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    x = F.interpolate(images[:, None], size=(resolution, resolution), mode="bilinear", align_corners=False)
    mean, std = x[idx_train].mean(), x[idx_train].std()
    x = ((x - mean) / std).repeat(1, 3, 1, 1).contiguous()  # (N, 3, R, R)
    return ImageData(
        name="digits",
        description=(
            f"digits (scikit-learn handwritten digits, embedded; {len(idx_train)} train / "
            f"{len(idx_test)} test, 8x8 resized to {resolution}x{resolution}, 10 classes)"
        ),
        train=TensorDataset(x[idx_train], labels[idx_train]),
        test=TensorDataset(x[idx_test], labels[idx_test]),
        num_classes=10,
        in_channels=3,
        resolution=resolution,
    )


def cifar10_transforms(train: bool, cutout: int = 0):
    """§5.2: random 32×32 crop of the 4-pixel-padded image, horizontal flip, normalization."""
    import torchvision.transforms as T

    steps = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if train else []
    steps += [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)]
    if train and cutout > 0:
        steps.append(Cutout(cutout))
    return T.Compose(steps)


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


DATASETS = ("digits", "cifar10", "imagenet")


def load_image_data(name: str, root: str | os.PathLike = "data", resolution: int | None = None, cutout: int = 0) -> ImageData:
    """Load a data set by name: ``digits`` (embedded default), ``cifar10`` or ``imagenet``.

    ``cutout`` goes into the training transforms of the file-backed sets; the in-memory digits
    get it per batch from :func:`cutout_batch` in the retraining loop.
    """
    if name == "digits":
        return load_digits_data(resolution or 16)
    if name == "cifar10":
        return load_cifar10_data(root, cutout=cutout)
    if name == "imagenet":
        return load_imagenet_data(root, resolution or 224, cutout=cutout)
    raise SdasError(f"unknown data set {name!r}; choose one of: {choices(DATASETS)}")


class Cutout:
    """Zero a random size×size square of a (C, H, W) tensor (DARTS' cutout; retraining only)."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return cutout_batch(img[None], self.size)[0]  # a batch of one: (1, C, H, W)


def cutout_batch(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Cutout for a whole batch: one random size×size square per sample, centred anywhere in the
    image and clipped at its border (rows [cy - size//2, cy + size//2), likewise columns).

    x: (N, C, H, W) -> a new tensor of the same shape with the squares set to 0.
    """
    if size <= 0:
        return x
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    cy = torch.randint(h, (n, 1, 1), generator=generator)
    cx = torch.randint(w, (n, 1, 1), generator=generator)
    ys, xs = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = (ys >= cy - size // 2) & (ys < cy + size // 2) & (xs >= cx - size // 2) & (xs < cx + size // 2)
    return x * (~inside).to(x.dtype).unsqueeze(1).to(x.device)  # (N, 1, H, W) mask over channels


def split_indices(n: int, portion: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic random split of range(n) into two parts (w-train, α/β-val in a search)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    cut = int(n * portion)
    return sorted(perm[:cut]), sorted(perm[cut:])


class EpochBatches:
    """Deterministic, resumable mini-batches over ``indices`` of ``dataset``.

    Epoch e visits the indices in a permutation seeded by (seed, e) and drops the last partial
    batch, so the batch at (epoch, position) is known without replaying anything: a resumed run
    continues with exactly the batches it would have seen. File-backed data sets also get their
    random transforms (crop, flip, cutout) from a seed per (epoch, sample position), not from the
    global or a worker's random state, so a resumed run sees the same augmented images too.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int], batch_size: int, seed: int, num_workers: int = 0, what: str = "split"):
        if batch_size > len(indices):
            raise SdasError(
                f"batch size {batch_size} is larger than the {what} ({len(indices)} samples); "
                f"lower --batch_size to at most {len(indices)}"
            )
        self.dataset = dataset
        self.indices = torch.as_tensor(list(indices), dtype=torch.long)
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers

    def __len__(self) -> int:
        return len(self.indices) // self.batch_size

    def _generator(self, epoch: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)

    def order(self, epoch: int) -> list[torch.Tensor]:
        perm = self.indices[torch.randperm(len(self.indices), generator=self._generator(epoch))]
        B = self.batch_size
        return [perm[b * B : (b + 1) * B] for b in range(len(self))]

    def sample_seeds(self, epoch: int) -> list[torch.Tensor]:
        """One transform seed per sample of each batch of ``epoch``, aligned with :meth:`order`."""
        g = self._generator(epoch)
        torch.randperm(len(self.indices), generator=g)  # the same stream as order(), then the seeds
        seeds = torch.randint(0, 2**62, (len(self.indices),), generator=g)
        B = self.batch_size
        return [seeds[b * B : (b + 1) * B] for b in range(len(self))]

    def iterate(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batches = self.order(epoch)[start:]
        if isinstance(self.dataset, TensorDataset):
            x, y = self.dataset.tensors
            for idx in batches:
                yield x[idx], y[idx]
            return
        seeds = self.sample_seeds(epoch)[start:]
        keys = [list(zip(b.tolist(), s.tolist())) for b, s in zip(batches, seeds)]
        loader = DataLoader(
            SeededSamples(self.dataset), batch_sampler=keys, num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),  # leaves the global random state alone
        )
        yield from loader


class SeededSamples(Dataset):
    """``dataset[index]`` computed under ``torch.manual_seed(seed)`` for keys ``(index, seed)``.

    The global random state is restored afterwards, so the caller's stream (drop path, cutout of
    in-memory batches) does not depend on how many samples were loaded.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


def iterate_dataset(dataset: Dataset, batch_size: int, num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """All of ``dataset`` in order, for evaluation."""
    if isinstance(dataset, TensorDataset):
        x, y = dataset.tensors
        for b in range(0, len(y), batch_size):
            yield x[b : b + batch_size], y[b : b + batch_size]
        return
    yield from DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
