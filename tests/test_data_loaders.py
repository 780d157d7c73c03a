"""Real image data sets through torchvision's own classes, on tiny files the tests write."""

import hashlib
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from sdas_lib.data import cifar as data_mod
from sdas_lib.data.transforms import CIFAR_MEAN, CIFAR_STD
from sdas_lib.data import (
    CIFAR10_URL, Cutout, cutout_batch, load_cifar10_data, load_image_data, load_imagenet_data,
)
from sdas_lib.errors import SdasError

LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_tiny_cifar10(root: Path, per_batch: int = 4, n_test: int = 6, seed: int = 0) -> Path:
    """CIFAR10's python layout: cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta.

    Each batch is a pickled dict with 'data' (N, 3072) uint8 rows in (C, H, W) order and 'labels'.
    """
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def batch(name, n):
        entry = {
            "batch_label": name,
            "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "labels": [int(v) for v in rng.integers(0, 10, size=n)],
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)

    for i in range(1, 6):
        batch(f"data_batch_{i}", per_batch)
    batch("test_batch", n_test)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": LABEL_NAMES, "num_cases_per_batch": per_batch, "num_vis": 3072}, f)
    return folder


@pytest.fixture
def tiny_cifar10(tmp_path, monkeypatch):
    """A tiny CIFAR10 whose md5s are patched into torchvision's class (it verifies every file)."""
    folder = write_tiny_cifar10(tmp_path)
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[f"data_batch_{i}", _md5(folder / f"data_batch_{i}")] for i in range(1, 6)])
    monkeypatch.setattr(cls, "test_list", [["test_batch", _md5(folder / "test_batch")]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": _md5(folder / "batches.meta")})
    return tmp_path


def test_cifar10_reads_the_real_pickle_layout(tiny_cifar10):
    d = load_cifar10_data(tiny_cifar10, download=False)
    assert isinstance(d.train, torchvision.datasets.CIFAR10)
    assert (len(d.train), len(d.test), d.num_classes, d.resolution) == (20, 6, 10, 32)
    assert d.train.classes == LABEL_NAMES
    assert "cifar10" in d.description and "20 train / 6 test" in d.description
    x, y = d.test[0]
    with open(tiny_cifar10 / "cifar-10-batches-py" / "test_batch", "rb") as f:
        labels = pickle.load(f)["labels"]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == labels[0]
    assert [d.test[i][1] for i in range(len(d.test))] == labels  # every label, in file order
    # The test transform is deterministic normalization: uint8 pixel p -> (p/255 - mean) / std.
    raw = d.test.data[0]  # (32, 32, 3) uint8
    expect = (torch.tensor(raw).permute(2, 0, 1).float() / 255 - torch.tensor(CIFAR_MEAN)[:, None, None]) / torch.tensor(CIFAR_STD)[:, None, None]
    assert torch.allclose(x, expect, atol=1e-5)


def test_cifar10_training_transforms_crop_flip_and_cutout(tiny_cifar10):
    d = load_cifar10_data(tiny_cifar10, download=False, cutout=16)
    names = [type(t).__name__ for t in d.train.transform.transforms]
    assert names == ["RandomCrop", "RandomHorizontalFlip", "ToTensor", "Normalize", "Cutout"]
    assert d.train.transform.transforms[0].padding == 4
    assert "Cutout" not in [type(t).__name__ for t in d.test.transform.transforms]  # retraining only
    torch.manual_seed(0)
    x, _ = d.train[0]
    assert x.shape == (3, 32, 32)


def test_cifar10_present_folder_is_not_downloaded(tiny_cifar10, monkeypatch):
    def no_network(url, timeout=3.0):
        raise AssertionError("must not touch the network when the files are there")

    monkeypatch.setattr(data_mod, "_reachable", no_network)
    d = load_image_data("cifar10", tiny_cifar10)  # download=True by default
    assert len(d.train) == 20


def test_cifar10_offline_without_files_fails_at_once(tmp_path, monkeypatch):
    probed = []
    monkeypatch.setattr(data_mod, "_reachable", lambda url, timeout=3.0: probed.append(url) or False)
    with pytest.raises(SdasError) as err:
        load_image_data("cifar10", tmp_path / "data")
    assert probed == [CIFAR10_URL]  # one probe decides "offline"; no download is attempted
    msg = str(err.value)
    folder = str(tmp_path / "data" / "cifar-10-batches-py")
    assert f"CIFAR10 not found in {folder!r}" in msg
    assert "offline" in msg
    assert "data_batch_1..5, test_batch, batches.meta" in msg
    assert CIFAR10_URL in msg and "--data-root" in msg
    assert not (tmp_path / "data").exists()  # nothing created


def test_cifar10_reachability_probe_answers_quickly(monkeypatch):
    assert data_mod._reachable("https://host.invalid/x.tar.gz", timeout=1.0) is False  # .invalid never resolves
    # A resolver or connection that hangs must not hang the probe: it answers False after its timeout.
    import socket
    import threading

    release = threading.Event()

    def hangs(address, timeout=None):
        release.wait(30)
        raise OSError("released")

    monkeypatch.setattr(socket, "create_connection", hangs)
    start = time.perf_counter()
    try:
        assert data_mod._reachable("https://example.org/x.tar.gz", timeout=0.5) is False
        assert time.perf_counter() - start < 5  # a probe without its own timeout would wait 30 s
    finally:
        release.set()


def test_cifar10_corrupt_files_name_the_layout(tiny_cifar10, monkeypatch):
    (tiny_cifar10 / "cifar-10-batches-py" / "test_batch").write_bytes(b"garbage")
    with pytest.raises(SdasError, match=r"CIFAR10 not found in .*RuntimeError.*Expected layout"):
        load_cifar10_data(tiny_cifar10, download=False)


def write_tiny_imagefolder(root: Path, classes=("cat", "dog", "fish"), per_class=(3, 2), size=40, seed=0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "val"), per_class):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, size=(size, size + 8, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_imagefolder_tree_is_read_with_torchvision(tmp_path):
    root = write_tiny_imagefolder(tmp_path / "imnet")
    d = load_image_data("imagenet", root, resolution=32, cutout=8)
    assert isinstance(d.train, torchvision.datasets.ImageFolder)
    assert (len(d.train), len(d.test), d.num_classes, d.resolution) == (9, 6, 3, 32)
    assert d.train.classes == ["cat", "dog", "fish"]
    x, y = d.train[0]
    assert x.shape == (3, 32, 32) and y == 0
    x, y = d.test[5]
    assert x.shape == (3, 32, 32) and y == 2
    names = [type(t).__name__ for t in d.train.transform.transforms]
    assert names == ["Resize", "RandomCrop", "RandomHorizontalFlip", "ToTensor", "Normalize", "Cutout"]
    assert [type(t).__name__ for t in d.test.transform.transforms] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    assert d.train.transform.transforms[0].size == d.test.transform.transforms[0].size == 37  # round(32·256/224)


# -- ImageNet augmentation (§5.2): short edge to 256, random 224 crop + flip; test: center crop ------

SQUARE, IMG_W, IMG_H = 30, 400, 300  # checkerboard squares of 30 px on a 400×300 (W×H) image


def pattern_image():
    """Red: a checkerboard of SQUARE-pixel squares (its scale); green: x / (W-1), blue: y / (H-1)
    (where a crop came from, and whether it was flipped)."""
    from PIL import Image

    ys, xs = np.mgrid[0:IMG_H, 0:IMG_W]
    rgb = np.stack([((xs // SQUARE + ys // SQUARE) % 2) * 255, xs * 255 / (IMG_W - 1), ys * 255 / (IMG_H - 1)], -1)
    return Image.fromarray(rgb.round().astype(np.uint8))


def unnormalize(x: torch.Tensor) -> torch.Tensor:
    from sdas_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    return x * torch.tensor(IMAGENET_STD)[:, None, None] + torch.tensor(IMAGENET_MEAN)[:, None, None]


def square_sizes(red: torch.Tensor) -> np.ndarray:
    """Per row of ``red`` (H, W) in [0, 1]: the mean distance between black/white transitions
    (rows on a blurred horizontal border, with no clear black and white, are skipped)."""
    sizes = []
    for row in red.numpy():
        if row.max() - row.min() < 0.6:
            continue
        t = np.flatnonzero((row[1:] > 0.5) != (row[:-1] > 0.5))
        assert len(t) >= 5, "the crop must show several squares"
        sizes.append((t[-1] - t[0]) / (len(t) - 1))
    assert len(sizes) > len(red) // 2
    return np.array(sizes)


def describe_crop(x: torch.Tensor) -> dict:
    """Square size along x and y, the crop's center in input pixels, and whether it was flipped."""
    rgb = unnormalize(x)
    green = rgb[1]
    return {
        "square_x": square_sizes(rgb[0]), "square_y": square_sizes(rgb[0].T),
        "center": (round(float(green.mean()) * (IMG_W - 1), 1), round(float(rgb[2].mean()) * (IMG_H - 1), 1)),
        "flipped": bool(green[:, -1].mean() < green[:, 0].mean()),
    }


def test_imagenet_training_crop_keeps_the_scale_at_a_random_place():
    """Short edge 300 -> 256 scales the 30-px squares to 25.6 px in both directions, whatever the
    seed: a plain random crop never rescales. (RandomResizedCrop would give a random scale and
    aspect ratio: 24.5 × 28.6, 74.5 × 60, ... px for these seeds.)"""
    from sdas_lib.data.transforms import imagenet_transforms

    tf, img = imagenet_transforms(True, 224), pattern_image()
    expect = SQUARE * 256 / IMG_H
    crops = []
    for seed in range(8):
        torch.manual_seed(seed)
        x = tf(img)
        assert x.shape == (3, 224, 224)
        crop = describe_crop(x)
        for axis in ("square_x", "square_y"):
            assert np.all(np.abs(crop[axis] - expect) <= 1), (seed, axis, crop[axis].min(), crop[axis].max())
        # The center lies where a 224 crop of the 341×256 resized image can put it (± a pixel).
        cx, cy = crop["center"]
        scale = 256 / IMG_H
        assert 112 / scale - 1 <= cx <= (IMG_W * scale - 112) / scale + 1, (seed, cx)
        assert 112 / scale - 1 <= cy <= (256 - 112) / scale + 1, (seed, cy)
        crops.append(crop)
    assert len({c["center"][0] for c in crops}) >= 6  # the position is random ...
    assert len({c["center"][1] for c in crops}) >= 3  # ... in both directions
    flips = [c["flipped"] for c in crops]
    assert any(flips) and not all(flips)  # and so is the flip


def test_imagenet_training_transform_at_another_resolution_and_with_cutout():
    """resolution 112: short edge round(112·256/224) = 128, so the squares become 30·128/300 = 12.8 px."""
    from sdas_lib.data.transforms import imagenet_transforms

    tf = imagenet_transforms(True, 112, cutout=16)
    assert [type(t).__name__ for t in tf.transforms] == ["Resize", "RandomCrop", "RandomHorizontalFlip", "ToTensor", "Normalize", "Cutout"]
    assert tf.transforms[0].size == 128 and tf.transforms[-1].size == 16
    tf_plain = imagenet_transforms(True, 112)
    assert "Cutout" not in [type(t).__name__ for t in tf_plain.transforms]
    for seed in range(3):
        torch.manual_seed(seed)
        crop = describe_crop(tf_plain(pattern_image()))
        assert np.all(np.abs(crop["square_x"] - SQUARE * 128 / IMG_H) <= 1)
        assert np.all(np.abs(crop["square_y"] - SQUARE * 128 / IMG_H) <= 1)


def test_imagenet_test_transform_is_a_deterministic_center_crop():
    from sdas_lib.data.transforms import imagenet_transforms

    tf, img = imagenet_transforms(False, 224), pattern_image()
    assert [type(t).__name__ for t in tf.transforms] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    outs = []
    for seed in range(3):
        torch.manual_seed(seed)
        outs.append(tf(img))
    assert all(torch.equal(outs[0], o) for o in outs[1:])  # no randomness
    crop = describe_crop(outs[0])
    assert outs[0].shape == (3, 224, 224)
    assert abs(crop["center"][0] - (IMG_W - 1) / 2) <= 1 and abs(crop["center"][1] - (IMG_H - 1) / 2) <= 1
    assert not crop["flipped"]
    assert np.all(np.abs(crop["square_x"] - SQUARE * 256 / IMG_H) <= 1)
    assert np.all(np.abs(crop["square_y"] - SQUARE * 256 / IMG_H) <= 1)


def test_imagefolder_missing_split_is_a_clear_error(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(SdasError, match=r"ImageNet folder .*val' is missing. Expected layout: .*/train/<class>/<image>"):
        load_imagenet_data(tmp_path)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(SdasError, match="choose one of: 'digits', 'cifar10', 'imagenet'"):
        load_image_data("mnist")


def test_cutout_batch_matches_cutout():
    x = torch.ones(64, 3, 16, 16)
    out = cutout_batch(x, 4, generator=torch.Generator().manual_seed(0))
    zeros = (out[:, 0] == 0).flatten(1).sum(1)
    assert (zeros <= 16).all() and (zeros >= 4).all()  # a 4×4 square, clipped at the border
    assert (out[:, 0] == out[:, 1]).all() and (out[:, 0] == out[:, 2]).all()  # same square in every channel
    assert torch.equal(cutout_batch(x, 0), x)
    # A square fully inside the image has exactly size² zeros, like Cutout.
    assert (zeros == 16).sum() > 20
    single = Cutout(4)(torch.ones(3, 16, 16))
    assert 4 <= int((single[0] == 0).sum()) <= 16


def test_trainer_runs_on_file_backed_cifar10(tiny_cifar10):
    """The retraining loop reads torchvision's CIFAR10 through a DataLoader (cutout in the transform)."""
    import dataclasses

    from sdas_lib.run.presets import TRAIN_TINY
    from sdas_lib.run.train import Trainer

    before = torch.get_num_threads()
    preset = dataclasses.replace(
        TRAIN_TINY, dataset="cifar10", data_root=str(tiny_cifar10), resolution=32, K=1, C1=8, C2=16,
        epochs=1, batch_size=5, cutout=16, num_workers=0,
    )
    try:
        lines = []
        trainer = Trainer(preset, "darts_v2", progress=False, log=lines.append)
        result = trainer.run()
        again = trainer.evaluate()[1]  # the final network, measured once more
    finally:
        torch.set_num_threads(before)
    assert not trainer.data.in_memory
    assert trainer.data.train.transform.transforms[-1].size == 16
    assert result.metrics[0]["iteration"] == 4
    n_test = len(trainer.data.test)  # 6 images: the accuracy is a count over all of them
    assert n_test == 6 and result.test_acc * n_test == pytest.approx(round(result.test_acc * n_test))
    assert again == result.test_acc  # the reported accuracy is the final network's
    assert any("cifar10 (torchvision" in line for line in lines)  # the log names the data set


# -- cifar10_tiny: a class-balanced subset of CIFAR10 at 16×16, in memory ----------------------------


@pytest.fixture
def tiny_cifar10_more(tmp_path, monkeypatch):
    """The tiny CIFAR10 of ``tiny_cifar10`` with enough images for a balanced subset:
    100 train (at least 6 of each class) and 60 test (at least 2 of each)."""
    folder = write_tiny_cifar10(tmp_path, per_batch=20, n_test=60)
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[f"data_batch_{i}", _md5(folder / f"data_batch_{i}")] for i in range(1, 6)])
    monkeypatch.setattr(cls, "test_list", [["test_batch", _md5(folder / "test_batch")]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": _md5(folder / "batches.meta")})
    return tmp_path


def _raw_cifar(folder: Path, names) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, 32, 32) in [0, 1] and labels of pickled batches, straight from the files."""
    rows, labels = [], []
    for name in names:
        with open(folder / name, "rb") as f:
            entry = pickle.load(f)
        rows.append(entry["data"])
        labels += entry["labels"]
    return torch.tensor(np.concatenate(rows)).view(-1, 3, 32, 32).float() / 255, torch.tensor(labels)


def test_cifar10_tiny_is_a_balanced_downsampled_subset_of_the_files(tiny_cifar10_more):
    from sdas_lib.data import load_cifar10_tiny_data

    d = load_cifar10_tiny_data(tiny_cifar10_more, resolution=16, per_class_train=5, per_class_test=2, download=False)
    assert d.name == "cifar10_tiny" and d.in_memory
    assert (d.num_classes, d.in_channels, d.resolution) == (10, 3, 16)
    (xtr, ytr), (xte, yte) = d.train.tensors, d.test.tensors
    assert xtr.shape == (50, 3, 16, 16) and xte.shape == (20, 3, 16, 16) and xtr.dtype == torch.float32
    assert torch.bincount(ytr, minlength=10).tolist() == [5] * 10  # class-balanced
    assert torch.bincount(yte, minlength=10).tolist() == [2] * 10
    assert d.description.startswith("cifar10_tiny (class-balanced subset of CIFAR10, 50 train / 20 test, downsampled to 16x16")
    # Every image is a distinct image of the files, with its own label, downsampled (antialiased
    # bilinear) and normalized with CIFAR10's mean and std.
    folder = tiny_cifar10_more / "cifar-10-batches-py"
    mean, std = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    for names, x, y in (([f"data_batch_{i}" for i in range(1, 6)], xtr, ytr), (["test_batch"], xte, yte)):
        raw, labels = _raw_cifar(folder, names)
        small = (torch.nn.functional.interpolate(raw, size=(16, 16), mode="bilinear", antialias=True) - mean) / std
        dist = (x.flatten(1)[:, None] - small.flatten(1)[None]).abs().amax(-1)  # (subset, file)
        match = dist.argmin(1)
        assert (dist.min(1).values < 1e-5).all()
        assert len(set(match.tolist())) == len(x)  # no image twice
        assert torch.equal(labels[match], y)
        assert match.tolist() == sorted(match.tolist())  # kept in file order


def test_cifar10_tiny_is_deterministic_and_seeded(tiny_cifar10_more):
    from sdas_lib.data import load_cifar10_tiny_data

    kw = dict(per_class_train=5, per_class_test=2, download=False)
    a, b = load_cifar10_tiny_data(tiny_cifar10_more, **kw), load_cifar10_tiny_data(tiny_cifar10_more, **kw)
    for sa, sb in ((a.train, b.train), (a.test, b.test)):
        assert all(torch.equal(ta, tb) for ta, tb in zip(sa.tensors, sb.tensors))
    c = load_cifar10_tiny_data(tiny_cifar10_more, seed=1, **kw)
    assert not torch.equal(c.train.tensors[0], a.train.tensors[0])  # another seed, another subset
    assert a.description == b.description and "seed 0" in a.description and "seed 1" in c.description
    big = load_cifar10_tiny_data(tiny_cifar10_more, resolution=32, **kw)  # no resize at 32: the file's pixels
    assert big.train.tensors[0].shape == (50, 3, 32, 32) and "downsampled to 32x32" in big.description


def test_cifar10_tiny_too_few_images_of_a_class_is_a_clear_error(tiny_cifar10_more, monkeypatch):
    def no_network(url, timeout=3.0):
        raise AssertionError("must not touch the network when the files are there")

    monkeypatch.setattr(data_mod, "_reachable", no_network)
    # Through the registry with the default 144 / 200 per class: the folder is there, so no
    # download is attempted, and the shortfall is named.
    with pytest.raises(SdasError, match=r"has only \d+ train images of class \d; lower per_class_train to at most \d+"):
        load_image_data("cifar10_tiny", tiny_cifar10_more)


def test_cifar10_tiny_offline_without_files_fails_at_once(tmp_path, monkeypatch):
    probed = []
    monkeypatch.setattr(data_mod, "_reachable", lambda url, timeout=3.0: probed.append(url) or False)
    with pytest.raises(SdasError) as err:
        load_image_data("cifar10_tiny", tmp_path / "data")
    assert probed == [CIFAR10_URL]
    msg = str(err.value)
    assert f"CIFAR10 not found in {str(tmp_path / 'data' / 'cifar-10-batches-py')!r}" in msg and "offline" in msg
    assert "data_batch_1..5, test_batch, batches.meta" in msg and CIFAR10_URL in msg
    assert not (tmp_path / "data").exists()
