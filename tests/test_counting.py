"""The counting formula (Table 1) against brute-force enumeration of every discrete cell, on small
spaces of a 3-op set, for the empty state and for many random partial states."""

import itertools
import math
import random

import pytest

from sdas_lib.core.counting import count_cell_architectures, count_valid_architectures
from sdas_lib.core.discretization import DiscretizationState, candidates, decide, make_decision
from sdas_lib.core.opsets import OP_SET_TABLE, OpSetInfo
from sdas_lib.core.space import IMAGE_SPACE, NORMAL, REDUCE, SearchSpace


@pytest.fixture
def tri(monkeypatch):
    """A 3-op set in the torch-free table, for this test only."""
    monkeypatch.setitem(OP_SET_TABLE, "tri", OpSetInfo("tri", 2, (("a", "identity"), ("b", "pool"), ("c", "conv"))))
    return "tri"


def all_cells(space: SearchSpace) -> list[dict]:
    """Every discrete cell: ``{node: {kept predecessor: op column}}``, each node keeping a k-subset of
    its predecessors and any op on each kept edge."""
    per_node = []
    for i in space.node_ids:
        per_node.append([
            dict(zip(kept, ops))
            for kept in itertools.combinations(range(i), space.k)
            for ops in itertools.product(range(space.n_ops), repeat=space.k)
        ])
    return [dict(zip(space.node_ids, nodes)) for nodes in itertools.product(*per_node)]


def consistent(cell: dict, state: DiscretizationState, ct: str) -> bool:
    """Whether a discrete cell agrees with the decisions: decided nodes fix the kept predecessors,
    decided edges fix the op (when the edge is kept)."""
    space = state.space
    for i, kept in state.node_inputs[ct].items():
        if set(cell[i]) != set(kept):
            return False
    for e, op in state.edge_ops[ct].items():
        j, i = space.edges[e]
        if j in cell[i] and cell[i][j] != op:
            return False
    return True


def brute_force(cells: list[dict], state: DiscretizationState) -> int:
    """Valid architectures by enumeration over every combination of one cell per cell type."""
    ok = {ct: [consistent(c, state, ct) for c in cells] for ct in state.space.cell_type_names}
    return sum(all(flags) for flags in itertools.product(*ok.values()))


def random_arch(space: SearchSpace, rng: random.Random) -> tuple[dict, dict]:
    alpha = {ct: [[rng.gauss(0, 1) for _ in range(space.n_ops)] for _ in space.edges] for ct in space.cell_type_names}
    beta = {ct: [rng.gauss(0, 1) for _ in space.edges] for ct in space.cell_type_names}
    return alpha, beta


def random_path(space: SearchSpace, rng: random.Random):
    """Yield the states reached by random legal decisions made one at a time, from empty to complete."""
    state = DiscretizationState(space)
    yield state
    while not state.complete:
        alpha, beta = random_arch(space, rng)
        queue = candidates(state, alpha, beta)
        assert queue, f"no candidate left in {state}"
        if rng.random() < 0.5:  # the queue's best, as the search decides
            (d,) = decide(state, alpha, beta, 1, 0)
            assert (d.cell_type, d.kind) == (queue[0].cell_type, queue[0].kind)
            assert d.valid_architectures == count_valid_architectures(state)
        else:  # any legal candidate, to reach states the best-first order rarely reaches
            state.apply(make_decision(state, rng.choice(queue), alpha, beta, 0))
        yield state


def closed_form(space: SearchSpace) -> int:
    """Nothing decided: Π_i C(i, k) · n_ops^(k · n_nodes) per cell type."""
    per_cell = math.prod(math.comb(i, space.k) for i in space.node_ids) * space.n_ops ** (space.k * space.n_nodes)
    return per_cell ** len(space.cell_types)


def test_image_space_count_is_table_1():
    state = DiscretizationState(IMAGE_SPACE)
    assert count_cell_architectures(state, "normal") == count_cell_architectures(state, "reduce") == 1_037_664_180
    assert count_valid_architectures(state) == 1_037_664_180**2 == closed_form(IMAGE_SPACE)


SHAPES = [  # (n_inputs, n_nodes, k, random paths)
    (2, 2, 1, 12),
    (2, 2, 2, 12),
    (2, 3, 1, 6),
    (2, 3, 2, 3),
    (3, 2, 3, 4),  # node 3 keeps all 3 predecessors (forced), node 4 keeps 3 of 4
]


@pytest.mark.parametrize("n_inputs, n_nodes, k, paths", SHAPES)
def test_formula_matches_enumeration_on_one_cell_type(tri, n_inputs, n_nodes, k, paths):
    space = SearchSpace(op_set=tri, cell_types=(NORMAL,), n_nodes=n_nodes, k=k, n_inputs=n_inputs)
    cells = all_cells(space)
    empty = DiscretizationState(space)
    assert count_cell_architectures(empty, "normal") == len(cells) == brute_force(cells, empty) == closed_form(space)
    rng = random.Random(f"{n_inputs}-{n_nodes}-{k}")
    checked = 0
    for _ in range(paths):
        counts = []
        for state in random_path(space, rng):
            n = count_cell_architectures(state, "normal")
            assert n == brute_force(cells, state), f"{state}: {state.history[-1].describe()}"
            assert count_valid_architectures(state) == n
            counts.append(n)
            checked += 1
        assert all(a >= b for a, b in zip(counts, counts[1:])) and counts[-1] == 1
        assert len(counts) == space.total_decisions + 1
    assert checked == paths * (space.total_decisions + 1)


@pytest.mark.parametrize("k, paths", [(1, 10), (2, 2)])
def test_two_cell_types_multiply(tri, k, paths):
    space = SearchSpace(op_set=tri, cell_types=(NORMAL, REDUCE), n_nodes=2, k=k)
    cells = all_cells(space)
    empty = DiscretizationState(space)
    assert count_valid_architectures(empty) == len(cells) ** 2 == brute_force(cells, empty) == closed_form(space)
    rng = random.Random(k)
    cell_types_decided_alone = 0
    for _ in range(paths):
        for state in random_path(space, rng):
            per_type = [count_cell_architectures(state, ct) for ct in space.cell_type_names]
            assert count_valid_architectures(state) == math.prod(per_type) == brute_force(cells, state)
            cell_types_decided_alone += per_type[0] != per_type[1]
    assert cell_types_decided_alone  # the random states did make the two cell types differ


def test_count_on_the_command_line_counts_the_three_cell_video_space(capsys):
    from sdas_lib.cli import main

    assert main(["count", "--task", "video", "--op-set", "o3d"]) == 0
    out = capsys.readouterr().out
    assert f"together: {(180 * 9**8) ** 3:,}" in out and "M = 54" in out  # O3D: 9 ops, 3 cell types
    assert "st_reduce" in out and "s_reduce" in out


def test_a_video_op_set_with_the_image_layout_is_refused_with_the_reason():
    from sdas_lib.errors import SdasError

    with pytest.raises(SdasError, match="'video_o3d' holds 3D .* image layout.*--task video"):
        SearchSpace("video_o3d")  # normal and reduce: a two-cell image-shaped space
