"""Recovery of a planted cell (core/recovery.py), on hand-made genotypes."""


import pytest

from sdas_lib.core.genotype import Genotype
from sdas_lib.core.random_cells import random_genotype
from sdas_lib.core.recovery import decision_correct, op_level, recovery, recovery_over_iterations
from sdas_lib.core.space import IMAGE_SPACE
from sdas_lib.errors import SdasError

# node 2 reads 0, 1; node 3 reads 0, 2; node 4 reads 1, 3; node 5 reads 2, 4
PLANTED_NODES = [
    [("sep_conv_3x3", 0), ("max_pool_3x3", 1)],
    [("skip_connect", 0), ("dil_conv_3x3", 2)],
    [("avg_pool_3x3", 1), ("sep_conv_5x5", 3)],
    [("sep_conv_3x3", 2), ("skip_connect", 4)],
]


def geno(normal, reduce=None):
    return Genotype.from_cells("o2d", {"normal": normal, "reduce": reduce or normal})


PLANTED = geno(PLANTED_NODES)


def test_the_planted_cell_recovers_itself_fully():
    r = recovery(PLANTED, PLANTED)
    assert (r.topology, r.op, r.both) == (1.0, 1.0, 1.0)
    assert r.n_edges == 16


def test_ops_of_the_same_kind_count_as_recovered_at_kind_level_only():
    # every conv replaced by another conv, every pool by the other pool: same kinds, other names
    swapped = geno([
        [("dil_conv_5x5", 0), ("avg_pool_3x3", 1)],
        [("skip_connect", 0), ("sep_conv_3x3", 2)],
        [("max_pool_3x3", 1), ("dil_conv_3x3", 3)],
        [("sep_conv_5x5", 2), ("skip_connect", 4)],
    ])
    assert recovery(PLANTED, swapped, "kind").both == 1.0
    exact = recovery(PLANTED, swapped, "op")
    assert exact.topology == 1.0 and exact.both == pytest.approx(2 / 8)  # only the two skips keep their names
    assert op_level("o2d", "sep_conv_5x5") == op_level("o2d", "dil_conv_3x3") == "conv"


def test_topology_and_ops_are_scored_apart():
    # node 5 reads 0, 1 instead of 2, 4 (two planted edges lost); node 2's pool becomes a conv
    found = geno([
        [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)],
        PLANTED_NODES[1], PLANTED_NODES[2],
        [("sep_conv_3x3", 0), ("skip_connect", 1)],
    ])
    r = recovery(PLANTED, found, cell_types=["normal"])
    assert r.topology == pytest.approx(6 / 8)
    assert r.op == pytest.approx(5 / 6)  # of the 6 kept planted edges, one has the wrong kind
    assert r.both == pytest.approx(5 / 8)


def test_chance_levels_are_exact():
    r = recovery(PLANTED, PLANTED, cell_types=["normal"])
    # an edge into node i is kept with probability k / i = 2 / i; two planted edges per node
    assert r.chance_topology == pytest.approx((1 + 2 / 3 + 1 / 2 + 2 / 5) / 4)
    # kinds of the planted ops: conv 4/7, pool 2/7, identity 1/7
    kinds = [4, 2, 1, 4, 2, 4, 4, 1]
    assert r.chance_op == pytest.approx(sum(kinds) / 7 / 8)
    p_kept = [1, 1, 2 / 3, 2 / 3, 1 / 2, 1 / 2, 2 / 5, 2 / 5]
    assert r.chance_both == pytest.approx(sum(p * c / 7 for p, c in zip(p_kept, kinds)) / 8)


def test_chance_levels_match_the_random_cells_of_the_space():
    # the mean recovery of many uniform random cells approaches the exact chance level
    draws = [recovery(PLANTED, random_genotype(IMAGE_SPACE, s)) for s in range(600)]
    r = recovery(PLANTED, PLANTED)
    for m in ("topology", "both"):
        mean = sum(getattr(d, m) for d in draws) / len(draws)
        assert mean == pytest.approx(getattr(r, f"chance_{m}"), abs=0.03)


def test_decisions_are_marked_right_or_wrong():
    assert decision_correct({"cell_type": "normal", "kind": "node", "node": 4, "choice": [3, 1]}, PLANTED)
    assert not decision_correct({"cell_type": "normal", "kind": "node", "node": 4, "choice": [0, 1]}, PLANTED)
    edge = {"cell_type": "normal", "kind": "edge", "edge": [1, 2], "choice": "avg_pool_3x3"}
    assert decision_correct(edge, PLANTED) is True and decision_correct(edge, PLANTED, "op") is False
    assert decision_correct({**edge, "choice": "sep_conv_3x3"}, PLANTED) is False
    assert decision_correct({**edge, "edge": [0, 5]}, PLANTED) is None  # not a planted edge: not judged


def test_recovery_over_iterations_counts_decisions_as_they_are_made():
    ds = [
        {"cell_type": "normal", "kind": "edge", "edge": [0, 2], "choice": "sep_conv_5x5", "iteration": 1},
        {"cell_type": "normal", "kind": "edge", "edge": [1, 2], "choice": "skip_connect", "iteration": 3},
        {"cell_type": "normal", "kind": "edge", "edge": [0, 5], "choice": "skip_connect", "iteration": 3},
    ]
    rows = recovery_over_iterations(ds, PLANTED, T=5)
    assert [r["judged"] for r in rows] == [0, 1, 1, 2, 2, 2]  # t = 0 .. T; iterations count from 1
    assert [r["right"] for r in rows] == [0, 1, 1, 1, 1, 1]
    assert rows[0]["fraction"] == 0 and rows[-1]["fraction"] == 1
    assert rows[-1]["chance_right"] == pytest.approx(4 / 7 + 2 / 7)


def test_mismatched_genotypes_are_refused_with_the_fix():
    video = Genotype.from_cells("video_o2d", {"normal": [[("skip_connect", 0), ("skip_connect", 1)]]})
    with pytest.raises(SdasError, match="op set"):
        recovery(PLANTED, video)
    with pytest.raises(SdasError, match="op level"):
        recovery(PLANTED, PLANTED, level="family")
