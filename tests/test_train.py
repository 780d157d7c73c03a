"""Retraining loop, presets and the train / summary commands."""

import csv
import dataclasses
import json

import pytest
import torch

from sdas_lib.run.checkpoints import safe_load
from torch.utils.data import TensorDataset

from sdas_lib.cli import main
from sdas_lib.data import load_digits_data
from sdas_lib.errors import SdasError
from sdas_lib.nets.evalnet import build_network
from sdas_lib.core.genotype import DARTS_V1, DARTS_V2, Genotype
from sdas_lib.run.presets import (
    TRAIN_IMAGENET, TRAIN_PAPER, TRAIN_PRESETS, TRAIN_TINY, check_train_preset, get_preset, override,
)
from sdas_lib.run.train import METRIC_FIELDS, Trainer


@pytest.fixture(autouse=True)
def restore_threads():
    # The tiny preset sets one torch thread; give the rest of the suite its setting back.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    return load_digits_data(16)


def mini(**changes):
    """Tiny preset shrunk further: a few seconds per run."""
    base = dict(K=1, C1=8, C2=16, epochs=2, batch_size=128, checkpoint_every=3, drop_path=0.2)
    base.update(changes)
    return dataclasses.replace(TRAIN_TINY, **base)


# -- presets ---------------------------------------------------------------------------------------


def test_paper_preset_is_section_6_1():
    p = get_preset("paper", TRAIN_PRESETS)
    assert p is TRAIN_PAPER
    assert (p.network, p.K, p.C1, p.C2, p.epochs, p.batch_size) == ("cifar", 6, 108, 144, 600, 96)
    assert (p.cutout, p.drop_path, p.auxiliary_weight) == (16, 0.2, 0.4)
    assert (p.lr, p.lr_schedule, p.weight_decay, p.grad_clip, p.momentum) == (0.025, "cosine", 3e-4, 5.0, 0.9)


def test_imagenet_preset_is_the_mobile_setting():
    p = TRAIN_IMAGENET
    assert (p.network, p.K, p.C1, p.C2, p.resolution, p.epochs, p.batch_size) == ("imagenet", 4, 24, 192, 224, 250, 128)
    assert (p.lr, p.lr_schedule, p.lr_gamma, p.weight_decay, p.label_smoothing, p.auxiliary_weight) == (
        0.1, "exponential", 0.97, 3e-5, 0.1, 0.4,
    )


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"epochs": 0}, "--epochs must be a positive integer, got 0"),
        ({"batch_size": -1}, "--batch_size must be a positive integer"),
        ({"K": 0}, "--K must be a positive integer"),
        ({"C1": 0}, "--C1 must be a positive integer"),
        ({"C2": 18}, "--C2 18 must be divisible by the number of intermediate nodes .4.; try --C2 16"),
        ({"C2": 20}, "odd per-node width 5"),
        ({"lr_schedule": "step"}, "unknown --lr_schedule 'step'; choose one of: 'cosine', 'exponential'"),
        ({"drop_path": 1.0}, r"--drop_path must lie in \[0, 1\)"),
        ({"cutout": -1}, "--cutout must not be negative"),
        ({"lr": 0}, "--lr must be positive"),
    ],
)
def test_check_train_preset_rejects_impossible_settings(changes, message):
    with pytest.raises(SdasError, match=message):
        check_train_preset(override(TRAIN_TINY, **changes))


def test_unknown_train_preset_names_the_choices():
    with pytest.raises(SdasError, match="choose one of: 'tiny', 'paper', 'imagenet'"):
        get_preset("huge", TRAIN_PRESETS)


# -- the loop ----------------------------------------------------------------------------------------


