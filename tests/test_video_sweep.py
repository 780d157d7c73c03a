"""Video through the sweep and the report: Table 6's grid over op sets (folders per schedule, op set and
seed; skipped when run again), a second retraining of the same searches under another prefix (transfer
to the fine labels), hand-crafted baselines in worker processes, Tables 6 and 10 from them, and the
video claims of the reproduction report judged on synthetic results.

The runs use the micro video presets (4 frames of 16x16 moving digits, narrow cells, one epoch).
"""

import dataclasses
import json
from pathlib import Path

import pytest

from sdas_lib.core.verdicts import CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, REPRODUCED, report_rows
from sdas_lib.errors import SdasError
from sdas_lib.report import CLAIMS, collect_video_results
from sdas_lib.run import tables
from sdas_lib.run.presets import VIDEO_TRAIN_MICRO
from sdas_lib.run.sweep import sweep, sweep_sizes, train_baselines


def quiet(line):
    return None


@pytest.fixture(scope="module")
def video_runs(tmp_path_factory):
    """SDAS-C on O2D and O3D (seed 0), then the same searches transferred to the fine labels, and a
    res50-2d baseline on the search's labels at two widths: (folder, search table, transfer table, baseline table)."""
    root = tmp_path_factory.mktemp("video-sweep")
    mp = pytest.MonkeyPatch()
    mp.setenv("SDAS_CACHE", str(root / "cache"))  # the workers inherit it
    try:
        out = root / "video"
        runs = sweep(["C"], [0], out, preset="micro", task="video", op_sets=["O2D", "o3d"], jobs=2, progress=False, log=quiet)
        fine = dataclasses.replace(VIDEO_TRAIN_MICRO, dataset="moving_digits_fine")
        moved = sweep(["C"], [0], out, preset="micro", task="video", op_sets=["o2d", "o3d"], jobs=2, retrain=True,
                      train_preset=fine, retrain_prefix="transfer", progress=False, log=quiet)
        base = train_baselines(["res50-2d"], [0], out, train_preset="micro", width_divisor=[8, 16], jobs=1, log=quiet)
    finally:
        mp.undo()
    return out, runs, moved, base


@pytest.mark.slow
def test_an_op_set_axis_names_the_folders_and_a_second_retraining_reuses_the_searches(video_runs):
    out, runs, moved, base = video_runs
    assert list(runs["op_set"]) == ["video_o2d", "video_o3d"] and set(runs["status"]) == {"done"}
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("search")) == ["search-C-o2d-s0", "search-C-o3d-s0"]
    # the transfer sweep found its searches complete and only retrained them, on the fine labels
    assert set(moved["status"]) == {"skipped"} and set(moved["retrain_status"]) == {"done"}
    assert [Path(f).name for f in moved["retrain_folder"]] == ["transfer-C-o2d-s0", "transfer-C-o3d-s0"]
    assert set(moved["retrain_dataset"]) == {"moving_digits_fine"}
    assert list(base["status"]) == ["done", "done"] and list(base["width_divisor"]) == [8, 16]
    assert base.loc[0, "params"] > base.loc[1, "params"] > 0  # wider: more parameters
    assert base.loc[0, "mult_adds"] > base.loc[1, "mult_adds"] > 0 and base["train_acc"].between(0, 1).all()
    assert (out / "baseline-res50-2d-w8-s0" / "result.json").is_file() and (out / "baseline-res50-2d-w16-s0").is_dir()
    assert set(base["retrain_dataset"]) == {"moving_digits"}  # the search's own (coarse) labels


