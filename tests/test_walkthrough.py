"""Algorithm 1 stopped between its lines (notebook 03), and one search run live into the sweep's folder."""

import pytest
import torch

from sdas_lib.errors import SdasError
from sdas_lib.run.walkthrough import AlgorithmSteps, ops_computed


def test_each_step_moves_only_what_its_lines_say(micro_preset):
    steps = AlgorithmSteps(micro_preset, "C", 0)
    alpha0, _ = steps.arch()
    weights0 = [w.detach().clone() for w in steps.searcher.net.weights()]
    with pytest.raises(SdasError, match="w_step"):
        steps.arch_step()  # Algorithm 1 alternates: a w step first
    steps.w_step()  # lines 5-7: the weights move, α does not
    assert all(torch.equal(a, steps.arch()[0][c]) for c, a in alpha0.items())
    assert any(not torch.equal(w0, w) for w0, w in zip(weights0, steps.searcher.net.weights()))
    steps.arch_step()  # lines 8-11: α moves, a little
    change = steps.softmax_change("normal")
    assert 0 < change.abs().max() < 0.05 and torch.allclose(change.sum(1), torch.zeros(len(change)), atol=1e-6)
    assert steps.iterations == 1 and len(steps.iterate(2)) == 2 and steps.iterations == 3


def test_a_decision_is_the_queue_head_and_deletes_its_other_ops(micro_preset):
    steps = AlgorithmSteps(micro_preset, "A", 0)
    steps.iterate(2)
    head = steps.queue(1)[0]
    before = ops_computed(steps.searcher.net)
    pruning = steps.decide()
    d = pruning.decision
    assert d.kind == "edge" and head.startswith(f"{d.cell_type} edge {d.edge[0]}->{d.edge[1]}: {d.choice}")
    cells = sum(cell.cell_type == d.cell_type for cell in steps.searcher.net.cells)
    assert pruning.ops_computed == (before, before - 6 * cells)  # 7 ops -> 1 on that edge of every such cell
    assert pruning.optimizer_tensors[0] - pruning.optimizer_tensors[1] == pruning.tensors_removed > 0
    assert pruning.weights_removed > 0 and head not in steps.queue(5)  # decided: out of the queue


def test_a_warm_up_and_an_exhausted_queue_are_refused_with_the_reason(micro_preset):
    import dataclasses

    with pytest.raises(SdasError, match="warmup_iterations=0"):
        AlgorithmSteps(dataclasses.replace(micro_preset, warmup_iterations=2))
    steps = AlgorithmSteps(micro_preset, "A", 0)
    steps.w_step()
    steps.arch_step()
    for _ in range(steps.searcher.M):
        steps.decide()
    assert steps.queue() == [] and steps.searcher.state.n_done == steps.searcher.M
    with pytest.raises(SdasError, match="all 36 decisions are made"):
        steps.decide()


def test_a_live_search_lands_where_the_sweep_reads_it(micro_preset, tmp_path):
    from sdas_lib.run.sweep import live_search, sweep

    lines = []
    first = live_search("C", 0, tmp_path, preset=micro_preset, log=lines.append)
    assert first["status"] == "done" and first["folder"] == str(tmp_path / "search-C-s0")
    assert len(first["metrics"]) == micro_preset.epochs and "train_acc" in first["metrics"][0]
    again = live_search("C", 0, tmp_path, preset=micro_preset, log=lines.append)
    assert again["status"] == "skipped" and again["genotype"] == first["genotype"]
    runs = sweep(["C"], [0], tmp_path, preset=micro_preset, jobs=1, progress=False, log=lines.append)
    assert list(runs["status"]) == ["skipped"]  # the sweep reads the live search, it does not run it again
    with pytest.raises(SdasError, match="'random'"):
        live_search("random", 0, tmp_path, preset=micro_preset)
