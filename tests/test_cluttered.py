"""Cluttered digits: deterministic, train and test from disjoint scans, the labelled digit really
pasted, clutter and noise really there, and a description that says what the set is."""

import dataclasses

import numpy as np
import pytest
import torch

from sdas_lib.data import DATASETS, load_image_data
from sdas_lib.data.cluttered import ClutteredDigitsConfig, load_cluttered_digits_data, make_cluttered_digits
from sdas_lib.errors import SdasError

CFG = ClutteredDigitsConfig()


@pytest.fixture(scope="module")
def gen():
    return make_cluttered_digits(CFG)


@pytest.fixture(scope="module")
def target():
    from sklearn.datasets import load_digits

    return load_digits().target


def fragment_patch(gen, split, i, j):
    """Fragment j of image i as pasted (f×f, after its strength), from the record."""
    f = gen.config.fragment_size
    src = gen.resized[int(split.fragment_source_size[i, j])][split.fragment_scan[i, j]]
    cy, cx = int(split.fragment_crop_y[i, j]), int(split.fragment_crop_x[i, j])
    return src[cy : cy + f, cx : cx + f] * gen.config.fragment_strength


def test_two_generations_are_identical_and_the_seed_matters(gen):
    again = make_cluttered_digits(CFG)
    for a, b in ((gen.train, again.train), (gen.test, again.test)):
        assert a.images.numpy().tobytes() == b.images.numpy().tobytes()  # the same bytes
        assert torch.equal(a.labels, b.labels)
        for field in ("digit_scan", "digit_size", "digit_y", "digit_x", "fragment_scan", "fragment_y", "fragment_x"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
    d1, d2 = load_cluttered_digits_data(16), load_cluttered_digits_data(16)
    for s1, s2 in ((d1.train, d2.train), (d1.test, d2.test)):
        assert all(torch.equal(t1, t2) for t1, t2 in zip(s1.tensors, s2.tensors))
    other = make_cluttered_digits(dataclasses.replace(CFG, seed=1))
    assert not torch.equal(other.test.images, gen.test.images)
    assert np.array_equal(other.test.scans, gen.test.scans)  # the seed moves the rendering, not the split


def test_train_and_test_come_from_disjoint_scans(gen, target):
    train, test = gen.train, gen.test
    assert len(np.intersect1d(train.scans, test.scans)) == 0
    assert len(np.union1d(train.scans, test.scans)) == 1797  # every scan is in exactly one split
    # Digits and clutter sources of each split come only from its own scans ...
    assert set(train.used_scans) <= set(train.scans) and set(test.used_scans) <= set(test.scans)
    assert len(np.intersect1d(train.used_scans, test.used_scans)) == 0
    assert set(np.unique(test.fragment_scan)) & set(train.scans) == set()  # ... clutter included
    # ... and a fragment is never cut from the image's own digit scan.
    for split in (train, test):
        assert not (split.fragment_scan == split.digit_scan[:, None]).any()
    # The split is plain digits' stratified 80/20: 1,437 / 360 scans, 34-37 test scans per class.
    assert (len(train.scans), len(test.scans)) == (1437, 360)
    assert set(np.bincount(target[test.scans])) <= {34, 35, 36, 37}
    # One training image per training scan; each test scan rendered 5 times (1,800 / 360).
    assert sorted(train.digit_scan) == sorted(train.scans)
    assert set(np.unique(test.digit_scan, return_counts=True)[1]) == {5}


def test_shapes_labels_and_counts_as_documented():
    d = load_image_data("cluttered_digits")
    assert d.name == "cluttered_digits" and d.in_memory
    assert (d.num_classes, d.in_channels, d.resolution, d.input_shape) == (10, 3, 16, (3, 16, 16))
    (xtr, ytr), (xte, yte) = d.train.tensors, d.test.tensors
    assert xtr.shape == (1437, 3, 16, 16) and xte.shape == (1800, 3, 16, 16)
    assert xtr.dtype == torch.float32 and ytr.dtype == torch.long
    assert torch.equal(xtr[:, 0], xtr[:, 1]) and torch.equal(xtr[:, 0], xtr[:, 2])  # gray, 3 channels like digits
    assert set(ytr.tolist()) == set(yte.tolist()) == set(range(10))
    assert all(170 <= n <= 185 for n in torch.bincount(yte).tolist())  # about 180 test images per class
    # Normalized with the training images' statistics.
    assert abs(float(xtr.mean())) < 1e-4 and abs(float(xtr.std()) - 1) < 1e-3
    assert abs(float(xte.mean())) < 0.2


def test_the_label_is_the_pasted_digit(gen, target):
    for split in (gen.train, gen.test):
        assert torch.equal(split.labels, torch.as_tensor(target[split.digit_scan]))
        assert ((split.digit_size >= 7) & (split.digit_size <= 11)).all()
        assert ((split.digit_y + split.digit_size <= 16) & (split.digit_x + split.digit_size <= 16)).all()  # fully inside
    # The digit really is in the image: in its box, the image correlates with the clean digit
    # rendered from the record far better than with the clean digit of another image.
    test = gen.test
    n = len(test.labels)
    own, other = [], []
    for i in range(0, n, 9):
        img = test.images[i].numpy()
        clean, foreign = gen.clean_digit(test, i), gen.clean_digit(test, (i + 1) % n)
        own.append(np.corrcoef(img.ravel(), clean.ravel())[0, 1])
        other.append(np.corrcoef(img.ravel(), foreign.ravel())[0, 1])
    assert np.mean(own) > 0.75 and np.mean(other) < 0.3


def test_noise_and_clutter_are_there(gen):
    test, sigma = gen.test, gen.config.noise
    clean = np.stack([gen.clean_digit(test, i) for i in range(len(test.labels))])  # (N, 16, 16)
    images = test.images.numpy()
    assert (np.abs(images - clean).reshape(len(images), -1).max(1) > 0.2).all()  # no image is clean
    # Noise: on pixels that are empty in the clean digit and far from any fragment it is clipped
    # N(0, sigma²): about half the pixels are 0 and the rest have a mean of sigma·sqrt(2/pi).
    empty = clean == 0
    for i in range(len(images)):
        for j in range(gen.config.n_fragments):
            y, x, f = test.fragment_y[i, j], test.fragment_x[i, j], gen.config.fragment_size
            empty[i, y : y + f, x : x + f] = False
    background = images[empty]
    assert 0.45 < (background == 0).mean() < 0.55
    assert abs(background[background > 0].mean() - sigma * np.sqrt(2 / np.pi)) < 0.02
    # Clutter: the recorded fragment is in the image wherever it is brighter than the digit.
    bright = 0
    for i in range(0, len(images), 7):
        for j in range(gen.config.n_fragments):
            y, x, f = test.fragment_y[i, j], test.fragment_x[i, j], gen.config.fragment_size
            patch = fragment_patch(gen, test, i, j)
            shown = np.maximum(patch, clean[i, y : y + f, x : x + f])
            assert (images[i, y : y + f, x : x + f] >= np.minimum(shown - 5 * sigma, 1 - 5 * sigma)).all()
            bright += int((patch > 0.3).any())
    assert bright > 0.5 * len(range(0, len(images), 7))  # most fragments carry strokes, not blank paper


def test_description_names_the_set_and_its_parameters():
    d = load_image_data("cluttered_digits")
    text = d.description
    assert text.startswith("cluttered_digits (scikit-learn's 8x8 handwritten digit scans")
    for part in ("7-11 px", "16x16 canvas", "1 clutter fragment(s) of 4x4 px", f"strength {CFG.fragment_strength}",
                 f"noise std {CFG.noise}", "1437 train from 1437 scans / 1800 test from 360 disjoint scans", "seed 0"):
        assert part in text, part
    assert "cluttered_digits" in DATASETS and "digits" in DATASETS
    assert load_image_data("digits").description.startswith("digits (scikit-learn handwritten digits")  # still there


def test_other_resolutions_scale_the_pixel_sizes():
    cfg = CFG.at_resolution(32)
    assert (cfg.resolution, cfg.digit_scale, cfg.fragment_size) == (32, (14, 22), 8)
    d = load_image_data("cluttered_digits", resolution=32)
    assert d.train.tensors[0].shape == (1437, 3, 32, 32) and d.resolution == 32 and "14-22 px" in d.description


def test_impossible_settings_are_refused():
    with pytest.raises(SdasError, match="fragment_size 8 must lie in 1..7"):
        make_cluttered_digits(dataclasses.replace(CFG, fragment_size=8))
    with pytest.raises(SdasError, match="digit_scale"):
        make_cluttered_digits(dataclasses.replace(CFG, digit_scale=(7, 17)))
