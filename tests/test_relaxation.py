"""Notebook 01's experiment: a mixed edge learns the op that made its target, and keeps it (Eq. 2, 4)."""

import pytest

from sdas_lib.nets.relaxation import fit_mixed_edge


@pytest.mark.parametrize("target", ["sep_conv_3x3", "max_pool_3x3"])
def test_mixed_edge_learns_the_op_that_made_its_target(target):
    fit = fit_mixed_edge(target, steps=60, seed=1)
    assert fit.weights[0] == pytest.approx([1 / 7] * 7)  # α starts at 0
    assert fit.chosen == target and max(fit.weights[-1]) == fit.weights[-1][fit.op_names.index(target)] > 0.5
    assert fit.losses[-1] < fit.losses[0] / 10
    assert fit.discrete_error < fit.losses[0] / 10  # the decided edge, sigmoid(β)·o(x), still fits
    assert 0.5 < fit.edge_weight[-1] and len(fit.weights) == len(fit.edge_weight) == 61
