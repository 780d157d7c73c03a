import math

import pytest
import torch

from sdas_lib.core.counting import count_cell_architectures, count_valid_architectures
from sdas_lib.core.discretization import (
    Decision, DiscretizationState, candidates, decide, edge_priority, node_priority,
)
from sdas_lib.errors import SdasError
from sdas_lib.ops import get_op_set
from sdas_lib.core.space import IMAGE_SPACE, SearchSpace

OPS = get_op_set("o2d").names
E = IMAGE_SPACE.n_edges
EDGE = {e: i for i, e in enumerate(IMAGE_SPACE.edges)}  # (j, i) -> row of α


def zeros():
    return ({c: torch.zeros(E, 7) for c in ("normal", "reduce")}, {c: torch.zeros(E) for c in ("normal", "reduce")})


def test_image_space_geometry():
    assert IMAGE_SPACE.n_edges == 14 and IMAGE_SPACE.total_decisions == 36
    assert IMAGE_SPACE.incoming(2) == (0, 1) and IMAGE_SPACE.incoming(5) == (9, 10, 11, 12, 13)
    video = SearchSpace("o2d", cell_types=IMAGE_SPACE.cell_types + (IMAGE_SPACE.cell_types[0].__class__("s_reduce", 2),))
    assert video.total_decisions == 54  # three cell types: M = 3 (E + N)


def test_impossible_k_is_refused():
    with pytest.raises(SdasError, match="k=3 predecessors per node is impossible"):
        SearchSpace(k=3)


def test_priorities_follow_the_notes():
    row = torch.tensor([0.0, 2.0, 1.0, 0, 0, 0, 0])
    w = torch.softmax(row, 0)
    assert edge_priority(row) == pytest.approx((w[1] - w[2]).item())
    beta = torch.tensor([3.0, -1.0, 0.5])
    s = torch.sigmoid(beta).sort(descending=True).values
    assert node_priority(beta, 2) == pytest.approx((s[1] - s[2]).item())
    assert node_priority(torch.tensor([0.3, 0.1]), 2) == math.inf  # forced: exactly k predecessors


def test_hand_made_alpha_beta_give_the_expected_order():
    alpha, beta = zeros()
    alpha["normal"][EDGE[(1, 4)], 3] = 2.0   # most confident: sep_conv_3x3 on normal 1->4
    alpha["reduce"][EDGE[(0, 2)], 1] = 1.0   # then max_pool_3x3 on reduce 0->2
    alpha["reduce"][EDGE[(1, 2)], 5] = 0.5   # then dil_conv_3x3 on reduce 1->2: node 2 becomes eligible
    state = DiscretizationState(IMAGE_SPACE)
    made = decide(state, alpha, beta, 4, iteration=7)
    assert [(d.cell_type, d.kind, d.edge or d.node, d.choice) for d in made] == [
        ("normal", "edge", (1, 4), "sep_conv_3x3"),
        ("reduce", "edge", (0, 2), "max_pool_3x3"),
        ("reduce", "edge", (1, 2), "dil_conv_3x3"),
        ("reduce", "node", 2, (0, 1)),  # forced (k = 2 predecessors), infinite priority at once
    ]
    assert made[3].priority is None and made[0].iteration == 7
    assert made[0].alpha[3] == 2.0 and made[0].weights[3] == pytest.approx(torch.softmax(alpha["normal"][EDGE[(1, 4)]], 0)[3].item())
    # Ties (all remaining rows are 0): earlier cell type first, then the lower edge index.
    nxt = decide(state, alpha, beta, 1, iteration=8)[0]
    assert (nxt.cell_type, nxt.edge) == ("normal", (0, 2))


def test_node_waits_for_all_its_edges_then_keeps_top_k_by_beta():
    alpha, beta = zeros()
    beta["normal"][EDGE[(0, 3)]] = 0.1
    beta["normal"][EDGE[(1, 3)]] = 2.0
    beta["normal"][EDGE[(2, 3)]] = 1.0
    state = DiscretizationState(IMAGE_SPACE)
    for j in (0, 1):
        state.apply(Decision(state.n_done, 0, "normal", "edge", (j, 3), 3, "skip_connect", 0.0, None, (), (0.0,)))
    assert not state.node_eligible("normal", 3)
    assert all(c.kind == "edge" for c in candidates(state, alpha, beta))
    state.apply(Decision(state.n_done, 0, "normal", "edge", (2, 3), 3, "avg_pool_3x3", 0.0, None, (), (0.0,)))
    node = [c for c in candidates(state, alpha, beta) if c.kind == "node"]
    assert [(c.cell_type, c.index) for c in node] == [("normal", 3)]
    s = sorted(torch.sigmoid(torch.tensor([0.1, 2.0, 1.0])).tolist(), reverse=True)
    assert node[0].priority == pytest.approx(s[1] - s[2])
    d = decide(state, alpha, beta, 1, 0)[0]
    assert (d.kind, d.node, d.choice) == ("node", 3, (1, 2))
    assert not state.edge_alive("normal", EDGE[(0, 3)]) and state.edge_alive("normal", EDGE[(1, 3)])
    assert state.frozen_beta_rows("normal") == [EDGE[(0, 3)], EDGE[(1, 3)], EDGE[(2, 3)]]


