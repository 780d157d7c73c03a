"""Fashion-MNIST: the loader, the checked atomic decompression, the clear error offline, a micro search.

Every file here is a tiny IDX file in the real format (big-endian header, uint8 pixels), written by
the tests gzipped as the Debian package ships it or plain as torchvision reads it. torchvision's
checksums are of the real files, so the tests pass the loader their own checksum table.
"""

import dataclasses
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from sdas_lib.data import DATASETS, fashion, load_image_data
from sdas_lib.data.fashion import FILES, install_raw_file, load_fashion_mnist_data, prepare_raw_files, raw_folder
from sdas_lib.data.subsets import balanced_indices
from sdas_lib.errors import SdasError


def idx_images(images: np.ndarray) -> bytes:
    """IDX3: magic 0x00000803, count, rows, cols (big-endian int32), then the uint8 pixels."""
    n, h, w = images.shape
    return struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    """IDX1: magic 0x00000801, count, then one uint8 label each."""
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


def tiny_files(n_train_per_class: int = 4, n_test_per_class: int = 3, seed: int = 0) -> dict[str, bytes]:
    """The four files' uncompressed bytes: random 28×28 images, labels in a shuffled class-balanced order."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, per_class in (("train", n_train_per_class), ("t10k", n_test_per_class)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        out[f"{split}-images-idx3-ubyte"] = idx_images(rng.integers(0, 256, (len(labels), 28, 28)))
        out[f"{split}-labels-idx1-ubyte"] = idx_labels(labels)
    return out


def write_package(folder: Path, files: dict[str, bytes], gzipped: bool = True) -> dict[str, str]:
    """Write ``files`` as a package folder would hold them; return their md5 table (of the content)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if gzipped:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(data)
        else:
            (folder / name).write_bytes(data)
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything probes the network or asks torchvision to download."""
    def probe(url, timeout=3.0):
        raise AssertionError(f"must not probe the network ({url})")

    monkeypatch.setattr(fashion, "_reachable", probe)
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", lambda self: probe("download"))


def test_fashion_mnist_is_registered():
    assert "fashion_mnist" in DATASETS


@pytest.mark.parametrize("gzipped", [True, False])
def test_package_files_are_decompressed_once_and_read_by_torchvision(tmp_path, no_network, gzipped):
    files = tiny_files()
    md5 = write_package(tmp_path / "pkg", files, gzipped)
    root = tmp_path / "data"
    d = load_fashion_mnist_data(root, resolution=28, per_class_train=3, per_class_test=2, package_dir=tmp_path / "pkg", checksums=md5)
    raw = raw_folder(root)
    assert sorted(p.name for p in raw.iterdir()) == sorted(FILES)  # no temporary file left behind
    for name, data in files.items():
        assert (raw / name).read_bytes() == data
    # The subset: class-balanced, images are the files' pixels (no resize at 28), normalized, 3 equal channels.
    x, y = d.train.tensors
    assert x.shape == (30, 3, 28, 28) and torch.equal(torch.bincount(y), torch.full((10,), 3))
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-3  # training-subset statistics
    # They are the images torchvision reads, at the seeded balanced indices, normalized by their own statistics.
    ref = torchvision.datasets.FashionMNIST(str(root), train=True)
    idx = balanced_indices(ref.targets, 3, 10, 0, "train", dataset="Fashion-MNIST", where=raw, full="-")
    pixels = ref.data[idx].float() / 255  # (30, 28, 28)
    assert torch.equal(y, ref.targets[idx])
    assert torch.allclose(x[:, 0], (pixels - pixels.mean()) / pixels.std(), atol=1e-5)
    assert d.test.tensors[0].shape == (20, 3, 28, 28)
    assert d.name == "fashion_mnist" and d.in_channels == 3 and d.resolution == 28 and d.num_classes == 10
    assert "30 train / 20 test" in d.description and "repeated to 3 channels" in d.description
    # Once decompressed, the package is not needed any more.
    for p in (tmp_path / "pkg").iterdir():
        p.unlink()
    again = load_fashion_mnist_data(root, resolution=28, per_class_train=3, per_class_test=2, package_dir=tmp_path / "pkg", checksums=md5)
    assert torch.equal(again.train.tensors[0], x)


def test_resized_subset_is_seeded_and_the_test_subset_depends_on_the_purpose(tmp_path, no_network):
    md5 = write_package(tmp_path / "pkg", tiny_files(n_test_per_class=5))
    kw = dict(package_dir=tmp_path / "pkg", checksums=md5, per_class_train=2)
    search = load_fashion_mnist_data(tmp_path / "data", resolution=16, per_class_test=3, **kw)
    assert search.train.tensors[0].shape == (20, 3, 16, 16) and search.test.tensors[0].shape == (30, 3, 16, 16)
    assert torch.equal(search.train.tensors[0], load_fashion_mnist_data(tmp_path / "data", resolution=16, per_class_test=3, **kw).train.tensors[0])
    other_seed = load_fashion_mnist_data(tmp_path / "data", resolution=16, per_class_test=3, seed=1, **kw)
    assert not torch.equal(other_seed.train.tensors[1], search.train.tensors[1]) or not torch.equal(other_seed.train.tensors[0], search.train.tensors[0])
    retrain = load_fashion_mnist_data(tmp_path / "data", resolution=16, purpose="retrain", **kw)
    assert len(retrain.test) == 50 and "all test images" in retrain.description and "for a retraining" in retrain.description
    with pytest.raises(SdasError, match="has only 5 test images of class 0; lower per_class_test to at most 5"):
        load_fashion_mnist_data(tmp_path / "data", per_class_test=6, **kw)
    with pytest.raises(SdasError, match="unknown purpose 'eval'"):
        load_fashion_mnist_data(tmp_path / "data", purpose="eval", **kw)


def test_a_file_whose_checksum_differs_is_never_put_in_place(tmp_path, no_network):
    files = tiny_files()
    md5 = write_package(tmp_path / "pkg", files)
    md5["t10k-images-idx3-ubyte"] = "0" * 32  # as if the package's file were damaged
    with pytest.raises(SdasError, match=r"t10k-images-idx3-ubyte.gz' is damaged: md5 of its content is [0-9a-f]{32}, expected 0{32}"):
        prepare_raw_files(tmp_path / "data", package_dir=tmp_path / "pkg", checksums=md5)
    raw = raw_folder(tmp_path / "data")
    assert "t10k-images-idx3-ubyte" not in {p.name for p in raw.iterdir()}
    assert not [p for p in raw.iterdir() if p.name.endswith(".part")]  # the temporary copy is removed


def test_an_interrupted_decompression_leaves_no_file_that_could_be_read(tmp_path, no_network, monkeypatch):
    files = tiny_files()
    md5 = write_package(tmp_path / "pkg", files)
    # A truncated archive stops the copy half-way, as an interruption would.
    gz = tmp_path / "pkg" / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    with pytest.raises(SdasError, match="cannot decompress Fashion-MNIST file .*train-images-idx3-ubyte.gz"):
        install_raw_file(gz, raw, md5["train-images-idx3-ubyte"])
    assert list(raw.iterdir()) == []
    # The final name appears only by one rename of a complete, checked file.
    seen = []
    real_replace = fashion.os.replace
    monkeypatch.setattr(fashion.os, "replace", lambda a, b: (seen.append((Path(a).read_bytes(), Path(b).exists())), real_replace(a, b)))
    install_raw_file(tmp_path / "pkg" / "train-labels-idx1-ubyte.gz", raw, md5["train-labels-idx1-ubyte"])
    assert seen == [(files["train-labels-idx1-ubyte"], False)]
    assert (raw / "train-labels-idx1-ubyte").read_bytes() == files["train-labels-idx1-ubyte"]


def test_absent_and_offline_is_a_clear_error_that_says_how_to_get_the_data(tmp_path, monkeypatch):
    probed = []
    monkeypatch.setattr(fashion, "_reachable", lambda url, timeout=3.0: probed.append(url) or False)
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", lambda self: pytest.fail("must not download offline"))
    monkeypatch.setattr(fashion, "DEBIAN_DIR", tmp_path / "no-package")  # not installed on this "machine"
    with pytest.raises(SdasError) as err:
        load_fashion_mnist_data(tmp_path / "data")
    msg = str(err.value)
    assert f"Fashion-MNIST not found in {str(tmp_path / 'data' / 'FashionMNIST' / 'raw')!r}" in msg
    assert "offline" in msg and "sudo apt-get install dataset-fashion-mnist" in msg and "tools/setup.sh" in msg
    assert probed == [torchvision.datasets.FashionMNIST.mirrors[0]]
    assert not (tmp_path / "data").exists()  # nothing written
    # Downloading off: the same advice, without a probe.
    with pytest.raises(SdasError, match="downloading is off.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist_data(tmp_path / "data", download=False)
    assert len(probed) == 1


def test_the_cli_stops_with_one_error_line_before_creating_the_run_folder(tmp_path, monkeypatch, capsys):
    from sdas_lib.cli import main

    monkeypatch.setattr(fashion, "_reachable", lambda url, timeout=3.0: False)
    monkeypatch.setattr(fashion, "DEBIAN_DIR", tmp_path / "no-package")
    rc = main(["search", "--preset", "micro", "--dataset", "fashion_mnist", "--data-root", str(tmp_path / "data"),
               "--out", str(tmp_path / "run"), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: Fashion-MNIST not found in ")
    assert "apt-get install dataset-fashion-mnist" in lines[0] and not (tmp_path / "run").exists()


def test_absent_and_online_downloads_through_torchvision_only_when_asked(tmp_path, monkeypatch):
    files = tiny_files()
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    calls = []

    def fake_download(self):  # what torchvision's download leaves behind: the raw files
        calls.append(self.raw_folder)
        Path(self.raw_folder).mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (Path(self.raw_folder) / name).write_bytes(data)

    monkeypatch.setattr(fashion, "_reachable", lambda url, timeout=3.0: True)
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", fake_download)
    d = load_fashion_mnist_data(tmp_path / "data", package_dir=tmp_path / "no-package", checksums=md5, per_class_train=2, per_class_test=1)
    assert calls == [str(raw_folder(tmp_path / "data"))] and len(d.train) == 20


def test_run_data_of_a_search_and_of_a_retraining(tmp_path, no_network):
    from sdas_lib.run.inputs import load_run_data
    from sdas_lib.run.presets import TINY, TRAIN_TINY

    raw = raw_folder(tmp_path)
    raw.mkdir(parents=True)
    for name, data in tiny_files(n_train_per_class=144, n_test_per_class=201).items():
        (raw / name).write_bytes(data)
    search = load_run_data(dataclasses.replace(TINY, dataset="fashion_mnist", data_root=str(tmp_path)))
    train = load_run_data(dataclasses.replace(TRAIN_TINY, dataset="fashion_mnist", data_root=str(tmp_path), resolution=28))
    assert (len(search.train), len(search.test), search.resolution) == (1440, 2000, 16)
    assert (len(train.train), len(train.test), train.resolution) == (1440, 2010, 28)


def test_micro_search_on_fashion_mnist(micro_preset, tmp_path, no_network):
    from sdas_lib.run.search import Searcher

    raw = raw_folder(tmp_path / "data")
    raw.mkdir(parents=True)
    for name, data in tiny_files(n_train_per_class=144, n_test_per_class=200).items():
        (raw / name).write_bytes(data)
    preset = dataclasses.replace(micro_preset, dataset="fashion_mnist", data_root=str(tmp_path / "data"))
    lines = []
    s = Searcher(preset, "C", seed=0, out_dir=tmp_path / "run", progress=False, log=lines.append)
    result = s.run()
    assert result.dataset.startswith("fashion_mnist (") and "1440 train / 2000 test" in result.dataset
    assert any("data: fashion_mnist (" in line and "1440 train / 2000 test" in line for line in lines)
    assert s.state.n_done == s.M and len(result.history) == s.M  # the schedule ran to a full discretization
    assert 0.0 <= result.metrics[-1]["test_acc_relaxed"] <= 1.0


def test_a_sweep_searches_and_retrains_on_fashion_mnist(tmp_path):
    from sdas_lib.run.presets import TRAIN_PRESETS
    from sdas_lib.run.sweep import sweep

    data_root = tmp_path / "data"
    raw = raw_folder(data_root)
    raw.mkdir(parents=True)
    for name, data in tiny_files(n_train_per_class=144, n_test_per_class=201).items():
        (raw / name).write_bytes(data)
    train = dataclasses.replace(TRAIN_PRESETS["micro"], dataset="fashion_mnist", data_root=str(data_root))
    runs = sweep(["C"], [0], tmp_path / "sweep", preset="micro", retrain=True, train_preset=train, jobs=1,
                 overrides={"dataset": "fashion_mnist", "data_root": str(data_root)}, progress=False, log=lambda line: None)
    assert list(runs["status"]) == ["done"] and list(runs["retrain_status"]) == ["done"]
    assert list(runs["dataset"]) == ["fashion_mnist"] and list(runs["retrain_dataset"]) == ["fashion_mnist"]
    # The search was tested on its 2,000-image subset, the retraining on every test image.
    import json
    search_cfg = json.loads((tmp_path / "sweep" / "search-C-s0" / "config.json").read_text())
    retrain_res = json.loads((tmp_path / "sweep" / "retrain-C-s0" / "result.json").read_text())
    assert "1440 train / 2000 test" in search_cfg["dataset"] and "1440 train / 2010 test" in retrain_res["dataset"]
