"""The decision history of a real (tiny) search: decisions.json loads, replays step by step from the
stored α/β, and is refused clearly when it is of an unknown version or malformed."""

import copy
import dataclasses
import json
import math
import statistics
from types import SimpleNamespace

import pytest

from sdas_lib.cli import main
from sdas_lib.core.discretization import DiscretizationState, make_decision, softmax
from sdas_lib.core.history import History, counts_at, load_history, mixed_edge_fraction, random_walk_document, replay
from sdas_lib.core.space import IMAGE_SPACE, SearchSpace
from sdas_lib.errors import SdasError
from sdas_lib.run.presets import TINY
from sdas_lib.run.search import Searcher

# conftest's micro_preset, repeated here because that fixture is function-scoped and the recorded
# run below is made once per module.
MICRO = dataclasses.replace(
    TINY, warmup_iterations=0, resolution=8, C1=8, C2=16, epochs=1, batch_size=96, bn_recalibration_batches=2, checkpoint_every=3, threads=1
)
ONE_CELL = 1_037_664_180  # C(2,2)·C(3,2)·C(4,2)·C(5,2)·7^8 (Table 1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A recorded schedule-A search of a few seconds: its folder, space and result."""
    out = tmp_path_factory.mktemp("history") / "run"
    searcher = Searcher(MICRO, "A", seed=0, out_dir=out, progress=False, log=lambda s: None)
    result = searcher.run()
    return SimpleNamespace(out=out, space=searcher.space, result=result, T=searcher.T, M=searcher.M)


@pytest.fixture(scope="module")
def history(run):
    return load_history(run.out / "decisions.json")


@pytest.fixture(scope="module")
def steps(history):
    return list(replay(history))


def doc_of(run) -> dict:
    """A fresh copy of the recorded JSON document, free to be changed."""
    return json.loads((run.out / "decisions.json").read_text())


def where(d):
    """(cell type, kind, edge or node) of a decision."""
    return (d.cell_type, d.kind, d.edge if d.kind == "edge" else d.node)


def where_candidate(c, space):
    return (c.cell_type, c.kind, space.edges[c.index] if c.kind == "edge" else c.index)


# -- the recorded run loads ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["file", "folder"])
def test_recorded_run_loads_with_its_space_decisions_and_meta(run, which):
    h = load_history(run.out / "decisions.json" if which == "file" else run.out)
    assert isinstance(h, History) and h.version == 2
    assert h.space == run.space == IMAGE_SPACE
    assert SearchSpace.from_dict(h.space.to_dict()) == h.space
    assert len(h.decisions) == run.M == 36
    assert h.decisions == tuple(run.result.history)  # exact: floats survive the JSON round trip
    assert h.meta["schedule"] == "A" and h.meta["seed"] == 0 and h.meta["M"] == 36
    assert h.meta["T"] == h.T == run.T == 7
    assert h.meta["epochs"] == h.epochs == MICRO.epochs  # written by the Searcher: an iteration reads as an epoch
    assert h.meta["preset"] == "tiny" and h.meta["dataset"] == run.result.dataset
    # One α/β snapshot per iteration that made decisions; replaying the decisions gives the genotype.
    assert sorted(h.snapshots) == sorted({d.iteration for d in h.decisions})
    assert DiscretizationState.from_history(h.space, h.decisions).genotype() == run.result.genotype


# -- replay --------------------------------------------------------------------------------------


def test_replay_has_m_plus_one_steps_ending_fully_decided(history, steps):
    M = history.space.total_decisions
    assert len(steps) == M + 1
    assert [s.step for s in steps] == list(range(M + 1))
    assert [s.state.n_done for s in steps] == list(range(M + 1))
    last = steps[-1]
    assert last.valid_architectures == 1 and last.queue == () and last.next_decision is None
    assert last.state.complete and last.iteration == history.decisions[-1].iteration


def test_first_candidate_of_every_queue_is_the_recorded_decision(history, steps):
    for i, d in enumerate(history.decisions):
        step = steps[i]
        assert step.next_decision == d and step.iteration == d.iteration
        q0 = step.queue[0]
        assert where_candidate(q0, history.space) == where(d), f"step {i}"
        alpha, beta = history.arch_at(d.iteration)
        made = make_decision(step.state, q0, alpha, beta, d.iteration)
        assert made.choice == d.choice, f"step {i}: {made.describe()} vs {d.describe()}"
        # Everything else recorded is recomputed too (the count and median are filled in by decide()).
        assert made == dataclasses.replace(d, valid_architectures=0, median_priority=None), f"step {i}"
        others = [c.priority for c in step.queue[1:] if not math.isinf(c.priority)]
        assert d.median_priority == (statistics.median(others) if others else None)
        prios = [c.priority for c in step.queue]
        assert prios == sorted(prios, reverse=True)