@pytest.mark.slow
def test_tables_6_and_10_and_the_report_read_the_video_runs(video_runs, tmp_path):
    out, runs, moved, base = video_runs
    t6 = tables.table6(moved)  # the searches with their (transfer) retrainings
    assert list(t6["ops"]) == ["O2D", "O3D"] and list(t6["method"]) == ["SDAS-C", "SDAS-C"]
    assert all(int(p.split(" ")[0]) > 0 for p in t6["params"]) and list(t6["paper GPU days"]) == [2.3, 3.5]
    assert set(tables.table6(runs)["params"]) == {"-"}  # searches only: nothing retrained
    t10 = tables.transfer_table(moved)
    assert list(t10["network"]) == ["SDAS-C cells (O2D)", "SDAS-C cells (O3D)"]
    t8 = tables.baseline_table(moved, base)
    assert list(t8["network"]) == ["SDAS-C cells (O2D)", "SDAS-C cells (O3D)", "res50-2d (width / 8)", "res50-2d (width / 16)"]
    # at Table 8's clip: width / 16 counts 0.048G (a quarter of width / 4's channels squared, roughly)
    assert list(t8["mult-adds at 16x112x112 (G)"]) == ["-", "-", "0.135", "0.048"]
    assert set(t8["paper mult-adds (G)"]) == {"-"}  # Table 8 lists width / 4 only
    results = collect_video_results(out)
    assert set(results["search"]) == {("C", "o2d"), ("C", "o3d")}
    assert set(results["baseline"]) == {("res50-2d", 8), ("res50-2d", 16)}
    assert results["baseline"][("res50-2d", 16)]["chance"] == [0.1]  # 10 coarse classes
    assert set(results["transfer"]) == {("C", "o2d"), ("C", "o3d")}


@pytest.mark.slow
def test_table7_sizes_retrain_the_found_cells_through_the_sweep_and_are_reused(video_runs):
    out = video_runs[0]
    sizes = sweep_sizes([0], out, train_preset="micro", preset="micro", op_set="o2d", jobs=2, progress=False, log=quiet)
    assert list(sizes["size"]) == ["K1_C4_C8", "K1_C6_C16", "K1_C8_C16"] and set(sizes["status"]) == {"skipped"}
    assert [Path(f).name for f in sizes["retrain_folder"]] == [
        "size_K1_C4_C8-C-o2d-s0", "size_K1_C6_C16-C-o2d-s0", "retrain-C-o2d-s0"]  # the preset's own: Table 6's
    assert list(sizes["retrain_status"]) == ["done"] * 3 and sizes["params"].is_monotonic_increasing
    t7 = tables.table7(sizes)
    assert [(r.K, r.C1, r.C2) for r in t7.itertuples()] == [(1, 4, 8), (1, 6, 16), (1, 8, 16)]
    assert list(t7["paper K, C1, C2"]) == ["2, 16, 64", "2, 24, 96", "2, 32, 128"]
    assert set(collect_video_results(out)["sizes"][("C", "o2d")]) == {(1, 4, 8), (1, 6, 16), (1, 8, 16)}
    again = sweep_sizes([0], out, train_preset="micro", preset="micro", op_set="o2d", jobs=2, progress=False, log=quiet)
    assert set(again["retrain_status"]) == {"skipped"} and list(again["test_acc"]) == list(sizes["test_acc"])


@pytest.mark.slow
def test_running_the_video_sweep_again_skips_every_run_untouched(video_runs):
    out, runs, moved, base = video_runs
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = train_baselines(["res50-2d"], [0], out, train_preset="micro", width_divisor=[8, 16], jobs=1, log=quiet)
    assert list(again["status"]) == ["skipped", "skipped"] and list(again["test_acc"]) == list(base["test_acc"])
    assert list(again["train_acc"]) == list(base["train_acc"])
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_bad_video_sweep_input_raises_before_anything_is_written(tmp_path):
    with pytest.raises(SdasError, match="unknown op set 'o4d' for --task video; choose one of"):
        sweep(["C"], [0], tmp_path / "x", preset="micro", task="video", op_sets=["o4d"], progress=False, log=quiet)
    with pytest.raises(SdasError, match="op set 'o3d' is for --task video"):
        sweep(["C"], [0], tmp_path / "x", preset="micro", op_sets=["o3d"], progress=False, log=quiet)
    with pytest.raises(SdasError, match="retrain_prefix 'search'"):
        sweep(["C"], [0], tmp_path / "x", preset="micro", retrain=True, train_preset="micro", retrain_prefix="search",
              progress=False, log=quiet)
    with pytest.raises(SdasError, match="unknown baseline 'res42-2d'"):
        train_baselines(["res42-2d"], [0], tmp_path / "x", train_preset="micro", log=quiet)
    with pytest.raises(SdasError, match="width_divisor must be a positive integer"):
        train_baselines(["res50-2d"], [0], tmp_path / "x", train_preset="micro", width_divisor=[4, 0], log=quiet)
    with pytest.raises(SdasError, match="sweep_sizes sets retrain_prefix itself"):
        sweep_sizes([0], tmp_path / "x", train_preset="micro", preset="micro", retrain_prefix="size", log=quiet)
    with pytest.raises(SdasError, match="positive numbers such as"):
        sweep_sizes([0], tmp_path / "x", train_preset="micro", fractions=[], preset="micro", log=quiet)
    assert list(tmp_path.iterdir()) == []


