"""Video in the run loops and on the command line: a micro video search on each op set ends fully
discretized (M = 54) with a valid video genotype and resumes exactly after a crash; the found cells
retrain; a test video of several clips is scored by the mean of their softmax scores (§5.2); the
baseline command trains a hand-crafted network (Fig. 10) with the retraining loop.

Everything runs on the micro video presets: 4 frames of 16×16 moving digits, narrow cells, one epoch.
"""

import csv
import dataclasses
import json

import pytest
import torch
from torch.utils.data import TensorDataset

import sdas_lib.cli as cli
from sdas_lib.cli import build_parser, main
from sdas_lib.core.genotype import Genotype
from sdas_lib.core.history import load_history
from sdas_lib.core.schedule import get_schedule
from sdas_lib.core.space import video_space
from sdas_lib.data import VideoData, load_video_data
from sdas_lib.nets.baselines import build_baseline
from sdas_lib.nets.complexity import count_parameters
from sdas_lib.nets.evalnet import build_network
from sdas_lib.run.presets import (
    VIDEO_MICRO, VIDEO_PAPER, VIDEO_TRAIN_MICRO, VIDEO_TRAIN_PAPER, VideoSearchPreset, VideoTrainPreset,
    search_presets, train_presets,
)
from sdas_lib.run.search import Searcher
from sdas_lib.run.train import Trainer

VIDEO_SETS = ("video_o2d", "video_o3d", "video_oadv")
VIDEO_CELLS = ("normal", "st_reduce", "s_reduce")
MICRO = dataclasses.replace(VIDEO_MICRO, threads=1)  # 5 iterations; checkpoints at t = 2, 4 and 5 (epoch end)
TRAIN_MICRO = dataclasses.replace(VIDEO_TRAIN_MICRO, threads=1)
# A small video genotype for the size and summary checks (not a searched one).
CELL = [[("sep3d_conv_3x3x3", 0), ("sep_conv_1x3x3", 1)], [("max_pool_3x3x3", 0), ("skip_connect", 2)],
        [("channel_scale", 1), ("sep_conv_1x5x5", 3)], [("channel_bias", 0), ("max_pool_1x3x3", 4)]]
GENOTYPE = Genotype.from_cells("video_oadv", {c: CELL for c in VIDEO_CELLS})


def quiet(*lines):
    return None


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("clip-cache")


@pytest.fixture(scope="module")
def clips(cache):
    """The micro presets' data: 4 frames of 16x16 moving digits, coarse labels, one test clip each;
    the first 200 of the 2,000 test clips, so that Table 2's three test passes take a fraction of a second."""
    data = load_video_data("moving_digits", resolution=16, clip_len=4, cache_dir=cache)
    x, y = data.test.tensors
    return dataclasses.replace(data, test=TensorDataset(x[:200], y[:200]))


@pytest.fixture
def cached(cache, monkeypatch):
    """Command-line runs read the same clip cache."""
    monkeypatch.setenv("SDAS_CACHE", str(cache))


@pytest.fixture(scope="module")
def searches(tmp_path_factory, clips):
    """searches(op_set) -> (searcher, result, run folder) of a micro SDAS-C search, run once per module."""
    done = {}

    def search(op_set):
        if op_set not in done:
            out = tmp_path_factory.mktemp(op_set) / "run"
            s = Searcher(dataclasses.replace(MICRO, op_set=op_set), "C", seed=0, out_dir=out, progress=False, log=quiet, data=clips)
            done[op_set] = (s, s.run(), out)
        return done[op_set]

    return search


# -- the presets -------------------------------------------------------------------------------------


def test_video_presets_are_section_7_1():
    s, t = VIDEO_PAPER, VIDEO_TRAIN_PAPER
    assert search_presets("video")["paper"] is s and train_presets("VIDEO")["paper"] is t
    assert s.task == t.task == "video" and search_presets("image")["paper"].task == "image"
    # Kinetics10, 16x112x112 clips, 20 test clips averaged (§5.2), 96 epochs of batch 64 (§5.3, §7.1).
    for p in (s, t):
        assert (p.dataset, p.clip_len, p.resolution, p.test_clips, p.epochs, p.batch_size) == ("kinetics10", 16, 112, 20, 96, 64)
    assert (s.K, s.C1, s.C2, s.op_set, s.arch_lr, s.w_lr) == (2, 16, 64, "video_oadv", 3e-4, 0.025)  # search network
    assert (t.network, t.K, t.C1, t.C2, t.cutout, t.auxiliary_weight) == ("video", 2, 32, 128, 0, 0.0)  # evaluation network
    tiny = search_presets("video")["tiny"]
    assert (tiny.dataset, tiny.clip_len, tiny.resolution, tiny.K) == ("moving_digits", 4, 16, 1)


