"""Sweeps: a grid of searches in parallel worker processes gives the genotypes of the same searches
run alone; a complete run folder is skipped untouched, a killed one resumed to the same result, a
failing run is reported with its folder while the others finish; bad CLI input writes nothing.

The searches use the micro settings of conftest.py (8x8 digits, narrow cells, one epoch of 7
iterations) with checkpoints at t = 2, 4, 6, 7; one takes seconds, plus the start of a worker process.
"""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from sdas_lib.cli import main
from sdas_lib.core.genotype import Genotype
from sdas_lib.errors import SdasError
from sdas_lib.run.faults import KILL_RUN_ENV
from sdas_lib.run.presets import TINY, TRAIN_TINY
from sdas_lib.run.search import Searcher
from sdas_lib.run.sweep import genotype_line, sweep

MICRO = dict(warmup_iterations=0, resolution=8, C1=8, C2=16, epochs=1, batch_size=96, bn_recalibration_batches=2, checkpoint_every=2)
MICRO_TRAIN = dataclasses.replace(TRAIN_TINY, K=1, C1=8, C2=16, epochs=1, batch_size=128, threads=1)
OUTPUTS = ("genotype.json", "decisions.json")


def run_sweep(schedules, seeds, out, **kwargs):
    """sweep() with the micro settings and 2 workers, no bar; returns (table, log lines)."""
    lines = []
    table = sweep(schedules, seeds, out, overrides=MICRO, jobs=2, progress=False, log=lines.append, **kwargs)
    return table, lines


def row(table, schedule, seed) -> dict:
    rows = table[(table["schedule"] == schedule) & (table["seed"] == seed)].to_dict("records")
    assert len(rows) == 1
    return rows[0]


def files(folder: Path) -> dict:
    """Every file under ``folder``: (mtime_ns, bytes)."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_run(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)  # copy2: mtimes kept


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A sweep of schedules A, C x seeds 0, 1 on 2 workers: (table, log lines, folder)."""
    out = tmp_path_factory.mktemp("sweep") / "ref"
    table, lines = run_sweep(["A", "C"], [0, 1], out)
    return table, lines, out


@pytest.mark.slow
def test_a_sweep_gives_the_genotypes_of_the_same_searches_run_alone(reference, tmp_path):
    table, lines, out = reference
    assert list(zip(table["schedule"], table["seed"])) == [("A", 0), ("A", 1), ("C", 0), ("C", 1)]
    assert list(table["status"]) == ["done"] * 4, table["error"].tolist()
    assert (table["error"] == "").all() and (table["dataset"] == "cluttered_digits").all()
    assert any(line.startswith("data: cluttered_digits (scikit-learn's 8x8 handwritten digit scans") for line in lines)
    assert lines[-1] == "sweep finished: searches 4 done"
    for r in table.to_dict("records"):
        folder = Path(r["folder"])
        assert folder == out / f"search-{r['schedule']}-s{r['seed']}"
        assert r["genotype"] == genotype_line(Genotype.load(folder / "genotype.json"))
        assert 0 <= r["test_acc_discrete"] <= 1 and r["search_seconds"] > 0
    # The same search, alone in this process: byte-identical outputs.
    alone = tmp_path / "alone"
    preset = dataclasses.replace(TINY, threads=1, **MICRO)
    Searcher(preset, "C", 1, out_dir=alone, progress=False, log=lambda s: None).run()
    for f in OUTPUTS:
        assert (alone / f).read_bytes() == (out / "search-C-s1" / f).read_bytes(), f


@pytest.mark.slow
def test_a_killed_run_is_resumed_and_complete_runs_are_left_untouched(reference, tmp_path, monkeypatch):
    _, _, ref = reference
    out = tmp_path / "sweep"
    copy_run(ref / "search-C-s0", out / "search-C-s0")  # a complete run
    untouched = files(out / "search-C-s0")
    # The worker of C-s1 dies at iteration 5 (SIGKILL, like a lost machine); its checkpoint is t = 4.
    monkeypatch.setenv(KILL_RUN_ENV, "search-C-s1=iteration:5")  # inherited by the workers (faults.py)
    table, lines = run_sweep(["C"], [0, 1], out)
    monkeypatch.delenv(KILL_RUN_ENV)
    assert list(table["status"]) == ["skipped", "failed"]
    killed = out / "search-C-s1"
    error = row(table, "C", 1)["error"]
    assert error.startswith(f"{killed}: the worker was killed by SIGKILL") and error.endswith("run the sweep again to resume it")
    assert f"  {error}" in lines and "1 failed:" in lines
    assert (killed / "checkpoint.pt").is_file() and not (killed / "genotype.json").exists()

    table, lines = run_sweep(["C"], [0, 1], out)  # the same sweep again
    assert list(table["status"]) == ["skipped", "resumed"], table["error"].tolist()
    assert "resumed at iteration 4 (epoch 1, batch 4)" in (killed / "log.txt").read_text()
    for f in OUTPUTS:
        assert (killed / f).read_bytes() == (ref / "search-C-s1" / f).read_bytes(), f
    assert row(table, "C", 1)["genotype"] == row(reference[0], "C", 1)["genotype"]
    assert files(out / "search-C-s0") == untouched  # no file rewritten, none added
    skipped = row(table, "C", 0)
    assert skipped["genotype"] == row(reference[0], "C", 0)["genotype"]
    assert skipped["test_acc_relaxed"] == row(reference[0], "C", 0)["test_acc_relaxed"]
    assert lines[-1] == "sweep finished: searches 1 resumed, 1 skipped"


