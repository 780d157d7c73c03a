"""The weight-only warm-up (preset.warmup_iterations): α/β frozen and nothing decided for the first W
iterations, the schedule over the T that follow, resumable bit-exactly, older runs still readable."""

import csv
import dataclasses
import json

import pytest
import torch

from sdas_lib.core.history import load_history, search_cost_ratios
from sdas_lib.core.schedule import get_schedule
from sdas_lib.errors import SdasError
from sdas_lib.run.checkpoints import safe_load, save_checkpoint_file
from sdas_lib.run.folders import run_state
from sdas_lib.run.outputs import search_outputs
from sdas_lib.run.presets import MICRO
from sdas_lib.run.search import Searcher

W = 3  # the micro preset has one epoch of 7 iterations: 3 of warm-up, T = 4 scheduled
P = dataclasses.replace(MICRO, warmup_iterations=W, threads=1, checkpoint_every=2)


def quiet(preset, schedule="C", out=None, **kw):
    return Searcher(preset, schedule, seed=2, out_dir=out, progress=False, log=lambda s: None, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A warm-up search, uninterrupted, with α/β and the weights recorded at the end of iteration W."""
    seen = {}

    class Watched(Searcher):
        def w_step(self, x, y):
            loss, acc = super().w_step(x, y)
            seen.setdefault("acc", []).append(acc)
            return loss, acc

        def train_iteration(self, batch):
            if self.t == 1:
                seen["arch0"] = {n: p.detach().clone() for n, p in self.net.arch.named_parameters()}
                seen["w0"] = [w.detach().clone() for w in self.net.weights()]
            out = super().train_iteration(batch)
            if self.t == W:
                seen["archW"] = {n: p.detach().clone() for n, p in self.net.arch.named_parameters()}
                seen["wW"] = [w.detach().clone() for w in self.net.weights()]
                seen["decided"] = self.state.n_done
            return out

    folder = tmp_path_factory.mktemp("warmup") / "ref"
    result = Watched(P, "C", seed=2, out_dir=folder, progress=False, log=lambda s: None).run()
    return result, folder, seen


def test_the_warmup_trains_the_weights_alone(reference):
    result, folder, seen = reference
    assert seen["arch0"].keys() == seen["archW"].keys() and seen["arch0"]
    for name in seen["arch0"]:
        assert torch.equal(seen["arch0"][name], seen["archW"][name]), name
    assert any(not torch.equal(a, b) for a, b in zip(seen["w0"], seen["wW"]))
    assert seen["decided"] == 0


def test_the_schedule_starts_after_the_warmup_and_counts_t_from_there(reference):
    result, folder, _ = reference
    searcher = quiet(P)
    assert (searcher.W, searcher.T) == (W, 7 - W)
    M = searcher.M
    first = next(t for t in range(1, searcher.T + 1) if get_schedule("C")(t, searcher.T, M) > 0)
    assert result.history[0].iteration == first  # in scheduled iterations
    assert result.history[-1].iteration == searcher.T and len(result.history) == M
    with open(folder / "iterations.csv") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert [int(r["warmup"]) for r in rows] == [1] * W + [0] * (7 - W)
    before = [int(r["decisions_before"]) for r in rows]
    assert before[W + first - 1] == 0 and before[W + first] > 0  # decided at global iteration W + first
    history = load_history(folder)
    assert history.warmup_iterations == W and history.T == 7 - W
    doc = json.loads((folder / "decisions.json").read_text())
    assert doc["first_decision"]["iteration"] == W + first and doc["first_decision"]["scheduled_iteration"] == first


def test_the_first_decision_records_the_mean_w_train_accuracy_of_the_iterations_before_it(reference):
    _, folder, seen = reference
    record = json.loads((folder / "decisions.json").read_text())["first_decision"]
    t = record["iteration"]  # within the one epoch, so the window holds every w step up to t
    assert record["window"] == t
    assert record["train_acc"] == pytest.approx(sum(seen["acc"][:t]) / t, rel=1e-12)
    assert search_outputs(folder)["first_decision_train_acc"] == record["train_acc"]


def test_the_first_decision_accuracy_of_das_is_its_last_epochs_train_accuracy(tmp_path):
    p = dataclasses.replace(MICRO, threads=1)
    quiet(p, "das", tmp_path / "das").run()
    out = search_outputs(tmp_path / "das")
    assert out["first_decision_train_acc"] == pytest.approx(out["train_acc"], rel=1e-9)


@pytest.mark.parametrize("crash_at, resumes_at", [(3, 2), (6, 4)])  # resumed inside the warm-up, and after it
def test_a_warmup_search_resumes_to_the_same_result(reference, tmp_path, crash_at, resumes_at):
    _, ref_dir, _ = reference

    class Crash(Exception):
        pass

    class Crashing(Searcher):
        def train_iteration(self, batch):
            if self.t == crash_at:
                raise Crash
            return super().train_iteration(batch)

    out = tmp_path / "cut"
    with pytest.raises(Crash):
        Crashing(P, "C", seed=2, out_dir=out, progress=False, log=lambda s: None).run()
    resumed = quiet(P, out=out, resume=True)
    assert resumed.t == resumes_at
    resumed.run()
    for f in ("genotype.json", "decisions.json"):
        assert (out / f).read_bytes() == (ref_dir / f).read_bytes(), f


def test_a_run_made_before_the_warmup_existed_still_resumes_and_counts_as_complete(tmp_path):
    p = dataclasses.replace(MICRO, threads=1, checkpoint_every=3)
    folder = tmp_path / "old"
    quiet(p, "A", folder).run()
    ckpt = safe_load(folder / "checkpoint.pt")  # made as before the field existed
    del ckpt["config"]["preset"]["warmup_iterations"]
    for key in ("recent_train_acc", "first_decision"):
        ckpt.pop(key)
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (folder / name).unlink()
    save_checkpoint_file(folder, ckpt)
    key = Searcher.settings_key(p, 2, Searcher.key_extra("A"))
    assert run_state(folder, Searcher, key) == "complete"
    assert quiet(p, "A", folder, resume=True).finished
    # and the warm-up is part of what a run is: another warm-up does not pass for it
    other = dataclasses.replace(p, warmup_iterations=1)
    with pytest.raises(SdasError, match="warmup_iterations"):
        run_state(folder, Searcher, Searcher.settings_key(other, 2, Searcher.key_extra("A")))


def test_a_runs_state_reads_its_checkpoint_once_and_again_when_a_new_one_is_written(tmp_path, monkeypatch):
    """A sweep asks twice for every run (a second ``make run`` is mostly these reads): once per checkpoint."""
    import sdas_lib.run.checkpoints as checkpoints

    p = dataclasses.replace(MICRO, threads=1, checkpoint_every=3)
    folder = tmp_path / "run"
    quiet(p, "A", folder).run()
    key = Searcher.settings_key(p, 2, Searcher.key_extra("A"))
    reads = []
    real = checkpoints.load_checkpoint_file
    monkeypatch.setattr(checkpoints, "load_checkpoint_file", lambda *a: reads.append(a) or real(*a))
    assert run_state(folder, Searcher, key) == run_state(folder, Searcher, key) == "complete"
    assert len(reads) == 1
    ckpt = safe_load(folder / "checkpoint.pt")
    ckpt["finished"] = False
    save_checkpoint_file(folder, ckpt)  # a new checkpoint.pt (written aside, then renamed)
    assert run_state(folder, Searcher, key) == "incomplete" and len(reads) == 2


def test_an_older_decision_history_reads_with_no_warmup_and_no_first_decision(reference, tmp_path):
    _, folder, _ = reference
    doc = json.loads((folder / "decisions.json").read_text())
    for key in ("warmup_iterations", "first_decision"):
        del doc[key]
    (tmp_path / "decisions.json").write_text(json.dumps(doc))
    history = load_history(tmp_path)
    assert history.warmup_iterations == 0
    assert history.first_decision_train_acc != history.first_decision_train_acc  # NaN: not recorded


def test_a_warmup_that_leaves_nothing_to_schedule_is_refused_with_the_fix():
    with pytest.raises(SdasError, match=r"--warmup_iterations 7 leaves no iteration.*more --epochs"):
        quiet(dataclasses.replace(MICRO, warmup_iterations=7))
    with pytest.raises(SdasError, match="--warmup_iterations must not be negative"):
        quiet(dataclasses.replace(MICRO, warmup_iterations=-1))


def test_the_cost_ratio_with_warmup_is_pulled_toward_one():
    fractions = [1.0, 0.5, 0.25, 0.25]  # a schedule's mixed-edge fractions over T = 4
    plain = search_cost_ratios(fractions)
    assert plain == {"scheduled": 0.5, "whole": 0.5}
    warm = search_cost_ratios(fractions, warmup_iterations=4)
    assert warm["scheduled"] == 0.5 and warm["whole"] == pytest.approx((4 + 2.0) / 8)
    assert plain["whole"] < warm["whole"] < 1
    assert search_cost_ratios([1.0] * 4, 10)["whole"] == 1.0  # DAS: 1 with or without a warm-up
    with pytest.raises(SdasError, match="no mixed-edge fractions"):
        search_cost_ratios([], 3)


def test_the_paper_presets_follow_algorithm_1_without_a_warmup():
    from sdas_lib.run.presets import PAPER, VIDEO_PAPER

    assert PAPER.warmup_iterations == 0 and VIDEO_PAPER.warmup_iterations == 0


def test_the_report_predicts_the_whole_search_and_names_the_scheduled_phase(tmp_path):
    from sdas_lib.core.history import mixed_edge_fraction, random_walk_document
    from sdas_lib.core.space import NORMAL, REDUCE, SearchSpace
    from sdas_lib.report import predicted_cost_ratio

    doc = random_walk_document(SearchSpace("o2d", (NORMAL, REDUCE)), 20, "C", 0)
    doc["warmup_iterations"] = 20
    (tmp_path / "decisions.json").write_text(json.dumps(doc))
    mean = sum(mixed_edge_fraction(load_history(tmp_path))) / 20
    assert predicted_cost_ratio([tmp_path], "scheduled") == pytest.approx(mean)
    assert predicted_cost_ratio([tmp_path]) == pytest.approx((20 + 20 * mean) / 40)
