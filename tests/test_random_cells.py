"""Table 4's random control: cells drawn uniformly from the search space, one per seed, and a sweep's
``random`` pseudo-schedule that writes them without a search and retrains them like found cells."""

import collections
import itertools
import json

import pytest

from sdas_lib.core.genotype import Genotype
from sdas_lib.core.opsets import op_set_info
from sdas_lib.core.random_cells import random_genotype
from sdas_lib.core.space import IMAGE_SPACE, video_space
from sdas_lib.errors import SdasError


@pytest.mark.parametrize("space", [IMAGE_SPACE, video_space("video_oadv")])
def test_a_random_cell_is_a_valid_genotype_of_the_space_fixed_by_its_seed(space):
    g = random_genotype(space, 3)
    assert g == random_genotype(space, 3) and g != random_genotype(space, 4)
    assert Genotype.from_dict(json.loads(g.to_json()), cell_types=space.cell_type_names, k=space.k, op_set=space.op_set) == g
    for ct in space.cell_type_names:
        for n, node in enumerate(g[ct].nodes):
            assert len(node) == space.k and len({j for _, j in node}) == space.k
            assert all(0 <= j < space.n_inputs + n for _, j in node)  # a node reads only nodes before it


def test_ops_and_predecessor_pairs_are_drawn_uniformly():
    names = op_set_info(IMAGE_SPACE.op_set).names
    ops, pairs = collections.Counter(), collections.Counter()
    n = 600
    for seed in range(n):
        node = random_genotype(IMAGE_SPACE, seed)["normal"].nodes[3]  # node 5: C(5, 2) = 10 predecessor pairs
        pairs[tuple(sorted(j for _, j in node))] += 1
        ops.update(op for op, _ in node)
    assert set(pairs) == set(itertools.combinations(range(5), 2))
    assert set(ops) == set(names)
    # Each count within 5 binomial standard deviations of its uniform expectation.
    for counts, k, total in ((pairs, 10, n), (ops, len(names), 2 * n)):
        p = 1 / k
        sd = (total * p * (1 - p)) ** 0.5
        assert all(abs(c - total * p) < 5 * sd for c in counts.values()), counts


def test_a_bad_seed_is_refused():
    with pytest.raises(SdasError, match="non-negative integer"):
        random_genotype(IMAGE_SPACE, -1)
