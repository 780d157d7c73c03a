"""Moving digits: deterministic, train and test from disjoint scans, the labels are the motions,
a clip played backwards is a clip of its partner class, no single frame tells the class while
the clips are learnable, and the cache is written, read and repaired."""

import dataclasses
import time
import warnings

import numpy as np
import pytest
import torch

from sdas_lib.data import moving_digits as md
from sdas_lib.data.moving_digits import (
    COARSE_MOTIONS, MovingDigitsConfig, class_mapping, load_moving_digits_data, make_moving_digits, partner_coarse,
    partner_fine, render_clips,
)
from sdas_lib.errors import SdasError

torch.set_num_threads(1)
CFG = MovingDigitsConfig()
SMALL = dataclasses.replace(CFG, n_train=40, n_test=40)  # for the cache and shape tests: milliseconds


@pytest.fixture(scope="module")
def gen():
    return make_moving_digits(CFG)


def motion_class(split, config):
    """The fine label that the motion parameters of each clip imply, or -1 where they fit no class."""
    T = config.clip_len
    travel = np.linalg.norm(split.velocity_xy, axis=1) * (T - 1)
    turn = np.abs(split.spin) * (T - 1)
    out = np.full(len(split.fine), -1)
    for c, (direction, sign) in enumerate(COARSE_MOTIONS.values()):
        if direction is not None:  # moves along `direction`, does not turn
            unit = split.velocity_xy / np.maximum(travel / (T - 1), 1e-12)[:, None]
            fits = np.all(np.abs(unit - direction) < 1e-9, axis=1) & (split.spin == 0)
            amount, slow, fast = travel, config.travel_slow, config.travel_fast
        else:  # turns by `sign`, stays in place
            fits = (np.sign(split.spin) == sign) & np.all(split.velocity_xy == 0, axis=1)
            amount, slow, fast = turn, config.turn_slow, config.turn_fast
        eps = 1e-9
        out[fits & (slow[0] - eps <= amount) & (amount <= slow[1] + eps)] = 2 * c
        out[fits & (fast[0] - eps <= amount) & (amount <= fast[1] + eps)] = 2 * c + 1
    return out


def test_two_generations_are_identical_and_the_seed_matters(gen):
    again = make_moving_digits(CFG)
    for a, b in ((gen.train, again.train), (gen.test, again.test)):
        assert a.clips.tobytes() == b.clips.tobytes()
        for field in ("fine", "digit_scan", "digit_size", "start_xy", "velocity_xy", "start_angle", "spin"):
            assert np.array_equal(getattr(a, field), getattr(b, field))
    other = make_moving_digits(dataclasses.replace(SMALL, seed=1))
    assert not np.array_equal(other.test.clips, make_moving_digits(SMALL).test.clips)
    assert np.array_equal(other.test.scans, gen.test.scans)  # the seed moves the clips, not the split


def test_train_and_test_come_from_disjoint_scans(gen):
    train, test = gen.train, gen.test
    assert len(np.intersect1d(train.scans, test.scans)) == 0
    assert len(np.union1d(train.scans, test.scans)) == 1797
    assert (len(train.scans), len(test.scans)) == (1437, 360)  # plain digits' stratified 80/20 split
    assert set(train.digit_scan) == set(train.scans) and set(test.digit_scan) == set(test.scans)  # every scan shown
    counts = np.unique(test.digit_scan, return_counts=True)[1]
    assert counts.min() >= 5 and counts.max() <= 6  # 2,000 clips over 360 scans, as evenly as possible


def test_the_class_table_merges_20_motions_into_10_time_reverse_pairs():
    m = class_mapping()
    assert len(m.coarse) == 10 and len(m.fine) == 20 and m.group_sizes == (2,) * 10
    assert m.coarse == tuple(COARSE_MOTIONS)
    for f, name in enumerate(m.fine):  # every fine class in exactly one group: its motion plus a speed
        coarse = m.coarse_label(f)
        assert name.startswith(m.coarse[coarse] + " ") and sum(name in fines for _, fines in m.groups) == 1
        assert m.fine_to_coarse()[partner_fine(f)] == partner_coarse(coarse)
    for c, (direction, sign) in enumerate(COARSE_MOTIONS.values()):  # a partner is the reversed motion
        p_direction, p_sign = COARSE_MOTIONS[m.coarse[partner_coarse(c)]]
        assert partner_coarse(partner_coarse(c)) == c and p_sign == -sign
        assert (direction is None and p_direction is None) or np.allclose(p_direction, -np.asarray(direction))
    assert len({d for d, _ in COARSE_MOTIONS.values() if d}) == 8  # eight directions and two turns