@pytest.mark.slow
def test_a_failing_run_is_reported_with_its_folder_and_the_others_finish(reference, tmp_path):
    _, _, ref = reference
    out = tmp_path / "sweep"
    copy_run(ref / "search-C-s0", out / "search-C-s0")
    foreign = out / "search-C-s1"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("my notes, not a run\n")  # someone's file where a run would go
    table, lines = run_sweep(["C"], [0, 1], out, retrain=True, train_preset=MICRO_TRAIN)

    ok, bad = row(table, "C", 0), row(table, "C", 1)
    assert (ok["status"], ok["retrain_status"], ok["error"]) == ("skipped", "done", "")
    retrained = out / "retrain-C-s0"
    assert ok["retrain_folder"] == str(retrained)
    assert (retrained / "genotype.json").read_bytes() == (out / "search-C-s0" / "genotype.json").read_bytes()
    result = json.loads((retrained / "result.json").read_text())
    assert ok["params"] == result["params"] and ok["test_acc"] == result["test_acc"]
    assert bad["status"] == "failed" and bad["retrain_status"] == ""  # no search, no retraining
    assert bad["error"] == (
        f"{foreign}: {str(foreign)!r} holds files that are no run of sdas_lib (notes.txt); move them away, "
        f"or sweep into another --out"
    )
    assert lines[-3:] == ["sweep finished: searches 1 skipped, 1 failed; retrainings 1 done", "1 failed:", f"  {bad['error']}"]
    assert f"C-s1: failed: {bad['error']}" in lines
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]  # left alone
    assert not (out / "retrain-C-s1").exists()

    before = files(out)
    table, lines = run_sweep(["C"], [0, 1], out, retrain=True, train_preset=MICRO_TRAIN)  # again: nothing to run
    assert list(table["status"]) == ["skipped", "failed"] and list(table["retrain_status"]) == ["skipped", ""]
    assert row(table, "C", 0)["test_acc"] == ok["test_acc"] and row(table, "C", 1)["error"] == bad["error"]
    assert lines[0] == f"sweep: 2 jobs (C x seeds 0, 1, each searched and retrained) in {out}: nothing to run, 1 complete, 1 refused"
    assert files(out) == before


# -- the command line -------------------------------------------------------------------------------


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.mark.slow
def test_the_cli_prints_the_table_and_exits_1_when_a_run_failed(reference, tmp_path, capsys):
    _, _, ref = reference
    out = tmp_path / "sweep"
    copy_run(ref / "search-A-s1", out / "search-A-s1")
    sets = [a for k, v in MICRO.items() for a in ("--set", f"{k}={v}")]
    rc, stdout, err = cli(capsys, "sweep", "--schedules", "a", "--seeds", 1, "--out", out, "--no-progress", *sets)
    assert rc == 0, err
    header, line = stdout.splitlines()[-2:]
    assert header.split()[:5] == ["schedule", "op_set", "seed", "status", "folder"]
    assert line.split()[:5] == ["A", "o2d", "1", "skipped", str(out / "search-A-s1")]
    (out / "search-A-s0").mkdir()
    (out / "search-A-s0" / "notes.txt").write_text("x")
    rc, stdout, err = cli(capsys, "sweep", "--schedules", "A", "--seeds", 0, 1, "--out", out, "--no-progress", *sets)
    assert rc == 1
    assert re.search(r"^ +A +o2d +0 +failed .*holds files that are no run of sdas_lib \(notes.txt\)", stdout, re.M)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "colour=red"], r"^error: --set colour=red: unknown search preset field 'colour'; fields are: 'dataset', "),
        (["--set", "epochs=two"], r"^error: --set epochs=two: epochs must be an integer, got 'two'$"),
        (["--set", "epochs"], r"^error: --set 'epochs': expected FIELD=VALUE, e.g. --set epochs=2$"),
        (["--schedules", "A", "D"], r"^error: unknown schedule 'D'; choose one of: 'A', 'B', 'C', 'das'$"),
        (["--jobs", "0"], r"^error: --jobs must be a positive integer, got 0$"),
        (["--seeds"], r"^error: argument --seeds: expected at least one argument"),
        (["--set", "threads=2"], r"^error: a sweep computes each run on one torch thread \(threads=2 asked\)"),
        (["--preset", "huge"], r"^error: unknown preset 'huge'; choose one of: 'tiny', 'paper'"),
        (["--retrain", "--train-set", "colour=red"], r"^error: --train-set colour=red: unknown retraining preset field 'colour'"),
        (["--op-sets", "o3d"], r"^error: op set 'o3d' is for --task video; --task image takes --op-set o2d"),
        (["--device", "gpu"], r"^error: --device 'gpu' is not a device name; use cpu, cuda or cuda:N$"),
    ],
)
def test_bad_cli_input_is_one_error_line_status_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "sweep"
    rc, stdout, err = cli(capsys, "sweep", "--schedules", "A", "--seeds", 0, "--out", out, "--no-progress", *args)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and re.search(message, err.strip()), err
    assert stdout == "" and list(tmp_path.iterdir()) == []