def test_illegal_decisions_are_refused():
    state = DiscretizationState(IMAGE_SPACE)
    with pytest.raises(SdasError, match="has undecided edges"):
        state.apply(Decision(0, 0, "normal", "node", None, 3, (0, 1), 0.0, None, (), ()))
    state.apply(Decision(0, 0, "normal", "edge", (0, 2), 2, "skip_connect", 0.0, None, (), (0.0,)))
    with pytest.raises(SdasError, match="already decided"):
        state.apply(Decision(1, 0, "normal", "edge", (0, 2), 2, "skip_connect", 0.0, None, (), (0.0,)))


def test_count_of_one_darts_cell_and_of_normal_plus_reduce():
    state = DiscretizationState(IMAGE_SPACE)
    one = math.comb(2, 2) * math.comb(3, 2) * math.comb(4, 2) * math.comb(5, 2) * 7**8
    assert one == 1_037_664_180
    assert count_cell_architectures(state, "normal") == 1_037_664_180
    assert count_valid_architectures(state) == 1_037_664_180**2  # ≈ 1.0767e18, Table 1 row 0


def test_fig7_caption_count_4560():
    # Fig. 7(d): nodes 2 and 3 decided, node 4 with 3 of 4 edges decided, node 5 with 2 of 5:
    # node 4 gives C(3,2)·1 + 3·7 = 24 choices, node 5 gives 1 + 2·3·7 + C(3,2)·49 = 190.
    state = DiscretizationState(IMAGE_SPACE)
    plan = [(0, 2), (1, 2), 2, (0, 3), (1, 3), (2, 3), 3, (0, 4), (1, 4), (2, 4), (0, 5), (1, 5)]
    for item in plan:
        if isinstance(item, tuple):
            state.apply(Decision(state.n_done, 0, "normal", "edge", item, item[1], "skip_connect", 0.0, None, (), (0.0,)))
        else:
            state.apply(Decision(state.n_done, 0, "normal", "node", None, item, (0, 1), 0.0, None, (), ()))
    assert count_cell_architectures(state, "normal") == 24 * 190 == 4560


@pytest.mark.parametrize("seed", range(3))
def test_count_never_rises_and_ends_at_one(seed):
    g = torch.Generator().manual_seed(seed)
    alpha = {c: torch.randn(E, 7, generator=g) for c in ("normal", "reduce")}
    beta = {c: torch.randn(E, generator=g) for c in ("normal", "reduce")}
    state = DiscretizationState(IMAGE_SPACE)
    counts = [count_valid_architectures(state)]
    while not state.complete:
        decide(state, alpha, beta, 1, 0)
        counts.append(count_valid_architectures(state))
        assert state.history[-1].valid_architectures == counts[-1]
    assert all(a >= b for a, b in zip(counts, counts[1:]))
    assert counts[-1] == 1 and len(counts) == 37


def test_history_replays_to_the_same_state_and_genotype():
    g = torch.Generator().manual_seed(5)
    alpha = {c: torch.randn(E, 7, generator=g) for c in ("normal", "reduce")}
    beta = {c: torch.randn(E, generator=g) for c in ("normal", "reduce")}
    state = DiscretizationState(IMAGE_SPACE)
    decide(state, alpha, beta, 36, 3)
    rows = [d.to_dict() for d in state.history]
    replay = DiscretizationState.from_history(IMAGE_SPACE, rows)
    assert replay.genotype() == state.genotype()
    assert [d.to_dict() for d in replay.history] == rows
    # The genotype is the DAS rule applied to α/β: every kept edge carries argmax α of its row.
    for ct in ("normal", "reduce"):
        for op, j, i in state.genotype()[ct].edges:
            assert op == OPS[int(alpha[ct][EDGE[(j, i)]].argmax())]