def test_shapes_labels_and_class_balance(tmp_path):
    coarse = load_moving_digits_data(cache_dir=tmp_path)
    assert coarse.name == "moving_digits" and coarse.in_memory and coarse.labels == "coarse"
    assert (coarse.num_classes, coarse.in_channels, coarse.clip_len, coarse.resolution) == (10, 3, 8, 16)
    assert coarse.input_shape == (3, 8, 16, 16)
    (xtr, ytr), (xte, yte) = coarse.train.tensors, coarse.test.tensors
    assert xtr.shape == (1500, 3, 8, 16, 16) and xte.shape == (2000, 3, 8, 16, 16)  # (N, C, T, H, W)
    assert xtr.dtype == torch.float32 and ytr.dtype == torch.long
    assert torch.equal(xtr[:, 0], xtr[:, 2])  # gray, repeated to 3 channels like digits
    assert abs(xtr.mean().item()) < 1e-3 and abs(xtr.std().item() - 1) < 1e-3  # normalized by train statistics
    assert torch.bincount(ytr).tolist() == [150] * 10 and torch.bincount(yte).tolist() == [200] * 10
    assert "coarse labels, 10 motion classes" in coarse.description and "disjoint scans" in coarse.description
    assert coarse.class_names == coarse.classes.coarse

    fine = load_moving_digits_data(labels="fine", cache_dir=tmp_path)
    assert fine.name == "moving_digits_fine" and fine.num_classes == 20 and fine.class_names == fine.classes.fine
    assert torch.bincount(fine.train.tensors[1]).tolist() == [75] * 20
    assert torch.equal(fine.train.tensors[0], xtr)  # the same clips, finer labels
    to_coarse = torch.tensor(fine.classes.fine_to_coarse())
    assert torch.equal(to_coarse[fine.test.tensors[1]], yte)

    other = load_moving_digits_data(resolution=24, clip_len=12, config=SMALL, cache_dir=tmp_path)
    assert other.train.tensors[0].shape == (40, 3, 12, 24, 24) and other.input_shape == (3, 12, 24, 24)
    assert SMALL.at(32).digit_size == (16.0, 20.0) and SMALL.at(32).turn_fast == SMALL.turn_fast  # pixels scale, angles not


def test_every_clip_moves_as_its_label_says(gen):
    for split in (gen.train, gen.test):
        assert np.array_equal(motion_class(split, CFG), split.fine)
        assert np.all((0 <= split.start_xy) & (split.start_xy < CFG.resolution))
        assert np.all((0 <= split.start_angle) & (split.start_angle < 360))


def test_a_clip_played_backwards_is_a_clip_of_its_partner_class(gen):
    split = gen.train
    back = split.time_reversed()
    # Its parameters are valid parameters of the partner class (start on the canvas, speed in range) ...
    assert np.array_equal(motion_class(back, CFG), partner_fine(split.fine))
    assert np.array_equal(gen.coarse(back), partner_coarse(gen.coarse(split)))
    assert np.all((0 <= back.start_xy) & (back.start_xy < CFG.resolution))
    assert np.all((0 <= back.start_angle) & (back.start_angle < 360))
    # ... and rendering the partner's parameters draws the reversed clip.
    n = 300
    pixels = md.scan_pixels(CFG.digit_size[1])[torch.from_numpy(split.digit_scan[:n])]
    shape = dict(clip_len=CFG.clip_len, resolution=CFG.resolution)
    forward = render_clips(pixels, split.digit_size[:n], split.start_xy[:n], split.velocity_xy[:n], split.start_angle[:n], split.spin[:n], **shape)
    backward = render_clips(pixels, back.digit_size[:n], back.start_xy[:n], back.velocity_xy[:n], back.start_angle[:n], back.spin[:n], **shape)
    assert (backward - forward.flip(1)).abs().max() < 1e-4
    assert np.array_equal(back.clips, split.clips[:, ::-1])  # the noise is per frame, so it reverses too


