import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from sdas_lib.core.genotype import Genotype
from sdas_lib.core.history import load_history
from sdas_lib.core.schedule import get_schedule
from sdas_lib.run.search import Searcher
from sdas_lib.core.space import IMAGE_SPACE


@pytest.mark.parametrize(
    "schedule", [pytest.param(s, marks=pytest.mark.slow) for s in ("A", "B", "das")] + ["C"]
)
def test_end_to_end_search_is_fully_discretized_with_M_history_rows(micro_preset, schedule, tmp_path):
    out = tmp_path / schedule
    searcher = Searcher(micro_preset, schedule, seed=0, out_dir=out, progress=False, log=lambda s: None)
    res = searcher.run()
    assert len(res.history) == IMAGE_SPACE.total_decisions == 36
    # The schedule is followed at every iteration: decisions made by the end of iteration t = M_t.
    T, M, f = searcher.T, searcher.M, get_schedule(schedule)
    assert T == micro_preset.epochs * searcher.iters_per_epoch and M == 36
    made_by = [sum(d.iteration <= t for d in res.history) for t in range(T + 1)]
    assert made_by == [f(t, T, M) for t in range(T + 1)]
    assert [d.step for d in res.history] == list(range(36))
    assert res.history[-1].valid_architectures == 1
    g = Genotype.load(out / "genotype.json", cell_types=("normal", "reduce"))
    assert g == res.genotype
    hist = load_history(out / "decisions.json")
    rows = hist.decisions
    assert len(rows) == 36 and hist.meta["schedule"] == schedule and "digits" in hist.meta["dataset"]
    assert hist.T == T
    iters = [d.iteration for d in rows]
    assert iters == sorted(iters) and iters[-1] == T  # the last decision comes at t = T
    if schedule == "das":
        assert set(iters) == {T}
    else:
        assert iters[0] < T
    with open(out / "metrics.csv") as f:
        metrics = list(csv.DictReader(f))
    assert len(metrics) == micro_preset.epochs and int(metrics[-1]["decisions"]) == 36
    assert int(metrics[-1]["valid_architectures"]) == 1
    assert "digits" in (out / "log.txt").read_text()


@pytest.mark.slow
def test_decided_alpha_rows_stay_at_their_decision_values(micro_preset):
    s = Searcher(micro_preset, "A", seed=1, progress=False, log=lambda s: None)
    s.run()
    for d in s.state.history:
        if d.kind == "edge":
            row = s.net.arch.alpha[d.cell_type][IMAGE_SPACE.edges.index(d.edge)]
            torch.testing.assert_close(row.double(), torch.tensor(d.alpha, dtype=torch.float64), rtol=0, atol=1e-7)


def test_arch_step_computes_no_weight_gradient_and_w_step_none_for_alpha_beta(micro_preset):
    s = Searcher(micro_preset, "C", seed=0, out_dir=None, progress=False, log=lambda s: None)
    xw, yw = s.to_device(*next(iter(s.w_batches.iterate(0))))
    xa, ya = s.to_device(*next(iter(s.a_batches.iterate(0))))
    weights, arch = s.net.weights(), list(s.net.arch.parameters())
    assert len(weights) > 0 and len(arch) == 4
    assert {id(p) for p in weights}.isdisjoint(id(p) for p in arch)
    s.w_step(xw, yw)  # leaves weight gradients behind: clear them so that the check can fail
    for p in weights:
        p.grad = None
    assert s.arch_step(xa, ya) is not None
    assert all(p.grad is None for p in weights), [n for n, p in s.net.named_parameters() if p.grad is not None][:3]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in arch)  # it did compute α/β gradients
    for p in arch:  # clear them so that the next check can fail
        p.grad = None
    s.w_step(xw, yw)
    assert all(p.grad is None for p in arch)
    assert all(p.grad is not None for p in weights)  # it did compute the weight gradients


@pytest.mark.slow
def test_same_seed_gives_byte_identical_genotype_and_history(micro_preset, tmp_path):
    for name in ("r1", "r2"):
        Searcher(micro_preset, "C", seed=3, out_dir=tmp_path / name, progress=False, log=lambda s: None).run()
    for f in ("genotype.json", "decisions.json"):
        assert (tmp_path / "r1" / f).read_bytes() == (tmp_path / "r2" / f).read_bytes()


@pytest.mark.slow
def test_arch_step_has_nothing_to_do_once_all_is_decided(micro_preset):
    s = Searcher(micro_preset, "C", seed=0, progress=False, log=lambda s: None)
    s.run()
    assert s.net.arch.learnable(s.state) == []
    x, y = next(s.a_batches.iterate(0))
    assert s.arch_step(x, y) is None


@pytest.mark.slow
def test_cli_search_and_count(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "sdas_lib", "search", "--preset", "tiny", "--schedule", "B", "--out", str(out),
           "--epochs", "1", "--warmup_iterations", "0", "--resolution", "8", "--C1", "8", "--C2", "16", "--batch-size", "96", "--threads", "1", "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "data: cluttered_digits (scikit-learn's 8x8 handwritten digit scans" in r.stdout  # the tiny default
    assert json.loads((out / "config.json").read_text())["preset"]["C2"] == 16
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "already holds files; use --resume" in r.stderr
    r = subprocess.run([sys.executable, "-m", "sdas_lib", "count", "--history", str(out / "decisions.json")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "1,037,664,180" in r.stdout and "1,076,746,950,455,072,400" in r.stdout
    assert r.stdout.rstrip().endswith(" 1")  # one valid architecture after the last decision


@pytest.mark.slow
def test_iteration_times_are_written_with_the_load_and_survive_a_resume(micro_preset, tmp_path):
    out = tmp_path / "run"
    s = Searcher(micro_preset, "C", seed=0, out_dir=out, progress=False, log=lambda s: None)
    s.run()
    lines = (out / "iterations.csv").read_text().splitlines()
    assert lines[0].startswith("# cpu_count=") and lines[1] == "iteration,decisions_before,seconds,load_average,cpu_seconds,warmup"
    rows = [line.split(",") for line in lines[2:]]
    assert [int(r[0]) for r in rows] == list(range(1, s.T + 1))
    made_by = {t: sum(d.iteration < t for d in s.state.history) for t in range(1, s.T + 1)}
    assert [int(r[1]) for r in rows] == [made_by[t] for t in range(1, s.T + 1)]  # decisions before iteration t
    assert all(float(r[2]) > 0 and float(r[4]) > 0 for r in rows)  # wall and CPU seconds of each iteration
    assert all(r[5] == "0" for r in rows)  # no warm-up: every iteration scheduled
    resumed = Searcher(micro_preset, "C", seed=0, out_dir=out, resume=True, progress=False, log=lambda s: None)
    assert [row[:2] for row in resumed.iteration_seconds] == [(t, made_by[t]) for t in range(1, s.T + 1)]
    from sdas_lib.run.search import read_iteration_times

    read, cpus = read_iteration_times(out)
    assert cpus == os.cpu_count() and [r["iteration"] for r in read] == list(range(1, s.T + 1))