def test_counts_follow_the_recorded_ones_and_never_rise(history, steps):
    counts = [s.valid_architectures for s in steps]
    assert counts[0] == ONE_CELL**2
    for i in range(1, len(steps)):
        assert counts[i] == history.decisions[i - 1].valid_architectures
    assert all(a >= b for a, b in zip(counts, counts[1:]))
    assert counts[-1] == 1


def test_undecided_edges_are_those_not_decided_and_alive(history, steps):
    space = history.space
    n_ops = space.n_ops
    for i, step in enumerate(steps):
        done = history.decisions[:i]  # worked out from the decisions, not from the replay's state
        decided_edges = {(d.cell_type, d.edge) for d in done if d.kind == "edge"}
        kept = {(d.cell_type, d.node): d.choice for d in done if d.kind == "node"}
        expected = {
            (ct, (j, n)) for ct in space.cell_type_names for (j, n) in space.edges
            if (ct, (j, n)) not in decided_edges and ((ct, n) not in kept or j in kept[(ct, n)])
        }
        got = [(v.cell_type, v.edge) for v in step.edges]
        assert len(got) == len(set(got)) and set(got) == expected, f"step {i}"
        if step.next_decision is None:
            continue
        alpha, beta = history.arch_at(step.iteration)
        for v in step.edges:
            assert len(v.weights) == n_ops and min(v.weights) >= 0
            assert sum(v.weights) == pytest.approx(1.0, abs=1e-12)
            e = space.edges.index(v.edge)
            assert v.weights == pytest.approx(softmax(alpha[v.cell_type][e]))
            assert v.beta == pytest.approx(1 / (1 + math.exp(-beta[v.cell_type][e])))


def test_replay_recomputes_the_queue_from_the_stored_alpha(run, history, steps):
    space = history.space
    # A step whose first candidate has a finite priority (no forced node waits), with another
    # undecided edge behind it.
    i, target = next(
        (i, c) for i, s in enumerate(steps[:-1]) if not math.isinf(s.queue[0].priority)
        for c in reversed(s.queue[1:]) if c.kind == "edge"
    )
    d = history.decisions[i]
    doc = doc_of(run)
    snap = next(s for s in doc["snapshots"] if s["iteration"] == d.iteration)
    row = snap["alpha"][target.cell_type][target.index]
    column = min(range(len(row)), key=lambda c: (row[c], c))  # not the current argmax
    row[column] = 50.0  # now by far the most confident edge of that iteration
    perturbed = History.from_dict(copy.deepcopy(doc))
    assert perturbed.decisions == history.decisions  # the record itself is unchanged
    new = list(replay(perturbed))
    q0 = new[i].queue[0]
    assert (q0.cell_type, q0.kind, q0.index) == (target.cell_type, "edge", target.index)
    assert q0.priority > 0.99 and new[i].queue != steps[i].queue
    assert where_candidate(q0, space) != where(d)  # so the queue no longer starts with decision i
    alpha, beta = perturbed.arch_at(d.iteration)
    assert make_decision(new[i].state, q0, alpha, beta, d.iteration).choice == space_op(space, column)
    # Steps of earlier iterations read other snapshots and do not change.
    for s_old, s_new in zip(steps, new):
        if s_old.iteration < d.iteration:
            assert s_new.queue == s_old.queue


def space_op(space, column):
    from sdas_lib.core.opsets import op_set_info

    return op_set_info(space.op_set).names[column]


# -- versions and malformed documents ---------------------------------------------------------


def version1_doc(run) -> dict:
    recorded = doc_of(run)
    return {
        "schedule": "A", "seed": 0, "preset": "tiny", "dataset": recorded["dataset"], "T": recorded["T"], "M": 36,
        "op_set": "o2d", "cell_types": ["normal", "reduce"], "edges": [list(e) for e in IMAGE_SPACE.edges],
        "decisions": recorded["decisions"],
    }


@pytest.mark.parametrize("explicit", [False, True], ids=["no-version-key", "version-1"])
def test_version_1_loads_but_cannot_replay(run, history, tmp_path, explicit):
    doc = version1_doc(run)
    if explicit:
        doc["version"] = 1
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps(doc))
    h = load_history(path)
    assert h.version == 1 and h.snapshots is None and h.space == IMAGE_SPACE
    assert h.decisions == history.decisions and h.T == history.T and h.meta["schedule"] == "A"
    with pytest.raises(SdasError, match="version 1") as err:
        list(replay(h))
    assert "no α/β" in str(err.value)


def test_version_1_of_another_space_is_refused(run):
    doc = dict(version1_doc(run), cell_types=["normal"])
    with pytest.raises(SdasError, match="not an image search"):
        History.from_dict(doc)