def test_right_is_plus_x_up_is_minus_y_and_clockwise_is_clockwise():
    scan = md.scan_pixels(8)[2:3]  # a "2": no symmetry
    R, centre = 16, [[8.0, 8.0]]

    def draw(velocity=(0.0, 0.0), angle=0.0, spin=0.0):
        return render_clips(scan, [9.0], centre, [velocity], [angle], [spin], clip_len=3, resolution=R)[0].numpy()

    still = draw()[0]
    assert np.allclose(draw(velocity=(1.0, 0.0))[2], np.roll(still, 2, axis=1), atol=1e-6)  # right: columns grow
    assert np.allclose(draw(velocity=(0.0, -1.0))[1], np.roll(still, -1, axis=0), atol=1e-6)  # up: rows shrink
    assert np.allclose(draw(velocity=(5.0, 0.0))[2], np.roll(still, 10, axis=1), atol=1e-6)  # the canvas wraps
    assert np.allclose(draw(spin=90.0)[1], np.rot90(still, k=-1), atol=1e-6)  # k=-1: clockwise as displayed


def test_single_frames_and_mean_frames_stay_near_chance_while_clips_are_learnable(gen):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    xtr, xte = gen.train.clips.astype(np.float32) / 255, gen.test.clips.astype(np.float32) / 255  # (N, T, H, W)
    ytr, yte = gen.coarse(gen.train), gen.coarse(gen.test)

    def accuracy(ftr, fte, C=0.01):
        ftr, fte = ftr.reshape(len(ftr), -1), fte.reshape(len(fte), -1)
        scale = StandardScaler().fit(ftr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence: 100 iterations are plenty at this regularization
            model = LogisticRegression(C=C, max_iter=100).fit(scale.transform(ftr), ytr)
        return model.score(scale.transform(fte), yte)

    rng = np.random.default_rng(0)
    pick = lambda x: x[np.arange(len(x)), rng.integers(0, x.shape[1], len(x))]  # one random frame per clip
    single, first, mean = accuracy(pick(xtr), pick(xte)), accuracy(xtr[:, 0], xte[:, 0]), accuracy(xtr.mean(1), xte.mean(1))
    energy = accuracy(motion_energy(xtr), motion_energy(xte))
    print(f"coarse accuracy: random frame {single:.3f}, frame 0 {first:.3f}, mean frame {mean:.3f}, motion energy {energy:.3f}")
    assert single < 0.2 and first < 0.2 and mean < 0.2  # chance is 0.1
    assert energy > 0.6  # measured 0.89: all 8 directions, but cw vs ccw is beyond a translation feature


def motion_energy(x, lags=(1, 2, 3), radius=3):
    """(N, 147) how well each frame matches a later one shifted by (dy, dx), |d| <= 3: a motion detector.

    The circular cross-correlation of frames t and t+lag, averaged over t, from a 2D FFT (the canvas wraps).
    """
    centred = x - x.mean(axis=(2, 3), keepdims=True)
    spectrum = np.fft.rfft2(centred)  # (N, T, H, W//2+1)
    out = []
    for k in lags:
        corr = np.fft.irfft2(np.conj(spectrum[:, :-k]) * spectrum[:, k:], s=x.shape[-2:]).mean(1)  # (N, H, W)
        corr = np.roll(corr, (radius, radius), axis=(1, 2))[:, : 2 * radius + 1, : 2 * radius + 1]
        out.append((corr / (np.abs(corr).sum(axis=(1, 2), keepdims=True) + 1e-6)).reshape(len(x), -1))
    return np.concatenate(out, axis=1)


@pytest.mark.slow
def test_a_tiny_3d_net_learns_the_clips_and_the_same_net_in_2d_does_not(tmp_path):
    """Two epochs each (about 30 s on one core): 3×3×3 kernels vs 1×3×3 kernels, then a global average."""
    from torch import nn

    data = load_moving_digits_data(cache_dir=tmp_path)
    (xtr, ytr), (xte, yte) = data.train.tensors, data.test.tensors
    xtr, xte = xtr[:, :1].contiguous(), xte[:, :1].contiguous()  # one of the 3 equal channels

    def net(kt):
        pad = dict(padding=(0, 1, 1), padding_mode="circular")  # the canvas wraps; no temporal padding
        return nn.Sequential(
            nn.Conv3d(1, 16, (kt, 3, 3), **pad), nn.BatchNorm3d(16), nn.ReLU(),
            nn.Conv3d(16, 32, (kt, 3, 3), stride=(1, 2, 2), **pad), nn.BatchNorm3d(32), nn.ReLU(),
            nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(32, 10),
        )

    def accuracy_after_training(model, epochs=2):
        torch.manual_seed(0)
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        for _ in range(epochs):
            model.train()
            for idx in torch.randperm(len(xtr)).split(50):
                loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            return (model(xte).argmax(1) == yte).float().mean().item()

    start = time.time()
    torch.manual_seed(0)
    acc_3d = accuracy_after_training(net(3))
    torch.manual_seed(0)
    acc_2d = accuracy_after_training(net(1))
    print(f"2 epochs: 3x3x3 net {acc_3d:.3f}, 1x3x3 net {acc_2d:.3f} ({time.time() - start:.0f} s)")
    assert acc_3d > 0.5 and acc_2d < 0.2


def test_the_cache_is_written_then_read_and_a_corrupt_file_is_regenerated(tmp_path, monkeypatch):
    path = md.cache_path(SMALL, tmp_path)
    assert path.parent == tmp_path and path.name.startswith("moving_digits-") and path.suffix == ".npz"
    assert md.cache_path(dataclasses.replace(SMALL, noise=0.3), tmp_path) != path  # another config, another file
    first = load_moving_digits_data(config=SMALL, cache_dir=tmp_path)
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left

    def no_generation(config):
        raise AssertionError("generated although the cache holds the clips")

    with monkeypatch.context() as m:
        m.setattr(md, "make_moving_digits", no_generation)
        second = load_moving_digits_data(config=SMALL, cache_dir=tmp_path)
    for a, b in ((first.train, second.train), (first.test, second.test)):
        assert all(torch.equal(t1, t2) for t1, t2 in zip(a.tensors, b.tensors))

    for damage in (path.read_bytes()[:1000], b"not a zip file"):  # torn, then foreign
        path.write_bytes(damage)
        with pytest.warns(UserWarning, match="unreadable.*generating it again"):
            again = load_moving_digits_data(config=SMALL, cache_dir=tmp_path)
        assert torch.equal(again.train.tensors[0], first.train.tensors[0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # repaired: read back without a warning
            load_moving_digits_data(config=SMALL, cache_dir=tmp_path)

    monkeypatch.setenv("SDAS_CACHE", str(tmp_path / "env"))
    assert md.cache_path(SMALL) == tmp_path / "env" / path.name
    assert md.default_cache_dir() == tmp_path / "env"


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(clip_len=1), "clip_len must be an integer >= 2"),
        (dict(resolution=2), "resolution must be an integer >= 4"),
        (dict(digit_size=(8.0, 12.0)), r"digit_size \(8.0, 12.0\) must satisfy .* <= 11.31"),
        (dict(travel_slow=(3.0, 7.0)), "slow ranges must end below the fast ones"),
        (dict(turn_fast=(90.0, 700.0)), "keep it below 90"),
        (dict(travel_fast=(6.5, 60.0)), "at least half the 16-pixel canvas"),
        (dict(turn_slow=(-5.0, 10.0)), r"turn_slow \(-5.0, 10.0\) must satisfy 0 < low <= high"),
        (dict(noise=-0.1), "noise must be >= 0"),
        (dict(n_test=10), "n_train and n_test must be >= 20"),
        (dict(test_fraction=1.0), r"test_fraction must lie in \(0, 1\)"),
    ],
)
def test_a_bad_config_is_refused_with_one_clear_line(change, message, tmp_path):
    bad = dataclasses.replace(CFG, **change)
    with pytest.raises(SdasError, match=message) as info:
        load_moving_digits_data(config=bad, cache_dir=tmp_path)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing cached


def test_unknown_labels_are_refused():
    with pytest.raises(SdasError, match="unknown labels 'medium'; choose one of: 'coarse', 'fine'"):
        load_moving_digits_data(labels="medium")
