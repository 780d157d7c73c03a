"""Fleiss' κ of the op kept on each edge across seeds (sdas_lib.core.agreement)."""

import pytest

from sdas_lib.core.agreement import decision_kappa, decision_table, edge_ops, fleiss_kappa, pairwise_agreement
from sdas_lib.core.history import History, random_walk_document
from sdas_lib.core.space import NORMAL, REDUCE, SearchSpace
from sdas_lib.errors import SdasError

# Wikipedia's worked example ("Fleiss' kappa"): 10 subjects, 14 raters, 5 categories; P̄ = 0.378,
# P̄_e = 0.213, κ = 0.210.
WIKIPEDIA = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_of_the_worked_example():
    assert fleiss_kappa(WIKIPEDIA) == pytest.approx(0.2099, abs=1e-4)


def test_full_agreement_is_one_and_a_balanced_split_is_below_chance():
    assert fleiss_kappa([[3, 0], [0, 3], [3, 0]]) == 1.0
    # every subject split as evenly as 2 raters can: no pair agrees, half would by chance: κ = -1
    assert fleiss_kappa([[1, 1], [1, 1]]) == -1.0


def test_one_category_for_everything_is_undefined_not_perfect():
    k = fleiss_kappa([[4, 0], [4, 0]])
    assert k != k  # NaN: P̄_e = 1, nothing to tell agreement from chance


@pytest.mark.parametrize("table, message", [
    ([], "at least one subject"),
    ([[2, 0], [1, 0]], "same number of raters"),
    ([[1, 0], [0, 1]], "at least 2 raters"),
])
def test_bad_tables_are_refused_with_the_reason(table, message):
    with pytest.raises(SdasError, match=message):
        fleiss_kappa(table)


def histories(n_seeds, schedule="C"):
    space = SearchSpace("o2d", (NORMAL, REDUCE))
    return [History.from_dict(random_walk_document(space, 20, schedule, seed)).decisions for seed in range(n_seeds)]


def test_the_same_history_from_every_seed_agrees_fully():
    h = histories(1)[0]
    assert decision_kappa([h, h, h]) == 1.0
    assert pairwise_agreement([h, h]) [0] == 1.0


def test_the_table_rates_every_edge_of_both_cells_once_per_seed():
    hs = histories(3)
    table, edges, ops = decision_table(hs)
    assert len(edges) == 28 and all(sum(row) == 3 for row in table)
    ops_of = [edge_ops(h) for h in hs]
    e = edges[5]
    assert table[5] == [sum(o[e] == op for o in ops_of) for op in ops]
    observed, chance = pairwise_agreement(hs)
    assert decision_kappa(hs) == pytest.approx((observed - chance) / (1 - chance))


def test_dicts_and_decisions_give_the_same_kappa():
    hs = histories(3)
    assert decision_kappa([[d.to_dict() for d in h] for h in hs]) == decision_kappa(hs)


def test_one_search_or_different_spaces_are_refused():
    hs = histories(2)
    with pytest.raises(SdasError, match="at least 2 searches"):
        decision_kappa(hs[:1])
    with pytest.raises(SdasError, match="other edges"):
        decision_kappa([hs[0], [d for d in hs[1] if d.cell_type == "normal"]])