def test_run_writes_metrics_weights_result_and_genotype(tmp_path, digits):
    out = tmp_path / "run"
    lines = []
    result = Trainer(mini(), "darts_v2", seed=0, out_dir=out, progress=False, log=lines.append, data=digits).run()
    for name in ("config.json", "log.txt", "genotype.json", "metrics.csv", "checkpoint.pt", "checkpoint.prev.pt", "weights.pt", "result.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert tuple(rows[0]) == METRIC_FIELDS and len(rows) == 2
    # Drop path ramps linearly from 0: epoch e of E uses drop_path · (e-1) / E.
    assert [float(r["drop_path"]) for r in rows] == pytest.approx([0.0, 0.1])
    assert float(rows[0]["lr"]) == pytest.approx(TRAIN_TINY.lr)  # cosine: first epoch at the full rate
    doc = json.loads((out / "result.json").read_text())
    assert doc["test_acc"] == pytest.approx(result.test_acc) == pytest.approx(float(rows[-1]["test_acc"]))
    assert doc["params"] == result.params > 0 and doc["mult_adds"] == result.mult_adds > 0
    # the last epoch's train accuracy (evidence a net learns) and the classes (its chance) are recorded
    assert doc["train_acc"] == pytest.approx(float(rows[-1]["train_acc"])) and doc["num_classes"] == 10
    assert "digits" in doc["dataset"] and any("digits (scikit-learn" in line for line in lines)
    # weights.pt loads into a freshly built network of the same genotype
    net = build_network("cifar", DARTS_V2, K=1, C1=8, C2=16, num_classes=10)
    net.load_state_dict(safe_load(out / "weights.pt"))
    from sdas_lib.core.genotype import Genotype

    assert Genotype.load(out / "genotype.json") == DARTS_V2


@pytest.mark.slow
def test_exponential_schedule_and_label_smoothing(digits):
    p = mini(lr_schedule="exponential", lr=0.1, lr_gamma=0.5, label_smoothing=0.1, epochs=2)
    t = Trainer(p, DARTS_V2, progress=False, log=lambda s: None, data=digits)
    assert t.train_loss.label_smoothing == 0.1
    r = t.run()
    assert [m["lr"] for m in r.metrics] == pytest.approx([0.1, 0.05])  # ×gamma per epoch


def test_no_auxiliary_head_with_weight_zero(digits):
    t = Trainer(mini(auxiliary_weight=0.0, epochs=1), DARTS_V2, progress=False, log=lambda s: None, data=digits)
    assert t.net.auxiliary_head is None
    t.run()


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_resume_continues_with_exactly_the_same_batches(tmp_path, digits):
    p = mini(epochs=2, checkpoint_every=3, batch_size=128)  # 11 iterations per epoch
    full = Trainer(p, "darts_v2", seed=3, out_dir=tmp_path / "full", progress=False, log=lambda s: None, data=digits).run()

    class Crashing(Trainer):
        def step(self, x, y):
            if self.t == 17:  # mid-epoch 2, after the checkpoint at t = 15
                raise Interrupt
            return super().step(x, y)

    crashing = Crashing(p, "darts_v2", seed=3, out_dir=tmp_path / "cut", progress=False, log=lambda s: None, data=digits)
    with pytest.raises(Interrupt):
        crashing.run()
    ckpt = safe_load(tmp_path / "cut" / "checkpoint.pt")
    assert (ckpt["t"], ckpt["epoch"], ckpt["pos"]) == (15, 1, 4)
    resumed = Trainer(p, "darts_v2", seed=3, out_dir=tmp_path / "cut", resume=True, progress=False, log=lambda s: None, data=digits)
    assert resumed.t == 15
    again = resumed.run()
    a = safe_load(tmp_path / "full" / "weights.pt")
    b = safe_load(tmp_path / "cut" / "weights.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert again.test_acc == full.test_acc
    assert [m["train_loss"] for m in again.metrics] == pytest.approx([m["train_loss"] for m in full.metrics], rel=1e-6)
    # Resuming a finished run does nothing.
    done = Trainer(p, "darts_v2", seed=3, out_dir=tmp_path / "cut", resume=True, progress=False, log=lambda s: None, data=digits)
    assert done.run().test_acc == full.test_acc


@pytest.mark.slow
def test_resume_refuses_another_config_and_force_replaces(tmp_path, digits):
    out = tmp_path / "run"
    Trainer(mini(epochs=1), "darts_v2", out_dir=out, progress=False, log=lambda s: None, data=digits).run()
    with pytest.raises(SdasError, match=r"different config \(preset.lr: checkpoint 0.05, now 0.01\)"):
        Trainer(mini(epochs=1, lr=0.01), "darts_v2", out_dir=out, resume=True, progress=False, data=digits)
    with pytest.raises(SdasError, match="genotype"):
        Trainer(mini(epochs=1), "darts_v1", out_dir=out, resume=True, progress=False, data=digits)
    with pytest.raises(SdasError, match="already holds files; use --resume .* --force"):
        Trainer(mini(epochs=1), "darts_v2", out_dir=out, progress=False, data=digits)
    with pytest.raises(SdasError, match="nothing to resume"):
        Trainer(mini(epochs=1), "darts_v2", out_dir=tmp_path / "empty", resume=True, progress=False, data=digits)
    # --force replaces the old run's files (and only those): mark them, then check that the marks are gone.
    marker = "MARKER-OF-THE-OLD-RUN"
    with open(out / "log.txt", "a") as f:
        f.write(marker + "\n")
    (out / ".metrics.csv.1234.tmp").write_text("half-written by a killed run")
    (out / "notes.txt").write_text("mine")  # not a run file: left alone
    assert json.loads((out / "config.json").read_text())["preset"]["lr"] == 0.05
    assert Genotype.load(out / "genotype.json") == DARTS_V2
    Trainer(mini(epochs=1, lr=0.01), "darts_v1", out_dir=out, force=True, progress=False, log=lambda s: None, data=digits).run()
    log = (out / "log.txt").read_text()
    assert marker not in log and log.count("retrain: network") == 1  # one run's log, not appended to
    assert json.loads((out / "config.json").read_text())["preset"]["lr"] == 0.01
    assert Genotype.load(out / "genotype.json") == DARTS_V1
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert len(rows) == 1 and float(rows[0]["lr"]) == pytest.approx(0.01)
    assert not (out / ".metrics.csv.1234.tmp").exists()
    assert (out / "notes.txt").read_text() == "mine"


def test_nonfinite_loss_names_the_iteration(tmp_path, digits):
    x, y = digits.train.tensors
    bad = dataclasses.replace(digits, train=TensorDataset(torch.full_like(x, float("nan")), y))
    with pytest.raises(SdasError, match=r"training loss became nan at iteration 1 \(epoch 1\); no checkpoint was written yet"):
        Trainer(mini(), "darts_v2", out_dir=tmp_path / "nan", progress=False, log=lambda s: None, data=bad).run()


def test_genotype_errors_are_clear(tmp_path, digits):
    with pytest.raises(SdasError, match="does not exist; give a genotype.json .* or a reference name"):
        Trainer(mini(), tmp_path / "missing.json", progress=False, data=digits)
    g = tmp_path / "g.json"
    g.write_text(json.dumps({"op_set": "o2d", "cells": {"normal": DARTS_V2.to_dict()["cells"]["normal"]}}))
    with pytest.raises(SdasError, match="missing cell type 'reduce'"):
        Trainer(mini(), g, progress=False, data=digits)


# -- command line -----------------------------------------------------------------------------------


def test_cli_train_with_a_genotype_file(tmp_path, capsys):
    DARTS_V2.save(tmp_path / "genotype.json")
    out = tmp_path / "eval"
    rc = main([
        "train", "--genotype", str(tmp_path / "genotype.json"), "--preset", "tiny", "--out", str(out),
        "--epochs", "1", "--K", "1", "--C1", "8", "--C2", "16", "--batch-size", "128", "--no-progress",
    ])
    assert rc == 0
    assert "test accuracy" in capsys.readouterr().out
    assert json.loads((out / "result.json").read_text())["epochs"] == 1
    rc = main(["train", "--genotype", "darts_v9", "--out", str(tmp_path / "x"), "--no-progress"])
    assert rc == 2 and "error: genotype file 'darts_v9' does not exist" in capsys.readouterr().err


def test_cli_summary_prints_the_table(capsys):
    assert main(["summary", "--genotype", "darts_v2", "--network", "cifar", "--K", "6", "--C1", "108", "--C2", "144"]) == 0
    text = capsys.readouterr().out
    assert "3,349,342" in text and "parameters (with auxiliary head)" in text
    assert "mult-adds, 1x3x32x32 (conv + linear)" in text and "(1, 10)" in text
    assert main(["summary", "--network", "hexnet"]) == 2
    assert "unknown network 'hexnet'" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_retrain_of_darts_v2_beats_chance_by_far(tmp_path):
    """The tiny preset end to end on its default data, the cluttered digits (calibrated: DARTS_V2 at
    about 87% test accuracy in 10 epochs, 86.7% here with seed 0, in about 27 s on one thread; plain digits: 99%)."""
    result = Trainer(TRAIN_TINY, "darts_v2", seed=0, out_dir=tmp_path / "tiny", progress=False, log=lambda s: None).run()
    assert "cluttered_digits" in result.dataset
    assert result.test_acc > 0.8  # chance is 0.1; the cluttered digits keep it below plain digits' 99%