def judge(claim_id, video):
    results = {"search": {}, "retrain": {}, "histories": {}, "genotypes": {}, "datasets": set(),
               "video": {"search": {}, "retrain": {}, "transfer": {}, "baseline": {}, "datasets": set(), **video}}
    claim = next(c for c in CLAIMS if c.key == claim_id)
    return claim.judge(results).status


def test_the_video_claims_are_judged_from_the_runs_numbers():
    acc = "test_acc"  # of the found cells retrained (Table 6's error)
    good = {("C", "o3d"): {acc: [0.8, 0.82, 0.81]}, ("C", "o2d"): {acc: [0.4, 0.42, 0.41]}}
    close = {("C", "o3d"): {acc: [0.8, 0.6, 0.7]}, ("C", "o2d"): {acc: [0.7, 0.65, 0.72]}}
    assert judge("video_o3d_c", {"retrain": good}) == REPRODUCED
    assert judge("video_o3d_c", {"retrain": close}) == INCONCLUSIVE
    assert judge("video_o3d_c", {"search": good}) == NOT_TESTABLE  # the supernets' numbers do not count
    secs = {(s, op): {"search_seconds": [100, 101] if s == "das" else [40, 41]} for s in ("das", "C") for op in ("o2d", "o3d", "oadv")}
    assert judge("video_cost_o2d", {"search": secs}) == REPRODUCED
    slow = {**secs, ("C", "o2d"): {"search_seconds": [120, 121]}}
    assert judge("video_cost_o2d", {"search": slow}) == CONTRADICTED
    cpu = {k: {**v, "search_cpu_seconds": [50, 51] if k[0] == "das" else [20, 21]} for k, v in slow.items()}
    assert judge("video_cost_o2d", {"search": cpu}) == REPRODUCED  # CPU seconds, when recorded, win over wall
    one = {k: v for k, v in secs.items() if k[1] == "o2d"}
    assert judge("video_cost_o3d", {"search": one}) == NOT_TESTABLE
    moved = {("C", "oadv"): {"test_acc": [0.9, 0.91]}, ("das", "oadv"): {"test_acc": [0.7, 0.71]}}
    assert judge("video_transfer", {"transfer": moved}) == REPRODUCED
    assert judge("video_kinetics", {}) == NOT_TESTABLE
    control = {("C", "oadv"): {acc: [0.8, 0.82, 0.81]}, ("das", "oadv"): {acc: [0.5, 0.52, 0.51]},
               ("random", "oadv"): {acc: [0.6, 0.61, 0.62]}}
    assert judge("video_random_C", {"retrain": control}) == REPRODUCED  # SDAS-C's Oadv cells beat random ones
    assert judge("video_random_das", {"retrain": control}) == CONTRADICTED  # DAS's fall below them
    assert judge("video_random_C", {"retrain": {("C", "oadv"): control[("C", "oadv")]}}) == NOT_TESTABLE
    assert {c.family for c in CLAIMS if c.key.startswith("video_random_")} == {"table6_vs_random"}