# -- the search ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("op_set", [pytest.param(s, marks=pytest.mark.slow) for s in VIDEO_SETS[:2]] + [VIDEO_SETS[2]])
def test_micro_video_search_ends_fully_discretized_with_a_video_genotype(searches, op_set):
    s, res, out = searches(op_set)
    assert s.space == video_space(op_set) and s.M == 54 and len(res.history) == 54  # 3 cell types x (14 + 4)
    made_by = [sum(d.iteration <= t for d in res.history) for t in range(s.T + 1)]
    assert made_by == [get_schedule("C")(t, s.T, 54) for t in range(s.T + 1)]
    assert res.history[-1].valid_architectures == 1 and {d.cell_type for d in res.history} == set(VIDEO_CELLS)
    g = Genotype.load(out / "genotype.json", cell_types=VIDEO_CELLS)
    assert g == res.genotype and g.op_set == op_set
    build_network("video", g, K=1, C1=8, C2=16)  # a valid video genotype: the evaluation network takes it
    hist = load_history(out / "decisions.json")
    assert len(hist.decisions) == 54 and hist.space == s.space and "moving_digits" in hist.meta["dataset"]
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "video" and config["preset"]["op_set"] == op_set and config["M"] == 54
    assert config["dataset"].startswith("moving_digits (")
    log = (out / "log.txt").read_text()
    assert f"task video, preset micro, op set {op_set}" in log and "data: moving_digits (" in log
    with open(out / "metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    assert int(last["decisions"]) == 54 and int(last["valid_architectures"]) == 1
    for column in ("test_acc_relaxed", "test_acc_discrete", "test_acc_discrete_bn_reestimated"):  # Table 2's three
        assert 0 <= float(last[column]) <= 1


def test_crashed_video_search_resumes_to_the_same_genotype_and_history(searches, clips, tmp_path):
    _, reference, ref_dir = searches("video_oadv")

    class Crash(Exception):
        pass

    class Crashing(Searcher):
        def discretize(self):
            if self.t == 5:
                raise Crash  # mid-run: checkpoints exist at t = 2 (prev) and 4
            return super().discretize()

    out = tmp_path / "cut"
    with pytest.raises(Crash):
        Crashing(MICRO, "C", seed=0, out_dir=out, progress=False, log=quiet, data=clips).run()
    assert not (out / "genotype.json").exists()
    resumed = Searcher(MICRO, "C", seed=0, out_dir=out, resume=True, progress=False, log=quiet, data=clips)
    assert resumed.t == 4 and 0 < resumed.state.n_done < 54
    result = resumed.run()
    assert result.genotype == reference.genotype
    for f in ("genotype.json", "decisions.json"):
        assert (out / f).read_bytes() == (ref_dir / f).read_bytes(), f


# -- retraining ----------------------------------------------------------------------------------------


def test_found_video_genotype_retrains(searches, clips, tmp_path):
    _, found, search_dir = searches("video_oadv")
    out = tmp_path / "eval"
    result = Trainer(TRAIN_MICRO, search_dir / "genotype.json", seed=0, out_dir=out, progress=False, log=quiet, data=clips).run()
    assert result.genotype == found.genotype and 0 <= result.test_acc <= 1
    assert result.params == count_parameters(build_network("video", found.genotype, K=1, C1=8, C2=16, num_classes=10))
    doc = json.loads((out / "result.json").read_text())
    assert (doc["task"], doc["network"], doc["test_clips"], doc["input_shape"]) == ("video", "video", 1, [3, 4, 16, 16])
    assert Genotype.load(out / "genotype.json") == found.genotype
    assert json.loads((out / "config.json").read_text())["task"] == "video"


class FirstPixels(torch.nn.Module):
    """Logits = the first two pixels of a clip's first frame: (M, C, T, H, W) -> (M, 2)."""

    def forward(self, x):
        return x[:, 0, 0, 0, :2].float()


def test_a_test_video_is_scored_by_the_mean_softmax_of_its_clips(clips, tmp_path):
    # Two test videos of three clips each, with hand-set per-clip logits. Video 0: one confident clip
    # for class 0 and two mild ones for class 1; the mean logits (1.67, 1.33) would say class 0, the
    # mean softmax says class 1 (its label). Video 1: every clip says class 0 (its label is 1).
    logits = torch.tensor([[[5.0, 0.0], [0.0, 2.0], [0.0, 2.0]], [[1.0, 0.0], [2.0, 0.0], [1.0, 0.5]]])  # (video, clip, class)
    test_x = torch.zeros(2, 3, 3, 4, 16, 16)  # (video, clip, C, T, H, W)
    test_x[:, :, 0, 0, 0, :2] = logits
    test_y = torch.tensor([1, 1])
    data = VideoData(
        "synthetic", "synthetic clips", train=clips.train, test=TensorDataset(test_x, test_y), num_classes=2,
        in_channels=3, resolution=16, clip_len=4, test_clips=3,
    )
    mean_softmax = logits.softmax(-1).mean(1)  # the hand computation (§5.2): (video, class)
    assert mean_softmax.argmax(1).tolist() == [1, 0] and logits.mean(1).argmax(1).tolist() == [0, 0]
    expected_loss = -mean_softmax[[0, 1], test_y].log().mean().item()

    preset = dataclasses.replace(TRAIN_MICRO, eval_batch_size=4)  # one video (3 clips) per batch: batching works
    trainer = Trainer(preset, GENOTYPE, progress=False, log=quiet, data=data)
    trainer.net = FirstPixels()
    loss, acc = trainer.evaluate()
    assert acc == 0.5 and loss == pytest.approx(expected_loss, rel=1e-6)

    searcher = Searcher(dataclasses.replace(MICRO, batch_size=7), "C", progress=False, log=quiet, data=data)
    assert searcher.test_accuracy(FirstPixels()) == 0.5


# -- the command line ------------------------------------------------------------------------------------


def test_task_and_op_set_flags():
    argv = ["search", "--task", "VIDEO", "--preset", "micro", "--out", "x", "--op-set", "O3D"]
    args = build_parser(argv).parse_args(argv)
    assert args.task == "video" and cli._overrides(args, VideoSearchPreset, args.task) == {"op_set": "video_o3d"}
    argv = ["search", "--task", "video", "--out", "x", "--ops", "oadv", "--clip-len", "6"]
    args = build_parser(argv).parse_args(argv)
    assert cli._overrides(args, VideoSearchPreset, "video") == {"op_set": "video_oadv", "clip_len": 6}
    argv = ["train", "--task", "video", "--genotype", "g.json", "--out", "x", "--op_set", "video_o2d", "--test-clips", "5"]
    args = build_parser(argv).parse_args(argv)
    assert cli._overrides(args, VideoTrainPreset, "video") == {"op_set": "video_o2d", "test_clips": 5}
    argv = ["search", "--out", "x", "--op-set", "o2d"]
    args = build_parser(argv).parse_args(argv)
    assert args.task == "image" and cli._overrides(args, VideoSearchPreset, args.task) == {"op_set": "o2d"}
    argv = ["baseline", "--arch", "ResNeXt50-3D", "--out", "x"]
    args = build_parser(argv).parse_args(argv)
    assert (args.arch, args.width, args.preset) == ("resnext50-3d", 1, "tiny") and not hasattr(args, "K")


def test_summary_of_the_video_network(tmp_path, capsys):
    path = tmp_path / "genotype.json"
    GENOTYPE.save(path)
    assert main(["summary", "--network", "video", "--genotype", str(path), "--K", "1", "--C1", "8", "--C2", "16",
                 "--frames", "4", "--resolution", "16"]) == 0
    out = capsys.readouterr().out
    net = build_network("video", GENOTYPE, K=1, C1=8, C2=16, num_classes=10)
    assert "in the video network: K=1, C1=8, C2=16, 10 classes, 5 cells" in out
    assert f"{count_parameters(net):,}" in out and "mult-adds, 1x3x4x16x16" in out and "(1, 10)" in out


@pytest.mark.slow
def test_summary_of_the_video_network_defaults_to_a_16x112x112_clip(tmp_path, capsys):
    path = tmp_path / "genotype.json"
    GENOTYPE.save(path)
    assert main(["summary", "--network", "video", "--genotype", str(path)]) == 0
    out = capsys.readouterr().out
    assert "K=2, C1=32, C2=128, 10 classes, 8 cells" in out and "mult-adds, 1x3x16x112x112" in out


def test_baseline_command_trains_with_the_retraining_loop(tmp_path, cached, capsys):
    out = tmp_path / "res50"
    argv = ["baseline", "--arch", "RES50-3D", "--width", "4", "--preset", "micro", "--seed", "1", "--no-progress", "--out", out]
    assert main([str(a) for a in argv]) == 0
    params = count_parameters(build_baseline("res50-3d", 10, 4))
    assert f"res50-3d (width / 4): {params:,} parameters, test accuracy" in capsys.readouterr().out
    doc = json.loads((out / "result.json").read_text())
    assert (doc["arch"], doc["width_divisor"], doc["network"], doc["params"]) == ("res50-3d", 4, "baseline", params)
    assert doc["task"] == "video" and 0 <= doc["test_acc"] <= 1 and doc["input_shape"] == [3, 4, 16, 16]
    assert not (out / "genotype.json").exists() and (out / "weights.pt").is_file()
    assert json.loads((out / "config.json").read_text())["arch"] == "res50-3d"
    assert main([str(a) for a in argv]) == 2  # the folder holds a run: refused
    assert "use --resume to continue that run, --force to replace it" in capsys.readouterr().err
    assert main([str(a) for a in argv] + ["--resume"]) == 0
    assert "already complete" in capsys.readouterr().out