def test_a_newer_version_is_refused_naming_it(run, tmp_path):
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps(dict(doc_of(run), version=99)))
    with pytest.raises(SdasError, match="version 99") as err:
        load_history(path)
    assert "upgrade" in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("version", [0, "two", None])
def test_a_nonsense_version_is_refused(run, version):
    with pytest.raises(SdasError, match="version"):
        History.from_dict(dict(doc_of(run), version=version))


def test_a_decision_on_a_missing_edge_is_refused(run):
    doc = doc_of(run)
    first_edge = next(d for d in doc["decisions"] if d["kind"] == "edge")
    assert first_edge["step"] == 0  # replayed first, so the error is about this row
    first_edge["edge"] = [7, 2]
    with pytest.raises(SdasError, match=r"edge \(7, 2\), which is not in the cell"):
        History.from_dict(doc)


def test_a_document_without_decisions_is_refused(run):
    doc = doc_of(run)
    del doc["decisions"]
    with pytest.raises(SdasError, match="no 'decisions' list"):
        History.from_dict(doc)


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "decisions.json"
    path.write_text("{this is not json")
    with pytest.raises(SdasError, match="not a readable JSON file") as err:
        load_history(path)
    assert str(path) in str(err.value)
    with pytest.raises(SdasError, match="does not exist"):
        load_history(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda doc: doc.update(format="sdas-genotype"), "has format 'sdas-genotype'"),
        (lambda doc: doc.update(decisions={"0": 1}), "'decisions' must be a list of objects"),
        (lambda doc: doc["decisions"].append(7), "'decisions' must be a list of objects"),
        (lambda doc: doc["decisions"].reverse(), "out of order"),
        (lambda doc: doc["decisions"][0].pop("kind"), "malformed decision history row"),
        (lambda doc: doc.pop("space"), "malformed search space"),
        (lambda doc: doc.update(snapshots="everything"), "'snapshots' of type str"),
        (lambda doc: doc["snapshots"][0].pop("beta"), "malformed α/β snapshot"),
        (lambda doc: doc["snapshots"][0]["alpha"].pop("reduce"), "snapshot at iteration 1: cell type 'reduce'"),
        (lambda doc: doc["snapshots"][0]["alpha"]["normal"][3].pop(), "needs α of 14x7"),
        (lambda doc: doc["snapshots"][0]["beta"]["normal"].__setitem__(0, "x"), "finite numbers"),
    ],
    ids=["format", "decisions-dict", "decision-not-object", "order", "row-key", "space", "snapshots-type",
         "snapshot-key", "snapshot-cell-type", "alpha-shape", "beta-value"],
)
def test_malformed_documents_give_a_clear_error(run, change, message):
    doc = doc_of(run)
    assert doc["snapshots"][0]["iteration"] == 1
    change(doc)
    with pytest.raises(SdasError, match=message):
        History.from_dict(doc)


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["file", "folder"])
def test_count_prints_the_count_after_each_decision(run, history, capsys, which):
    path = run.out / "decisions.json" if which == "file" else run.out
    assert main(["count", "--history", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"normal + reduce together: {ONE_CELL**2:,}" in out
    lines = out.splitlines()
    header = next(n for n, line in enumerate(lines) if line.split()[:2] == ["step", "t/T"])
    rows = [line.split() for line in lines[header + 1:] if line.strip()]
    assert [int(r[0]) for r in rows] == list(range(1, 37))
    assert [r[-1] for r in rows] == [f"{d.valid_architectures:.4g}" for d in history.decisions]
    assert rows[-1][-1] == "1"


def test_count_of_a_broken_history_is_one_error_line(tmp_path, capsys):
    path = tmp_path / "decisions.json"
    path.write_text("[]")
    assert main(["count", "--history", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no 'decisions' list" in err and len(err.strip().splitlines()) == 1


def test_counts_at_fractions_of_T_follow_the_decisions_made_by_then(history):
    from sdas_lib.core.counting import count_cell_architectures
    from sdas_lib.core.paper import TABLE1_SDAS_A

    rows = counts_at(history, sorted(TABLE1_SDAS_A))
    assert rows[0] == {"t/T": 0.0, "t": 0, "decisions": 0, "valid_architectures": ONE_CELL**2}
    assert rows[-1]["t"] == history.T and rows[-1]["valid_architectures"] == 1 and rows[-1]["decisions"] == 36
    for row in rows:
        made = [d for d in history.decisions if d.iteration <= row["t"]]
        assert row["decisions"] == len(made)
        assert row["valid_architectures"] == (made[-1].valid_architectures if made else ONE_CELL**2)
    normal = counts_at(history, [0.0, 1.0], cell_type="normal")
    assert [r["valid_architectures"] for r in normal] == [ONE_CELL, 1]


def test_mixed_edge_fraction_counts_the_edges_undecided_during_each_iteration(history):
    fractions = mixed_edge_fraction(history)
    assert len(fractions) == history.T and fractions[0] == 1.0  # nothing is decided before iteration 1
    for t, f in enumerate(fractions, start=1):
        decided = sum(d.kind == "edge" and d.iteration < t for d in history.decisions)
        assert f == (28 - decided) / 28
    assert all(a >= b for a, b in zip(fractions, fractions[1:]))


def test_a_random_walk_history_replays_like_a_recorded_one():
    from sdas_lib.core.history import random_walk_document
    from sdas_lib.core.space import IMAGE_SPACE

    h = History.from_dict(random_walk_document(IMAGE_SPACE, 10, "C", seed=3))
    assert len(h.decisions) == 36 and h.T == 10 and h.decisions[-1].iteration == 10
    for step in replay(h):
        if step.next_decision is not None:
            first = step.queue[0]
            assert (first.cell_type, first.kind) == (step.next_decision.cell_type, step.next_decision.kind)


def test_kept_edge_scales_are_the_weights_eq1_replaces_by_one():
    """Each kept edge's supernet weight just before its node's decision: softmax(α)_op · sigmoid(β) from
    that iteration's snapshot, with the op weight 1 when the edge was decided at an earlier iteration."""
    import math

    from sdas_lib.core.history import History, kept_edge_scales, random_walk_document
    from sdas_lib.core.opsets import op_set_info
    from sdas_lib.core.space import IMAGE_SPACE

    names = op_set_info(IMAGE_SPACE.op_set).names
    for schedule in ("das", "C"):
        h = History.from_dict(random_walk_document(IMAGE_SPACE, 10, schedule, seed=4))
        scales = kept_edge_scales(h)
        assert len(scales) == 2 * 4 * 2  # two cell types, four nodes, k = 2 kept edges each
        edge_at = {(d.cell_type, tuple(d.edge)): d for d in h.decisions if d.kind == "edge"}
        for row in scales:
            alpha, beta = h.arch_at(row["iteration"])
            e = IMAGE_SPACE.edges.index(row["edge"])
            decided = edge_at[(row["cell_type"], row["edge"])]
            assert row["op"] == decided.choice
            sig = 1 / (1 + math.exp(-beta[row["cell_type"]][e]))
            if decided.iteration < row["iteration"]:
                assert row["op_weight"] == 1.0
            else:
                a = alpha[row["cell_type"]][e]
                soft = math.exp(a[names.index(row["op"])]) / sum(math.exp(v) for v in a)
                assert row["op_weight"] == pytest.approx(soft)
            assert row["sigmoid_beta"] == pytest.approx(sig) and row["scale"] == pytest.approx(row["op_weight"] * sig)
        if schedule == "das":  # every decision at t = T: every kept edge still mixed, weight < 1
            assert all(r["iteration"] == 10 and r["op_weight"] < 1 for r in scales)
        else:
            assert any(r["op_weight"] == 1.0 for r in scales)


def test_epochs_are_optional_and_read_an_iteration_as_its_epoch():
    doc = random_walk_document(IMAGE_SPACE, 12, "C", seed=2, epochs=4)  # 3 iterations per epoch
    h = History.from_dict(doc)
    assert h.epochs == 4 and [h.epoch_of(t) for t in (1, 3, 4, 12)] == [1, 1, 2, 4]
    old = dict(doc)
    del old["epochs"]  # a decisions.json written before epochs were recorded still loads
    h_old = History.from_dict(old)
    assert h_old.epochs is None and h_old.epoch_of(5) is None and h_old.decisions == h.decisions
    with pytest.raises(SdasError, match="'epochs'"):
        History.from_dict({**doc, "epochs": "four"})
    warm = History.from_dict({**doc, "warmup_iterations": 6, "epochs": 6})  # 18 iterations: 6 of warm-up, T = 12
    assert [warm.epoch_of(t) for t in (1, 3, 4, 12)] == [3, 3, 4, 6]  # scheduled t = 1 is iteration 7, epoch 3


def test_the_decision_curve_is_m_t_as_the_history_made_it():
    h = History.from_dict(random_walk_document(IMAGE_SPACE, 12, "C", seed=2))
    curve = h.decision_curve()
    assert curve[0] == (0, 0) and curve[-1] == (h.decisions[-1].iteration, len(h.decisions))
    for t, m in curve:
        assert m == h.decisions_made_by(t) == sum(d.iteration <= t for d in h.decisions)
    assert [t for t, _ in curve[1:]] == sorted({d.iteration for d in h.decisions})
