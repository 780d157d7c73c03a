"""Every bad input gets one ``error:`` line saying what is wrong and how to fix it, exit status 2,
and leaves the file system as it was (no run folder, no partial outputs).

All cases fail before any training, so they run in-process through ``sdas_lib.cli.main``.
"""

import json
import re
from pathlib import Path

import pytest
import torch

from sdas_lib.data import cifar as data_mod
from sdas_lib.cli import main
from sdas_lib.core.genotype import DARTS_V2
from sdas_lib.core.opsets import OP_SET_TABLE, OpSetInfo
from sdas_lib.run.presets import TINY, override
from sdas_lib.run.search import Searcher


def snapshot(root: Path) -> dict:
    """Every path under ``root`` with its bytes (None for folders)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def fails(tmp_path, capsys):
    """fails(argv, message): run the CLI, expect status 2, one error line containing ``message``
    (a regular expression) and no change under tmp_path; returns the line."""

    def check(argv, message):
        before = snapshot(tmp_path)
        rc = main([str(a) for a in argv])
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert rc == 2, captured
        assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
        assert re.search(message, lines[0]), lines[0]
        assert snapshot(tmp_path) == before
        return lines[0]

    return check


@pytest.fixture
def search(tmp_path):
    """A tiny search command into tmp_path/run (options after it override these)."""
    return [
        "search", "--preset", "tiny", "--epochs", "1", "--warmup_iterations", "0", "--resolution", "8", "--C1", "8", "--C2", "16",
        "--batch_size", "96", "--threads", "1", "--no-progress", "--out", tmp_path / "run",
    ]


@pytest.fixture
def train(tmp_path):
    """A tiny retraining command into tmp_path/run."""
    return [
        "train", "--preset", "tiny", "--genotype", "darts_v2", "--epochs", "1", "--K", "1", "--C1", "8", "--C2", "16",
        "--batch_size", "128", "--threads", "1", "--no-progress", "--out", tmp_path / "run",
    ]




def genotype_file(tmp_path: Path, doc) -> Path:
    path = tmp_path / "genotype.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


# -- names -----------------------------------------------------------------------------------------


def test_unknown_task(fails):
    fails(["serch", "--out", "x"], r"unknown command 'serch' \(choose from 'search', 'count', 'train', 'summary', 'sweep', 'baseline'\); see 'python -m sdas_lib --help'")


def test_unknown_flag(fails, search):
    fails([*search, "--colour", "red"], r"unrecognized arguments: --colour red; see 'python -m sdas_lib --help'$")


def test_unknown_preset(fails, search, train):
    fails([*search, "--preset", "huge"], "unknown preset 'huge'; choose one of: 'tiny', 'paper', 'micro'$")
    fails([*train, "--preset", "huge"], "unknown preset 'huge'; choose one of: 'tiny', 'paper', 'imagenet', 'micro'$")


def test_unknown_schedule(fails, search):
    fails([*search, "--schedule", "D"], "unknown schedule 'D'; choose one of: 'A', 'B', 'C', 'das'$")


def test_unknown_op_set(fails, search, train):
    fails([*search, "--op_set", "o9d"], "unknown op set 'o9d'; choose one of: 'o2d'")
    fails([*train, "--op-set", "o9d"], "unknown op set 'o9d'; choose one of: 'o2d'")
    fails(["count", "--op-set", "o9d"], "unknown op set 'o9d'")


def test_op_set_of_video_ops_for_the_image_network(fails, search, monkeypatch):
    monkeypatch.setitem(OP_SET_TABLE, "v3d", OpSetInfo("v3d", 3, OP_SET_TABLE["o2d"].ops))
    fails([*search, "--op_set", "v3d"], "--op_set 'v3d' has 3D ops but the image networks need 2D ones; choose one of: 'o2d'$")


# -- video -----------------------------------------------------------------------------------------


@pytest.fixture
def video_search(search, tmp_path, monkeypatch):
    """The tiny search command with --task video (moving digits, cached under tmp_path)."""
    monkeypatch.setenv("SDAS_CACHE", str(tmp_path.parent / f"{tmp_path.name}-clips"))
    return [*search[:-2], "--task", "video", "--resolution", "16", *search[-2:]]


def test_unknown_task_flag(fails, search, train):
    fails([*search, "--task", "audio"], r"argument --task: invalid choice: 'audio' \(choose from 'image', 'video'\)")
    fails([*train, "--task", "audio"], r"argument --task: invalid choice: 'audio'")


def test_op_sets_of_the_other_task(fails, search, video_search):
    fails([*video_search, "--op-set", "o9d"], "unknown op set 'o9d' for --task video; choose one of: 'o2d', 'o3d', 'oadv'$")
    fails([*search, "--op-set", "o3d"], r"op set 'o3d' is for --task video; --task image takes --op-set o2d \(or add --task video\)$")
    fails([*search, "--ops", "OADV"], "op set 'OADV' is for --task video")
    fails([*search, "--op-set", "video_oadv"], "--op_set 'video_oadv' has 3D ops but the image networks need 2D ones; choose one of: 'o2d'$")


def test_image_op_set_in_a_video_preset():
    from sdas_lib.errors import SdasError
    from sdas_lib.run.presets import VIDEO_TINY, check_search_preset

    with pytest.raises(SdasError) as err:
        check_search_preset(override(VIDEO_TINY, op_set="o2d"))
    assert str(err.value) == (
        "--op_set 'o2d' has 2D ops but --task video needs a video op set; choose one of: 'video_o2d', 'video_o3d', "
        "'video_oadv' (--op-set o2d, o3d, oadv)"
    )


def test_clip_smaller_than_the_video_network_minimum(fails, video_search, train):
    fails([*video_search, "--resolution", "8"],
          r"clip 4x8x8 \(TxHxW, --clip-len 4 --resolution 8\) is smaller than the video search network's minimum 2x16x16 "
          r"\(stem H, W / 4, ST-reduction / 2, S-reduction H, W / 2\); try --clip-len 4 --resolution 16$")
    fails([*video_search, "--clip-len", "1"], r"clip 1x16x16 .* minimum 2x16x16 .*; try --clip-len 2 --resolution 16$")
    fails(["train", "--task", "video", "--genotype", "g.json", "--resolution", "12", "--out", "x"],
          r"clip 4x12x12 .* smaller than the video network's minimum 2x16x16")


def test_image_genotype_for_video_training_and_back(fails, tmp_path):
    fails(["train", "--task", "video", "--genotype", "darts_v2", "--out", tmp_path / "run"],
          r"'darts_v2' is an image genotype \(op set 'o2d', cells normal, reduce\) but --task video needs a video one "
          r"\(cells normal, st_reduce, s_reduce\); search one with 'search --task video', or retrain this one with --task image$")
    fails(["summary", "--network", "video", "--genotype", "darts_v2"],
          "'darts_v2' is an image genotype .* but the video network needs a video one .*; use --network cifar or imagenet$")
    fails(["summary", "--network", "video"], "summary --network video needs --genotype: a video genotype.json")
    from sdas_lib.core.genotype import Genotype

    cells = [[("skip_connect", 0), ("skip_connect", 1)]] * 4
    path = tmp_path / "video.json"
    Genotype.from_cells("video_o3d", {c: cells for c in ("normal", "st_reduce", "s_reduce")}).save(path)
    fails(["train", "--genotype", path, "--out", tmp_path / "run"],
          rf"'{path}' is a video genotype \(op set 'video_o3d', cells normal, st_reduce, s_reduce\) but --task image "
          r"needs an image one \(cells normal, reduce\); retrain it with --task video$")
    fails(["train", "--task", "video", "--op-set", "oadv", "--genotype", path, "--out", tmp_path / "run"],
          "genotype uses op set 'video_o3d' but this network needs 'video_oadv'")
    fails(["summary", "--genotype", "darts_v2", "--frames", "8"], "--frames is for clips: use it with --network video, not 'cifar'$")


def test_bad_baseline_settings(fails, tmp_path):
    out = tmp_path / "run"
    fails(["baseline", "--arch", "res9-3d", "--out", out], r"argument --arch: invalid choice: 'res9-3d' \(choose from 'res50-2d', ")
    fails(["baseline", "--arch", "res50-2d", "--width", "0", "--out", out], r"--width must be a positive integer .*, got 0$")
    fails(["baseline", "--arch", "res50-2d", "--width", "3", "--out", out], "width divisor 3 does not divide")
    fails(["baseline", "--arch", "res50-2d", "--clip-len", "2", "--out", out],
          r"--clip_len 2: the baselines halve T twice with temporal max pools \(Fig. 10\); give at least 4 frames$")
    fails(["baseline", "--arch", "res50-2d", "--K", "2", "--out", out], "unrecognized arguments: --K 2")


def test_unknown_dataset(fails, search, train):
    fails([*search, "--dataset", "mnist"], "unknown data set 'mnist'; choose one of: 'digits', 'cifar10', 'imagenet', 'cluttered_digits', 'cifar10_tiny', 'fashion_mnist'$")
    fails([*train, "--dataset", "mnist"], "unknown data set 'mnist'")


def test_unknown_genotype_name(fails, train):
    fails([*train, "--genotype", "darts_v9"],
          "genotype file 'darts_v9' does not exist; give a genotype.json from a search run folder or a reference name \\('darts_v1', 'darts_v2'\\)")


def test_unknown_device(fails, search):
    fails([*search, "--device", "potato"], "--device 'potato' is not a device name; use cpu, cuda or cuda:N")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_device_without_a_gpu(fails, train):
    fails([*train, "--device", "cuda"], "--device 'cuda': this machine has no CUDA GPU; use --device cpu")


# -- sizes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag,value", [("epochs", 0), ("batch_size", 0), ("K", 0), ("C1", 0), ("C2", -4), ("n_nodes", 0), ("k", 0)])
def test_non_positive_search_sizes(fails, search, flag, value):
    fails([*search, f"--{flag}", value], f"--{flag} must be a positive integer, got {value}$")


@pytest.mark.parametrize("flag,value", [("epochs", 0), ("batch_size", -1), ("K", 0), ("C1", 0), ("C2", 0)])
def test_non_positive_train_sizes(fails, train, flag, value):
    fails([*train, f"--{flag}", value], f"--{flag} must be a positive integer, got {value}$")


def test_C2_not_divisible_by_the_nodes(fails, search, train):
    fails([*search, "--C2", "18"], r"--C2 18 must be divisible by the number of intermediate nodes \(4\); try --C2 16$")
    fails([*search, "--C2", "16", "--n_nodes", "3"], r"--C2 16 must be divisible by the number of intermediate nodes \(3\); try --C2 15$")
    fails([*train, "--C2", "18"], r"--C2 18 must be divisible by the number of intermediate nodes \(4\); try --C2 16$")


def test_k_larger_than_the_predecessors(fails, search):
    fails([*search, "--k", "3"], "--k 3 is larger than the 2 predecessors available to the first intermediate node .*; choose --k between 1 and 2$")
    fails(["count", "--k", "3"], "k=3 predecessors per node is impossible")


def test_resolution_the_network_cannot_reduce(fails, search, train):
    fails([*search, "--resolution", "10"], "--resolution 10 must be divisible by 4: .*; try --resolution 8$")
    fails([*train, "--resolution", "10"], "--resolution 10 does not fit the 'cifar' network: .*; try its default --resolution 32$")


def test_batch_larger_than_the_split(fails, search, train):
    fails([*search, "--batch_size", "1000"], r"batch size 1000 is larger than the w-train split \(718 samples\); lower --batch_size to at most 718$")
    fails([*train, "--batch_size", "5000"], r"batch size 5000 is larger than the training set \(1437 samples\); lower --batch_size to at most 1437$")


# -- data roots ------------------------------------------------------------------------------------


def test_cifar10_data_root_missing(fails, search, tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod, "_reachable", lambda url, timeout=3.0: False)  # offline, whatever the machine
    root = tmp_path / "nowhere"
    fails([*search, "--dataset", "cifar10", "--resolution", "32", "--data_root", root],
          f"CIFAR10 not found in '{root}/cifar-10-batches-py' \\(offline: .*\\). Expected layout: .*data_batch_1..5, test_batch, batches.meta.* or pass --data-root DIR$")


def test_cifar10_data_root_with_the_wrong_layout(fails, search, tmp_path):
    root = tmp_path / "data"
    (root / "cifar-10-batches-py").mkdir(parents=True)
    (root / "cifar-10-batches-py" / "data_batch_1.png").write_bytes(b"not a pickle")
    fails([*search, "--dataset", "cifar10", "--resolution", "32", "--data_root", root],
          "CIFAR10 not found in .*cifar-10-batches-py' \\(RuntimeError: .*\\). Expected layout: ")


def test_imagenet_data_root_missing(fails, train, tmp_path):
    root = tmp_path / "imagenet"
    fails([*train, "--dataset", "imagenet", "--resolution", "32", "--data_root", root],
          f"ImageNet folder '{root}/train' is missing. Expected layout: {root}/train/<class>/<image> and {root}/val/<class>/<image>; pass --data-root DIR$")


def test_imagenet_data_root_with_the_wrong_layout(fails, train, tmp_path):
    root = tmp_path / "imagenet"
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        (root / split / "picture.jpg").write_bytes(b"images must sit in one folder per class")
    fails([*train, "--dataset", "imagenet", "--resolution", "32", "--data_root", root],
          f"cannot read ImageNet from '{root}': .*class folder")


# -- genotypes -------------------------------------------------------------------------------------


def test_malformed_genotype_json(fails, train, tmp_path):
    path = genotype_file(tmp_path, '{"op_set": "o2d", "cells": {')
    fails([*train, "--genotype", path], f"genotype file '{path}': genotype is not valid JSON \\(.*\\); check the file or re-run the search$")
    path = genotype_file(tmp_path, {"op_set": "o2d", "cells": {"normal": {"nodes": [[["skip_connect", 0]]]}, "reduce": "x"}})
    fails([*train, "--genotype", path], "cell 'reduce': expected an object with a 'nodes' list")


def test_genotype_with_an_op_outside_the_op_set(fails, train, tmp_path):
    doc = DARTS_V2.to_dict()
    doc["cells"]["normal"]["nodes"][1][0][0] = "conv_9x9"
    path = genotype_file(tmp_path, doc)
    fails([*train, "--genotype", path],
          f"genotype file '{path}': unknown op 'conv_9x9' in cell 'normal', node 3 for op set 'o2d'; choose one of: 'skip_connect', .*'dil_conv_5x5'$")


def test_genotype_of_another_op_set(fails, train, tmp_path, monkeypatch):
    doc = DARTS_V2.to_dict()
    doc["op_set"] = "o9d"
    path = genotype_file(tmp_path, doc)
    fails([*train, "--genotype", path], f"genotype file '{path}': genotype uses an unknown op set 'o9d'; choose one of: 'o2d', 'video_o2d', 'video_o3d', 'video_oadv'$")
    monkeypatch.setitem(OP_SET_TABLE, "v3d", OpSetInfo("v3d", 3, OP_SET_TABLE["o2d"].ops))
    doc["op_set"] = "v3d"
    path = genotype_file(tmp_path, doc)
    fails([*train, "--genotype", path], "genotype uses op set 'v3d' but this network needs 'o2d'")


def test_genotype_whose_cell_types_do_not_match_the_network(fails, train, tmp_path):
    doc = DARTS_V2.to_dict()
    doc["cells"] = {"normal": doc["cells"]["normal"], "st_reduce": doc["cells"]["reduce"]}  # a video genotype's
    path = genotype_file(tmp_path, doc)
    fails([*train, "--genotype", path],
          "genotype cell types 'normal', 'st_reduce' do not match the network's 'normal', 'reduce'; missing cell type "
          "'reduce'; unexpected 'st_reduce'; pass a genotype searched for this kind of network$")
    fails(["summary", "--genotype", path], "do not match the network's 'normal', 'reduce'")


# -- run folders -----------------------------------------------------------------------------------


def test_folder_with_a_run_is_never_overwritten(fails, search, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    fails(search, "already holds files; use --resume to continue that run, --force to replace it, or choose another --out$")


def test_out_is_a_file(fails, search, tmp_path):
    (tmp_path / "run").write_text("a file")
    fails(search, "--out '.*run' is a file, not a folder; choose another path$")


def test_resume_and_force_together(fails, search):
    fails([*search, "--resume", "--force"], "--resume and --force contradict each other")


def test_resume_without_a_checkpoint(fails, search, train, tmp_path):
    run = tmp_path / "run"
    fails([*search, "--resume"], f"nothing to resume in '{run}': it does not exist; start the run without --resume$")
    run.mkdir()
    fails([*train, "--resume"], f"nothing to resume in '{run}': it is empty; start the run without --resume$")
    (run / "config.json").write_text("{}")  # not a config this package wrote: nothing is touched
    fails([*search, "--resume"], "it holds no checkpoint.pt and no config.json written by sdas_lib; choose the run's own folder, or another --out without --resume$")


def test_resume_of_a_checkpoint_from_another_config(fails, search, tmp_path):
    preset = override(TINY, warmup_iterations=0, epochs=1, resolution=8, C1=8, C2=16, batch_size=96, threads=1)
    Searcher(preset, "A", out_dir=tmp_path / "run", progress=False, log=lambda s: None).save_checkpoint()
    fails([*search, "--resume", "--w_lr", "0.1"],
          r"cannot resume '.*run': its checkpoint was made with a different config \(preset.w_lr: checkpoint 0.025, now 0.1\); "
          "run with the original settings or use another --out$")
    fails([*search, "--resume", "--schedule", "das", "--seed", "3"], r"\(schedule: checkpoint 'A', now 'das'; seed: checkpoint 0, now 3\)")


def test_train_resume_of_a_search_checkpoint(fails, train, tmp_path):
    preset = override(TINY, warmup_iterations=0, epochs=1, resolution=8, C1=8, C2=16, batch_size=96, threads=1)
    Searcher(preset, "A", out_dir=tmp_path / "run", progress=False, log=lambda s: None).save_checkpoint()
    fails([*train, "--resume"], "checkpoint.pt is not an sdas-train-checkpoint file; start the run again with --force$")


def test_a_failure_while_starting_a_run_folder_removes_what_it_wrote(tmp_path, monkeypatch):
    from sdas_lib.run.presets import TRAIN_TINY
    from sdas_lib.run.train import Trainer

    def broken(self):
        raise OSError("disk full")

    monkeypatch.setattr(Trainer, "write_start_files", broken)  # after config.json is written
    preset = override(TRAIN_TINY, epochs=1, K=1, C1=8, C2=16, batch_size=128)
    with pytest.raises(OSError):
        Trainer(preset, "darts_v2", out_dir=tmp_path / "new" / "run", progress=False)
    assert snapshot(tmp_path) == {"new": None}  # the run folder it made is gone, its parent stays
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OSError):
        Trainer(preset, "darts_v2", out_dir=tmp_path / "mine", force=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert snapshot(tmp_path / "mine") == {"notes.txt": b"keep"}


def test_count_refuses_a_video_op_set_in_the_image_layout(fails):
    fails(["count", "--op-set", "video_o3d"], "'video_o3d' holds 3D \\(video\\) ops, but the cell types \\(normal, reduce\\)")
    fails(["count", "--op-set", "o3d"], "op set 'o3d' is for --task video")
    fails(["count", "--task", "video", "--op-set", "o4d"], "unknown op set 'o4d' for --task video")
