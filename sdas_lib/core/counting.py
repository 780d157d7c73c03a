"""Counting the architectures still possible (Table 1, Fig. 7 captions), exactly, in integers.

A decided node contributes 1. An undecided node i sums, over the k-subsets S of its
predecessors, the product over e in S of (1 if e is decided else n_ops): its decided edges have one
op left, the others all of them. With nothing decided a DARTS-like cell has
C(2,2)·C(3,2)·C(4,2)·C(5,2)·7^8 = 1,037,664,180 valid architectures (Table 1).
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .discretization import DiscretizationState


def count_cell_architectures(state: DiscretizationState, cell_type: str) -> int:
    """Valid discrete cells given the decisions so far, counted exactly.

    A decided node contributes 1. An undecided node i sums, over the k-subsets S of its
    predecessors, the product over e in S of (1 if e is decided else n_ops). With nothing decided
    this is C(2,2)·C(3,2)·C(4,2)·C(5,2)·7^8 = 1,037,664,180 for a DARTS-like cell.
    """
    sp = state.space
    total = 1
    for i in sp.node_ids:
        if i in state.node_inputs[cell_type]:
            continue
        choices_per_edge = [1 if e in state.edge_ops[cell_type] else sp.n_ops for e in sp.incoming(i)]
        total *= sum(math.prod(c) for c in combinations(choices_per_edge, sp.k))
    return total


def count_valid_architectures(state: DiscretizationState) -> int:
    """Product over cell types of :func:`count_cell_architectures` (1.0767e18 for normal + reduce)."""
    return math.prod(count_cell_architectures(state, c) for c in state.space.cell_type_names)
