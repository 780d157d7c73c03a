"""Agreement of the decisions across seeds: Fleiss' κ of the op kept on each edge (no torch).

Each seed's search is a rater, each edge of every cell type a subject, each op a category. The op of
an edge is the one its edge decision kept: for SDAS the decided op, for DAS the argmax of α at
t = T (DAS's edge decisions are made by the same rule, Eq. 4). Every edge gets one edge decision
(a node is decided only once its incoming edges are), so every rater rates every subject.

Fleiss' κ = (P̄ − P̄_e) / (1 − P̄_e), with P̄ the mean over subjects of the share of agreeing rater
pairs and P̄_e = Σ_j p_j² the agreement expected from the op frequencies p_j alone (Fleiss 1971).
κ = 0 is chance, 1 full agreement; it can be negative.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

from ..errors import SdasError


def edge_ops(decisions: Iterable) -> dict[tuple[str, tuple[int, int]], str]:
    """``{(cell type, (j, i)): op}`` of a history's edge decisions (:class:`Decision` objects or their dicts)."""
    out = {}
    for d in decisions:
        row = d if isinstance(d, Mapping) else d.to_dict()
        if row["kind"] == "edge":
            out[(row["cell_type"], tuple(row["edge"]))] = str(row["choice"])
    return out


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float:
    """Fleiss' κ of a (subjects, categories) table of counts: how many raters put each subject in each category.

    Every subject must have the same number n >= 2 of raters. Returns NaN when κ is undefined: every
    rating falls in one category (P̄_e = 1; the raters agree, but nothing tells it from chance).
    """
    rows = [list(map(int, r)) for r in counts]
    if not rows:
        raise SdasError("Fleiss' kappa needs at least one subject (an edge rated by every seed)")
    n = sum(rows[0])
    if any(sum(r) != n for r in rows):
        raise SdasError("Fleiss' kappa needs every subject rated by the same number of raters (seeds); "
                        f"got {sorted({sum(r) for r in rows})}")
    if n < 2:
        raise SdasError(f"Fleiss' kappa needs at least 2 raters (seeds) per subject, got {n}")
    if any(c < 0 for r in rows for c in r):
        raise SdasError("Fleiss' kappa counts must not be negative")
    p_bar, p_e = _observed_and_chance(rows)
    if math.isclose(p_e, 1.0):
        return float("nan")
    return (p_bar - p_e) / (1 - p_e)


def _observed_and_chance(rows: list[list[int]]) -> tuple[float, float]:
    """Fleiss' P̄ (mean share of agreeing rater pairs per subject) and P̄_e (Σ_j p_j²) of a checked table."""
    n, N = sum(rows[0]), len(rows)
    p_bar = sum((sum(c * c for c in r) - n) / (n * (n - 1)) for r in rows) / N
    p_e = sum((sum(col) / (N * n)) ** 2 for col in zip(*rows))
    return p_bar, p_e


def decision_table(histories: Sequence[Iterable]) -> tuple[list[list[int]], list[tuple], list[str]]:
    """The (edges, ops) count table of several histories: how many seeds kept each op on each edge.

    Returns the table, its subjects (cell type, edge) and its categories (op names), in sorted order.
    """
    choices = [edge_ops(h) for h in histories]
    if len(choices) < 2:
        raise SdasError(f"agreement across seeds needs at least 2 searches, got {len(choices)}")
    edges = sorted(choices[0])
    if not edges:
        raise SdasError("the histories hold no edge decisions; were the searches finished?")
    for i, c in enumerate(choices[1:], 1):
        if sorted(c) != edges:
            raise SdasError(
                f"search {i} decided other edges than search 0 ({len(c)} against {len(edges)}); compare "
                "finished searches of one search space"
            )
    ops = sorted({op for c in choices for op in c.values()})
    table = [[sum(c[e] == op for c in choices) for op in ops] for e in edges]
    return table, edges, ops


def decision_kappa(histories: Sequence[Iterable]) -> float:
    """Fleiss' κ of the op kept on each edge across the searches (one history per seed)."""
    return fleiss_kappa(decision_table(histories)[0])


def pairwise_agreement(histories: Sequence[Iterable]) -> tuple[float, float]:
    """(the mean over seed pairs of the share of edges with the same op, the same expected by chance
    from the op frequencies): Fleiss' P̄ and P̄_e, the two numbers κ compares."""
    return _observed_and_chance(decision_table(histories)[0])


__all__ = ["edge_ops", "fleiss_kappa", "decision_table", "decision_kappa", "pairwise_agreement"]