def test_the_table6_family_is_corrected_together():
    acc = "test_acc"
    retrain = {("das", op): {acc: [0.50, 0.51, 0.52]} for op in ("o2d", "o3d", "oadv")}
    retrain.update({("C", op): {acc: [0.53, 0.57, 0.55]} for op in ("o2d", "o3d", "oadv")})  # p about 0.027 each
    results = {"search": {}, "retrain": {}, "histories": {}, "genotypes": {}, "datasets": set(),
               "video": {"search": {}, "retrain": retrain, "transfer": {}, "baseline": {}, "datasets": set()}}
    family = [c for c in CLAIMS if c.family == "table6_vs_das"]
    assert [c.key for c in family] == ["video_vs_das_o2d", "video_vs_das_o3d", "video_vs_das_oadv"]
    assert {c.judge(results).status for c in family} == {REPRODUCED}  # each alone
    rows = {r["claim"]: r for r in report_rows(family, results)}
    assert {r["verdict"] for r in rows.values()} == {INCONCLUSIVE}  # three alike: Holm multiplies the first by 3


@pytest.mark.slow
def test_a_killed_baseline_fails_alone_and_the_same_call_resumes_it(tmp_path, monkeypatch):
    from sdas_lib.run.faults import KILL_RUN_ENV

    fine = dataclasses.replace(VIDEO_TRAIN_MICRO, dataset="moving_digits_fine", checkpoint_every=2)
    monkeypatch.setenv("SDAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(KILL_RUN_ENV, "baseline-res50-2d-w16-s1=iteration:5")  # that worker dies as a lost machine would
    first = train_baselines(["res50-2d"], [0, 1], tmp_path / "out", train_preset=fine, width_divisor=16, jobs=2, log=quiet)
    monkeypatch.delenv(KILL_RUN_ENV)
    assert list(first["status"]) == ["done", "failed"] and first.loc[0, "test_acc"] > 0
    killed = tmp_path / "out" / "baseline-res50-2d-w16-s1"
    assert first.loc[1, "error"].startswith(f"{killed}: the worker was killed by SIGKILL")
    assert (killed / "checkpoint.pt").is_file() and not (killed / "result.json").exists()
    again = train_baselines(["res50-2d"], [0, 1], tmp_path / "out", train_preset=fine, width_divisor=16, jobs=2, log=quiet)
    assert list(again["status"]) == ["skipped", "resumed"] and again.loc[0, "test_acc"] == first.loc[0, "test_acc"]
    assert (killed / "result.json").is_file() and "resumed at iteration 4" in (killed / "log.txt").read_text()


def test_a_random_cell_folder_on_video_is_read_as_its_retraining_only(tmp_path):
    from sdas_lib.core.random_cells import random_genotype
    from sdas_lib.core.space import video_space

    folder = tmp_path / "search-random-oadv-s0"
    folder.mkdir()
    random_genotype(video_space("video_oadv"), 0).save(folder / "genotype.json")
    (folder / "config.json").write_text(json.dumps({"schedule": "random", "seed": 0}))
    (tmp_path / "retrain-random-oadv-s0").mkdir()
    (tmp_path / "retrain-random-oadv-s0" / "result.json").write_text(
        json.dumps({"params": 500, "test_acc": 0.3, "seconds": 1.0, "dataset": "moving_digits"}))
    results = collect_video_results(tmp_path)
    assert results["search"] == {} and results["retrain"][("random", "oadv")]["test_acc"] == [0.3]


def test_the_cells_meet_a_hand_crafted_baseline_only_where_one_learns():
    cells = {("C", "oadv"): {"test_acc": [0.6, 0.62, 0.61]}}
    chance = {"chance": [0.1] * 3}
    nothing = {("res50-3d", 4): {"test_acc": [0.101, 0.102, 0.1015], **chance},  # the seeds agree on chance
               ("res50-2d", 16): {"test_acc": [0.12, 0.09, 0.13], **chance}}
    learns = {("res50-3d", 16): {"test_acc": [0.4, 0.42, 0.41], **chance}}
    strong = {("res50-2d", 4): {"test_acc": [0.8, 0.81, 0.82], **chance}}
    assert judge("video_baseline", {"retrain": cells, "baseline": nothing}) == NOT_TESTABLE
    assert judge("video_baseline", {"retrain": cells, "baseline": {**nothing, **learns}}) == REPRODUCED
    # the strongest baseline that learns is the one to beat
    assert judge("video_baseline", {"retrain": cells, "baseline": {**nothing, **learns, **strong}}) == CONTRADICTED
    assert judge("video_baseline", {"retrain": cells, "baseline": {}}) == NOT_TESTABLE
    assert judge("video_baseline", {"transfer": cells, "baseline": learns}) == NOT_TESTABLE  # on the search's labels only
    claim = next(c for c in CLAIMS if c.key == "video_baseline")
    video = {"search": {}, "transfer": {}, "baseline": nothing, "retrain": cells}
    assert "no hand-crafted baseline learns at this scale" in claim.judge({"video": video}).reason


def test_table7_is_a_family_of_each_larger_size_against_the_one_below():
    def size(params, acc):
        return {"params": [params] * 3, "test_acc": acc}

    grows = {(1, 8, 16): size(20_000, [0.30, 0.31, 0.32]), (1, 12, 24): size(45_000, [0.40, 0.41, 0.42]),
             (1, 16, 32): size(80_000, [0.50, 0.52, 0.51])}
    flat = {**grows, (1, 16, 32): size(80_000, [0.30, 0.29, 0.31])}  # the largest falls back
    assert judge("video_net_size_1", {"sizes": {("C", "oadv"): grows}}) == REPRODUCED
    assert judge("video_net_size_2", {"sizes": {("C", "oadv"): grows}}) == REPRODUCED
    assert judge("video_net_size_2", {"sizes": {("C", "oadv"): flat}}) == CONTRADICTED
    two = {k: v for k, v in grows.items() if k != (1, 16, 32)}
    assert judge("video_net_size_1", {"sizes": {("C", "oadv"): two}}) == REPRODUCED
    assert judge("video_net_size_2", {"sizes": {("C", "oadv"): two}}) == NOT_TESTABLE
    assert judge("video_net_size_1", {"sizes": {("das", "oadv"): grows}}) == NOT_TESTABLE  # SDAS-C's cells only
    family = [c for c in CLAIMS if c.family == "table7_size"]
    assert [c.key for c in family] == ["video_net_size_1", "video_net_size_2"]
    assert all("the error rate decreases" in c.text and c.data == "Kinetics10" for c in family)


def _result(folder, **fields):
    folder.mkdir(parents=True)
    doc = {"params": 1000, "test_acc": 0.5, "seconds": 1.0,
           "dataset": "moving_digits (embedded; coarse labels, 10 motion classes)", **fields}
    (folder / "result.json").write_text(json.dumps(doc))


def test_the_report_reads_sizes_and_baseline_widths_and_older_folders(tmp_path):
    _result(tmp_path / "retrain-C-oadv-s0", K=1, C1=16, C2=32, test_acc=0.6)
    _result(tmp_path / "size_K1_C8_C16-C-oadv-s0", K=1, C1=8, C2=16, test_acc=0.4)
    _result(tmp_path / "baseline-res50-3d-w16-s0", train_acc=0.3, test_acc=0.2, num_classes=20)
    _result(tmp_path / "baseline-res50-3d-s0")  # before the widths (fine labels): not read
    older = tmp_path / "baseline-res50-2d-w4-s0"  # written before result.json held train_acc
    _result(older)
    (older / "metrics.csv").write_text("epoch,train_acc,test_acc\n1,0.2,nan\n2,0.35,0.5\n")
    results = collect_video_results(tmp_path)
    sizes = results["sizes"][("C", "oadv")]  # Table 6's retraining is one size, a size_ folder another
    assert set(results["sizes"]) == {("C", "oadv")} and set(sizes) == {(1, 16, 32), (1, 8, 16)}
    assert sizes[(1, 8, 16)]["test_acc"] == [0.4] and sizes[(1, 16, 32)]["test_acc"] == [0.6]
    assert set(results["retrain"]) == {("C", "oadv")} and results["retrain"][("C", "oadv")]["test_acc"] == [0.6]
    assert set(results["baseline"]) == {("res50-3d", 16), ("res50-2d", 4)}
    assert results["baseline"][("res50-3d", 16)]["chance"] == [0.05]  # num_classes recorded: 20
    assert results["baseline"][("res50-2d", 4)]["chance"] == [0.1]  # older: the description's 10 classes
    assert results["baseline"][("res50-2d", 4)]["train_acc"] == [0.35]  # metrics.csv's last epoch
    assert results["baseline"][("res50-3d", 16)]["train_acc"] == [0.3]
