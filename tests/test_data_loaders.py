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
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 10
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
    monkeypatch.setattr(data_mod, "_reachable", lambda url, timeout=3.0: False)
    start = time.perf_counter()
    with pytest.raises(SdasError) as err:
        load_image_data("cifar10", tmp_path / "data")
    assert time.perf_counter() - start < 5
    msg = str(err.value)
    folder = str(tmp_path / "data" / "cifar-10-batches-py")
    assert f"CIFAR10 not found in {folder!r}" in msg
    assert "offline" in msg
    assert "data_batch_1..5, test_batch, batches.meta" in msg
    assert CIFAR10_URL in msg and "--data-root" in msg
    assert not (tmp_path / "data").exists()  # nothing created


def test_cifar10_reachability_probe_answers_quickly():
    start = time.perf_counter()
    data_mod._reachable("https://host.invalid/x.tar.gz", timeout=1.0)  # .invalid never resolves
    assert time.perf_counter() - start < 3


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
    assert names == ["RandomResizedCrop", "RandomHorizontalFlip", "ToTensor", "Normalize", "Cutout"]
    assert "Cutout" not in [type(t).__name__ for t in d.test.transform.transforms]


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
    finally:
        torch.set_num_threads(before)
    assert not trainer.data.in_memory
    assert trainer.data.train.transform.transforms[-1].size == 16
    assert result.metrics[0]["iteration"] == 4 and 0 <= result.test_acc <= 1
    assert any("cifar10 (torchvision" in line for line in lines)  # the log names the data set
