"""Random cells: Table 4's "Random + cutout" control, drawn from the search space without a search.

Each intermediate node keeps a uniform valid predecessor set (k of the nodes before it) and each kept
edge a uniform op of the op set, independently per cell type. One genotype per seed, so a control has
as many random cells as the searches have seeds. Torch-free.
"""

from __future__ import annotations

import itertools
import random

from ..errors import SdasError
from .genotype import Genotype
from .opsets import op_set_info
from .space import SearchSpace

RANDOM = "random"  # the pseudo-schedule name of the control in a sweep


def random_genotype(space: SearchSpace, seed: int) -> Genotype:
    """A validated genotype drawn uniformly from ``space``'s valid architectures with ``seed``.

    Uniform over valid architectures: each node's predecessor set is uniform over the k-subsets of
    the nodes before it, and each kept edge's op uniform over the op set, all independent, so every
    architecture has the same probability.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SdasError(f"a random cell's seed must be a non-negative integer, got {seed!r}")
    rng = random.Random(f"sdas-random-cell-{seed}")
    names = op_set_info(space.op_set).names
    cells = {}
    for ct in space.cell_type_names:
        nodes = []
        for i in space.node_ids:
            kept = rng.choice(list(itertools.combinations(range(i), space.k)))
            nodes.append([(rng.choice(names), j) for j in kept])
        cells[ct] = nodes
    return Genotype.from_cells(space.op_set, cells, {ct: space.node_ids for ct in cells}, k=space.k)


__all__ = ["RANDOM", "random_genotype"]
