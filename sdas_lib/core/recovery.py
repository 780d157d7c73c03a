"""Recovery of a planted cell: how much of a known genotype a search found, against chance.

A planted-cell task (:mod:`sdas_lib.run.planted`) labels data with a teacher network built from a
known genotype, so a search on it has a right answer. Three measures compare a found genotype with
the planted one, per cell type and over all cell types (each the share of the planted cell's kept
edges):

- ``topology``: the planted edge (j, i) is kept in the found cell;
- ``op``: among the planted edges the found cell keeps, the found op has the planted op's level;
- ``both``: the planted edge is kept *and* its op matches (the share of the planted cell found).

Which op differences the task can identify (docs/paper_notes.md "A planted cell"). Ops contain
others: a 5×5 separable conv can represent a 3×3 one (zeros around the centre) and a dilated 3×3
one (zeros between taps), and a conv can learn to pass its input through, so a search that keeps a
larger conv where a smaller one was planted fits the teacher as well as the planted op does.
Those differences are not identifiable from the labels, and recovery is scored at the op's *kind*
(:data:`~sdas_lib.core.opsets.OP_KINDS`: identity, pool, conv): a parameter-free pool, a skip and a
learned conv compute different functions of a noise input, which the teacher's labels show. Max vs
average pooling is also scored (level ``"op"``, exact names) but is reported only beside the kind.
The skip of a reduction cell's strided edge is a factorized reduction (1×1 convs), which a conv can
imitate; it stays in the identity kind here, a known weak spot of the measure.

Chance levels are exact for a genotype drawn uniformly from the space (:mod:`.random_cells`): each
node keeps a uniform k-subset of its i predecessors, so a planted edge into node i is kept with
probability k / i, and each kept edge has a uniform op, so it matches a planted op's level with
probability (ops of that level) / (ops in the set). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from ..errors import SdasError, choices
from .genotype import CellGenotype, Genotype
from .opsets import op_set_info

LEVELS = ("kind", "op")  # how finely ops are compared: their kind (identifiable) or their exact name
MEASURES = ("topology", "op", "both")


def op_level(op_set: str, op: str, level: str = "kind") -> str:
    """The class an op is scored by: its kind (``conv``, ``pool``, ``identity``) or, at ``"op"``, its name."""
    if level not in LEVELS:
        raise SdasError(f"unknown op level {level!r}; choose one of: {choices(LEVELS)}")
    info = op_set_info(op_set)
    return info.kind(op) if level == "kind" else (info.check(op) or op)


@dataclass(frozen=True)
class Recovery:
    """Recovery of one planted cell (or all cell types pooled) with the chance level of each measure.

    Each value is a share of the planted kept edges; ``op`` is a share of the planted edges the found
    cell kept (None when it kept none of them). ``chance_*`` are the expectations for a uniform random cell.
    """

    topology: float
    op: float | None
    both: float
    chance_topology: float
    chance_op: float
    chance_both: float
    n_edges: int  # planted kept edges compared

    def as_dict(self) -> dict:
        return {
            "topology": self.topology, "op": self.op, "both": self.both,
            "chance_topology": self.chance_topology, "chance_op": self.chance_op, "chance_both": self.chance_both,
            "n_edges": self.n_edges,
        }


def _edge_rows(op_set: str, planted: CellGenotype, found: CellGenotype, level: str, k: int) -> list[tuple]:
    """(kept, op matches, P(kept by chance), P(op matches by chance)) per planted edge."""
    info = op_set_info(op_set)
    found_ops = {(j, i): op for op, j, i in found.edges}
    rows = []
    for op, j, i in planted.edges:
        want = op_level(op_set, op, level)
        same_level = sum(op_level(op_set, o, level) == want for o in info.names)
        got = found_ops.get((j, i))
        rows.append((got is not None, got is not None and op_level(op_set, got, level) == want,
                     k / i, same_level / len(info)))
    return rows


def _summarize(rows: list[tuple]) -> Recovery:
    n = len(rows)
    kept = [r for r in rows if r[0]]
    return Recovery(
        topology=sum(r[0] for r in rows) / n,
        op=(sum(r[1] for r in kept) / len(kept)) if kept else None,
        both=sum(r[1] for r in rows) / n,
        chance_topology=sum(r[2] for r in rows) / n,
        chance_op=sum(r[3] for r in rows) / n,  # a uniform op on a kept edge, independent of which edges
        chance_both=sum(r[2] * r[3] for r in rows) / n,
        n_edges=n,
    )


def _check_pair(planted: Genotype, found: Genotype) -> None:
    if planted.op_set != found.op_set:
        raise SdasError(
            f"the found genotype uses op set {found.op_set!r} but the planted one {planted.op_set!r}; "
            f"search with --op-set {planted.op_set}"
        )
    if planted.cell_types != found.cell_types:
        raise SdasError(
            f"the found genotype has cell types {choices(found.cell_types)}, the planted one "
            f"{choices(planted.cell_types)}; compare genotypes of the same space"
        )
    for ct in planted.cell_types:
        if len(planted[ct].nodes) != len(found[ct].nodes):
            raise SdasError(
                f"cell {ct!r}: the found genotype has {len(found[ct].nodes)} nodes, the planted one "
                f"{len(planted[ct].nodes)}; search with --n_nodes {len(planted[ct].nodes)}"
            )
        ks = {len(n) for n in planted[ct].nodes}
        if len(ks) != 1:
            raise SdasError(f"cell {ct!r} of the planted genotype has nodes with different numbers of inputs")


def recovery(planted: Genotype, found: Genotype, level: str = "kind",
             cell_types: Iterable[str] | None = None) -> Recovery:
    """How much of ``planted`` the genotype ``found`` recovers, pooled over ``cell_types`` (default all).

    Args:
        planted: the teacher's genotype. found: a search's genotype in the same space.
        level: ``"kind"`` (identifiable: conv / pool / identity) or ``"op"`` (exact op names).
        cell_types: the cell types to pool (e.g. ``["normal"]``); default every cell type.
    """
    if level not in LEVELS:
        raise SdasError(f"unknown op level {level!r}; choose one of: {choices(LEVELS)}")
    _check_pair(planted, found)
    rows = []
    for ct in (planted.cell_types if cell_types is None else list(cell_types)):
        k = len(planted[ct].nodes[0])
        rows += _edge_rows(planted.op_set, planted[ct], found[ct], level, k)
    return _summarize(rows)


def decision_correct(decision: Mapping, planted: Genotype, level: str = "kind") -> bool | None:
    """Whether one recorded decision (a decisions.json row) agrees with the planted cell.

    A node decision is right when it keeps exactly the planted predecessors. An edge decision is right
    when the edge is planted and its op has the planted op's level, wrong when the edge is planted and
    the op differs, and None (nothing to judge) when the planted cell does not keep that edge.
    """
    ct = str(decision["cell_type"])
    cell = planted[ct]
    if decision["kind"] == "node":
        node = int(decision["node"])
        if not cell.n_inputs <= node < cell.n_inputs + len(cell.nodes):
            raise SdasError(f"node {node} is not an intermediate node of the planted {ct!r} cell")
        want = sorted(j for _, j in cell.nodes[node - cell.n_inputs])
        return sorted(int(j) for j in decision["choice"]) == want
    if decision["kind"] != "edge":
        raise SdasError(f"a decision's kind is 'edge' or 'node', got {decision['kind']!r}")
    j, i = (int(v) for v in decision["edge"])
    planted_ops = {(jj, ii): op for op, jj, ii in cell.edges}
    if (j, i) not in planted_ops:
        return None
    return op_level(planted.op_set, str(decision["choice"]), level) == op_level(planted.op_set, planted_ops[(j, i)], level)


def decision_chance(decision: Mapping, planted: Genotype, level: str = "kind") -> float | None:
    """The chance that a uniform random choice makes ``decision`` right (None where nothing is judged).

    A node with i predecessors keeping k of them: 1 / C(i, k). A planted edge: ops of the planted
    op's level / ops in the set.
    """
    from math import comb

    ct = str(decision["cell_type"])
    cell = planted[ct]
    if decision["kind"] == "node":
        node = int(decision["node"])
        return 1 / comb(node, len(cell.nodes[0]))
    j, i = (int(v) for v in decision["edge"])
    planted_ops = {(jj, ii): op for op, jj, ii in cell.edges}
    if (j, i) not in planted_ops:
        return None
    info = op_set_info(planted.op_set)
    want = op_level(planted.op_set, planted_ops[(j, i)], level)
    return sum(op_level(planted.op_set, o, level) == want for o in info.names) / len(info)


def recovery_over_iterations(decisions: Iterable[Mapping], planted: Genotype, T: int,
                             level: str = "kind") -> list[dict]:
    """Right and judged decisions made up to each iteration of a search, as the decisions are made.

    Iterations count from 1 as in decisions.json (DAS decides everything at iteration T). Returns one row
    per t = 0..T (``iteration`` t, ``fraction`` = t / T, ``judged``
    decisions made so far, ``right`` ones, ``chance_right`` expected of uniform choices): DAS's rows stay
    at zero until its last iteration, a scheduled search's climb as it decides.
    """
    if not isinstance(T, int) or T < 1:
        raise SdasError(f"T must be a positive number of iterations, got {T!r}")
    scored = []
    for d in decisions:
        ok = decision_correct(d, planted, level)
        if ok is not None:
            scored.append((int(d["iteration"]), ok, decision_chance(d, planted, level)))
    rows = []
    for t in range(T + 1):
        done = [s for s in scored if s[0] <= t]
        rows.append({"iteration": t, "fraction": t / T, "judged": len(done),
                     "right": sum(s[1] for s in done), "chance_right": sum(s[2] for s in done)})
    return rows


__all__ = [
    "LEVELS", "MEASURES", "Recovery", "op_level", "recovery", "decision_correct", "decision_chance",
    "recovery_over_iterations",
]


# -- the planted genotypes of the planted-cell data sets -----------------------------------------
PLANTED = "planted"  # data set names: "planted" (teacher 0) or "planted-<teacher>"
PLANTED_SEED_OFFSET = 10_000  # teacher t plants random_genotype(space, 10_000 + t): not a random control's cell


def planted_teacher(dataset: str) -> int | None:
    """The teacher number of a planted data set name (``planted`` -> 0, ``planted-2`` -> 2), None for other names."""
    name = str(dataset)
    if name == PLANTED:
        return 0
    if not name.startswith(PLANTED + "-"):
        return None
    tail = name[len(PLANTED) + 1:]
    if not tail.isdigit():
        raise SdasError(f"planted data set {name!r}: write 'planted' or 'planted-<teacher number>', e.g. 'planted-1'")
    return int(tail)


def planted_genotype(teacher: int, space=None) -> Genotype:
    """The genotype teacher ``teacher`` plants: a uniform random cell of ``space`` (default the image space)."""
    from .random_cells import random_genotype
    from .space import IMAGE_SPACE

    if isinstance(teacher, bool) or not isinstance(teacher, int) or teacher < 0:
        raise SdasError(f"a teacher number must be a non-negative integer, got {teacher!r}")
    return random_genotype(space or IMAGE_SPACE, PLANTED_SEED_OFFSET + teacher)


__all__ += ["PLANTED", "planted_teacher", "planted_genotype"]