def test_bad_api_input_raises_before_anything_is_written(tmp_path):
    with pytest.raises(SdasError, match="no seeds given"):
        sweep(["A"], [], tmp_path / "x", progress=False, log=lambda s: None)
    with pytest.raises(SdasError, match="unknown preset field 'colour'"):
        sweep(["A"], [0], tmp_path / "x", overrides={"colour": 1}, progress=False, log=lambda s: None)
    (tmp_path / "file").write_text("")
    with pytest.raises(SdasError, match="is a file, not a folder"):
        sweep(["A"], [0], tmp_path / "file", progress=False, log=lambda s: None)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.slow
def test_the_device_reaches_every_search_and_retraining(tmp_path):
    """``device`` goes to each run's loop: 'cpu:0' (a CPU name that is not the default) is what their logs name."""
    table, _ = run_sweep(["C"], [0], tmp_path / "s", retrain=True, train_preset=MICRO_TRAIN, device="cpu:0")
    assert row(table, "C", 0)["status"] == "done" and row(table, "C", 0)["retrain_status"] == "done"
    for folder in ("search-C-s0", "retrain-C-s0"):
        assert ", device cpu:0" in (tmp_path / "s" / folder / "log.txt").read_text().splitlines()[0], folder


def test_a_gpu_the_machine_lacks_is_refused_before_anything_is_written(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SdasError, match="no CUDA GPU; use --device cpu"):
        sweep(["A"], [0], tmp_path / "x", device="cuda", progress=False, log=lambda s: None)
    assert list(tmp_path.iterdir()) == []


# -- Table 4's random control ---------------------------------------------------------------------


@pytest.mark.slow
def test_random_cells_are_written_without_a_search_and_retrained_like_found_cells(tmp_path):
    from sdas_lib.core.random_cells import random_genotype
    from sdas_lib.run.search import search_space

    out = tmp_path / "s"
    table, lines = run_sweep(["random"], [0, 1], out, retrain=True, train_preset=MICRO_TRAIN)
    preset = dataclasses.replace(TINY, **MICRO)
    for seed in (0, 1):
        r = row(table, "random", seed)
        folder = out / f"search-random-s{seed}"
        assert (r["status"], r["retrain_status"], r["error"]) == ("done", "done", "")
        assert sorted(p.name for p in folder.iterdir()) == ["config.json", "genotype.json"]  # no search ran
        assert json.loads((folder / "config.json").read_text())["schedule"] == "random"
        assert Genotype.load(folder / "genotype.json") == random_genotype(search_space(preset), seed)
        assert r["search_seconds"] == 0 and r["test_acc_discrete"] != r["test_acc_discrete"]  # NaN: no search weights
        retrained = out / f"retrain-random-s{seed}"
        assert (retrained / "genotype.json").read_bytes() == (folder / "genotype.json").read_bytes()
        assert r["test_acc"] == json.loads((retrained / "result.json").read_text())["test_acc"]
    assert row(table, "random", 0)["genotype"] != row(table, "random", 1)["genotype"]

    before = files(out)
    again, _ = run_sweep(["random"], [0, 1], out, retrain=True, train_preset=MICRO_TRAIN)
    assert list(again["status"]) == ["skipped", "skipped"] and files(out) == before
    random_genotype(search_space(preset), 5).save(out / "search-random-s1" / "genotype.json")  # another cell
    third, _ = run_sweep(["random"], [0, 1], out)
    assert list(third["status"]) == ["skipped", "failed"] and "not this sweep's random cell" in third["error"][1]
