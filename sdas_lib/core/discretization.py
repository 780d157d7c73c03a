"""Scheduled discretization (paper §3.2): one-step decisions, their priorities and the state.

Everything here is a pure function of α/β and the :class:`DiscretizationState`, so it can be
tested and replayed (by a widget) without a network, and without torch: α/β are taken as anything
with ``tolist()`` (a tensor, a numpy array) or as nested lists of numbers.

One-step decisions (docs/paper_notes.md "Scheduled discretization"):
- **edge** (j, i): keep o = argmax α_(j,i) (Eq. 4). The edge then computes sigmoid(β)·o(x); its α is
  dropped, its β keeps learning.
- **node** i: eligible once all of its incoming edges are decided. It keeps the top-k predecessors
  by β and from then on computes Eq. 1, a plain sum without β; its other edges are gone.

Priorities (the higher, the sooner):
- edge: softmax(α) top-1 minus top-2;
- node: sigmoid(β) of rank k minus rank k+1 among its incoming edges; a node with exactly k
  predecessors has a forced choice and infinite priority once eligible.

One global queue runs over all cell types. Ties are broken deterministically: earlier cell type
first, then nodes before edges, then the lower edge/node index. Within a row, argmax and top-k
ties go to the lower op column / lower predecessor index.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, replace
from typing import Iterable, Mapping

from ..errors import SdasError
from .counting import count_valid_architectures
from .genotype import CellGenotype, Genotype
from .opsets import op_set_info
from .space import SearchSpace

INF = math.inf


# ----------------------------------------------------------------------------------------------
# Pure priority and choice functions on one α row / one node's β values.


def as_lists(x) -> list:
    """Nested Python lists of floats from a tensor, an array or nested sequences."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "tolist"):
        return x.tolist()
    return [as_lists(v) if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else float(v) for v in x]


def _values(x) -> list[float]:
    v = as_lists(x)
    return [float(a) for a in (v if isinstance(v, list) else [v])]


def softmax(values: Iterable[float]) -> list[float]:
    v = _values(values)
    m = max(v)
    e = [math.exp(a - m) for a in v]
    s = sum(e)
    return [a / s for a in e]


def sigmoid(values: Iterable[float]) -> list[float]:
    return [1.0 / (1.0 + math.exp(-b)) for b in _values(values)]


def ranked(values: Iterable[float]) -> list[int]:
    """Indices by decreasing value; ties go to the lower index."""
    v = _values(values)
    return sorted(range(len(v)), key=lambda idx: (-v[idx], idx))


def edge_priority(alpha_row) -> float:
    """softmax(α) top-1 minus top-2: the confidence of the op choice on one edge."""
    w = sorted(softmax(alpha_row), reverse=True)
    return INF if len(w) == 1 else w[0] - w[1]


def edge_choice(alpha_row) -> int:
    """Column of the chosen op: argmax α (Eq. 4), ties to the lower column."""
    return ranked(alpha_row)[0]


def node_priority(beta_in, k: int) -> float:
    """sigmoid(β) of rank k minus rank k+1 over a node's incoming edges; inf if it has only k."""
    s = sorted(sigmoid(beta_in), reverse=True)
    if len(s) <= k:
        return INF
    return s[k - 1] - s[k]


def node_choice(beta_in, k: int) -> list[int]:
    """Positions (within the node's incoming edges) of the top-k predecessors by β."""
    return sorted(ranked(beta_in)[:k])


# ----------------------------------------------------------------------------------------------
# Decisions and the state they build up.


@dataclass(frozen=True)
class Decision:
    """One one-step discretization, as a row of the decision history.

    ``choice`` is the op name for an edge, or the kept predecessor nodes for a node.
    ``alpha``/``weights``/``beta`` record the values at that moment: for an edge, its raw α row,
    softmax(α) and β; for a node, the β and sigmoid(β) of its incoming edges (``alpha`` is None).
    ``priority`` is None when the choice was forced (a node with exactly k predecessors).
    ``median_priority`` is the median priority of the other candidates in the queue at that
    moment (None if there were none): how far the chosen one stood above the crowd.
    """

    step: int
    iteration: int
    cell_type: str
    kind: str  # "edge" or "node"
    edge: tuple[int, int] | None
    node: int
    choice: str | tuple[int, ...]
    priority: float | None
    alpha: tuple[float, ...] | None
    weights: tuple[float, ...]
    beta: tuple[float, ...]
    valid_architectures: int = 0
    median_priority: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["edge"] = list(self.edge) if self.edge else None
        d["choice"] = self.choice if isinstance(self.choice, str) else list(self.choice)
        d["forced"] = self.priority is None
        for key in ("alpha", "weights", "beta"):
            d[key] = None if d[key] is None else list(d[key])
        d["valid_architectures"] = str(self.valid_architectures)  # exact; can exceed 2**53
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "Decision":
        try:
            return cls(
                step=int(d["step"]),
                iteration=int(d["iteration"]),
                cell_type=str(d["cell_type"]),
                kind=str(d["kind"]),
                edge=tuple(d["edge"]) if d.get("edge") is not None else None,
                node=int(d["node"]),
                choice=d["choice"] if isinstance(d["choice"], str) else tuple(int(j) for j in d["choice"]),
                priority=None if d.get("priority") is None else float(d["priority"]),
                alpha=None if d.get("alpha") is None else tuple(float(a) for a in d["alpha"]),
                weights=tuple(float(w) for w in d["weights"]),
                beta=tuple(float(b) for b in d["beta"]),
                valid_architectures=int(d.get("valid_architectures", 0)),
                median_priority=None if d.get("median_priority") is None else float(d["median_priority"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise SdasError(f"malformed decision history row {d!r}: {err}") from None

    def describe(self) -> str:
        where = f"edge {self.edge[0]}->{self.edge[1]}" if self.kind == "edge" else f"node {self.node}"
        what = self.choice if self.kind == "edge" else "keeps " + ",".join(map(str, self.choice))
        prio = "forced" if self.priority is None else f"priority {self.priority:.4f}"
        return f"#{self.step + 1} it {self.iteration} {self.cell_type} {where}: {what} ({prio})"


class DiscretizationState:
    """Which edges and nodes are decided so far, per cell type; rebuilt exactly from its history.

    Attributes:
        edge_ops: ``{cell_type: {edge index: op column}}`` for decided edges.
        node_inputs: ``{cell_type: {node: (kept predecessor nodes)}}`` for decided nodes.
        history: the decisions in the order they were made.
    """

    def __init__(self, space: SearchSpace):
        self.space = space
        self.edge_ops: dict[str, dict[int, int]] = {c: {} for c in space.cell_type_names}
        self.node_inputs: dict[str, dict[int, tuple[int, ...]]] = {c: {} for c in space.cell_type_names}
        self.history: list[Decision] = []

    # -- queries -------------------------------------------------------------------------------
    @property
    def n_done(self) -> int:
        return len(self.history)

    @property
    def complete(self) -> bool:
        return self.n_done == self.space.total_decisions

    def cell_complete(self, cell_type: str) -> bool:
        return len(self.node_inputs[cell_type]) == self.space.n_nodes

    def edge_op(self, cell_type: str, e: int) -> int | None:
        return self.edge_ops[cell_type].get(e)

    def edge_alive(self, cell_type: str, e: int) -> bool:
        """False once the edge's node is decided without it."""
        j, i = self.space.edges[e]
        kept = self.node_inputs[cell_type].get(i)
        return kept is None or j in kept

    def node_eligible(self, cell_type: str, node: int) -> bool:
        return node not in self.node_inputs[cell_type] and all(
            e in self.edge_ops[cell_type] for e in self.space.incoming(node)
        )

    def frozen_alpha_rows(self, cell_type: str) -> list[int]:
        """Rows of α no longer used: decided edges (and so edges of decided nodes)."""
        return sorted(self.edge_ops[cell_type])

    def frozen_beta_rows(self, cell_type: str) -> list[int]:
        """Entries of β no longer used: every edge into a decided node (Eq. 1 has no β)."""
        return sorted(e for i in self.node_inputs[cell_type] for e in self.space.incoming(i))

    # -- changes -------------------------------------------------------------------------------
    def apply(self, d: Decision) -> None:
        """Record one decision after checking that it is legal in this state."""
        sp = self.space
        if d.cell_type not in self.edge_ops:
            raise SdasError(f"decision for unknown cell type {d.cell_type!r}")
        if d.step != self.n_done:
            raise SdasError(f"decision step {d.step} out of order: {self.n_done} decisions made so far")
        if d.kind == "edge":
            if d.edge not in sp.edges:
                raise SdasError(f"decision names edge {d.edge}, which is not in the cell")
            e = sp.edges.index(d.edge)
            if e in self.edge_ops[d.cell_type]:
                raise SdasError(f"{d.cell_type} edge {d.edge} is already decided")
            self.edge_ops[d.cell_type][e] = op_set_info(sp.op_set).index(d.choice)
        elif d.kind == "node":
            if not self.node_eligible(d.cell_type, d.node):
                raise SdasError(f"{d.cell_type} node {d.node} is decided or has undecided edges")
            preds = [sp.edges[e][0] for e in sp.incoming(d.node)]
            if len(d.choice) != sp.k or not set(d.choice) <= set(preds):
                raise SdasError(f"{d.cell_type} node {d.node} must keep {sp.k} of {preds}, got {d.choice}")
            self.node_inputs[d.cell_type][d.node] = tuple(sorted(d.choice))
        else:
            raise SdasError(f"decision kind must be 'edge' or 'node', got {d.kind!r}")
        self.history.append(d)

    @classmethod
    def from_history(cls, space: SearchSpace, history: Iterable[Decision | Mapping]) -> "DiscretizationState":
        """Replay a history (e.g. decisions.json) into a state; used to resume and by the widget."""
        state = cls(space)
        for d in history:
            state.apply(d if isinstance(d, Decision) else Decision.from_dict(d))
        return state

    def copy(self) -> "DiscretizationState":
        return DiscretizationState.from_history(self.space, self.history)

    # -- result --------------------------------------------------------------------------------
    def genotype(self) -> Genotype:
        """The final architecture; every node must be decided."""
        if not self.complete:
            raise SdasError(
                f"the architecture is not fully discretized yet ({self.n_done} of "
                f"{self.space.total_decisions} decisions made)"
            )
        ops = op_set_info(self.space.op_set)
        cells = []
        for ct in self.space.cell_type_names:
            nodes = []
            for i in self.space.node_ids:
                pairs = []
                for e in self.space.incoming(i):
                    j = self.space.edges[e][0]
                    if j in self.node_inputs[ct][i]:
                        pairs.append((ops.names[self.edge_ops[ct][e]], j))
                nodes.append(tuple(pairs))
            cells.append((ct, CellGenotype(tuple(nodes), self.space.node_ids)))
        return Genotype(ops.name, tuple(cells))

    def __repr__(self) -> str:
        per = ", ".join(
            f"{c}: {len(self.edge_ops[c])}/{self.space.n_edges} edges {len(self.node_inputs[c])}/"
            f"{self.space.n_nodes} nodes"
            for c in self.space.cell_type_names
        )
        return f"DiscretizationState({self.n_done}/{self.space.total_decisions} decided; {per})"


# ----------------------------------------------------------------------------------------------
# Choosing the next decision.


@dataclass(frozen=True)
class Candidate:
    cell_type: str
    kind: str
    index: int  # edge index or node id
    priority: float

    def sort_key(self, space: SearchSpace):
        return (-self.priority, space.cell_type_names.index(self.cell_type), 0 if self.kind == "node" else 1, self.index)


def candidates(state: DiscretizationState, alpha: Mapping, beta: Mapping) -> list[Candidate]:
    """All decisions possible now with their priorities, best first (the global priority queue).

    Args:
        alpha: ``{cell_type: (E, n_ops)}``; beta: ``{cell_type: (E,)}``: tensors, arrays or lists.
    """
    sp = state.space
    out = []
    for ct in sp.cell_type_names:
        a, b = as_lists(alpha[ct]), as_lists(beta[ct])
        for e in range(sp.n_edges):
            if e not in state.edge_ops[ct]:
                out.append(Candidate(ct, "edge", e, edge_priority(a[e])))
        for i in sp.node_ids:
            if state.node_eligible(ct, i):
                out.append(Candidate(ct, "node", i, node_priority([b[e] for e in sp.incoming(i)], sp.k)))
    return sorted(out, key=lambda c: c.sort_key(sp))


def make_decision(
    state: DiscretizationState, cand: Candidate, alpha, beta, iteration: int
) -> Decision:
    """Turn a candidate into a :class:`Decision` recording α/β at this moment (does not apply it)."""
    sp = state.space
    ct = cand.cell_type
    a, b = as_lists(alpha[ct]), as_lists(beta[ct])
    prio = None if math.isinf(cand.priority) else cand.priority
    if cand.kind == "edge":
        e = cand.index
        row = [float(v) for v in a[e]]
        return Decision(
            step=state.n_done, iteration=iteration, cell_type=ct, kind="edge", edge=sp.edges[e],
            node=sp.edges[e][1], choice=op_set_info(sp.op_set).names[edge_choice(row)], priority=prio,
            alpha=tuple(row), weights=tuple(softmax(row)), beta=(float(b[e]),),
        )
    incoming = list(sp.incoming(cand.index))
    b_in = [float(b[e]) for e in incoming]
    kept = tuple(sp.edges[incoming[p]][0] for p in node_choice(b_in, sp.k))
    return Decision(
        step=state.n_done, iteration=iteration, cell_type=ct, kind="node", edge=None, node=cand.index,
        choice=kept, priority=prio, alpha=None, weights=tuple(sigmoid(b_in)), beta=tuple(b_in),
    )


def decide(
    state: DiscretizationState, alpha, beta, n: int, iteration: int
) -> list[Decision]:
    """Make ``n`` one-step decisions, highest priority first, re-ranking after each; apply them.

    Re-ranking matters: an edge decision can make its node eligible (a forced node at once).
    """
    alpha = {ct: as_lists(v) for ct, v in alpha.items()}
    beta = {ct: as_lists(v) for ct, v in beta.items()}
    made = []
    for _ in range(n):
        queue = candidates(state, alpha, beta)
        if not queue:
            break
        d = make_decision(state, queue[0], alpha, beta, iteration)
        state.apply(d)
        others = [c.priority for c in queue[1:] if not math.isinf(c.priority)]
        d = replace(
            d, valid_architectures=count_valid_architectures(state),
            median_priority=statistics.median(others) if others else None,
        )
        state.history[-1] = d
        made.append(d)
    return made


def supernet_edge_scales(
    before: DiscretizationState, after: DiscretizationState, alpha, beta
) -> dict[str, dict[int, float]]:
    """The weight each edge kept in ``after`` had in the supernet in state ``before``, with the same α/β.

    In the supernet an edge's op is scaled by softmax(α)_op · sigmoid(β) (Eq. 2), by sigmoid(β)
    alone once the edge is decided (Eq. 4) and by 1 once its node is decided (Eq. 1). Deriving the
    cell (``before`` → ``after``) replaces each weight by 1; keeping these weights instead separates
    that jump from the choice of ops (Table 2's "discrete, mixing weights kept").

    Returns:
        ``{cell_type: {edge index: scale}}`` for every edge alive in ``after`` (it must be complete).
    """
    if not after.complete:
        raise SdasError(
            f"the derived state has {after.n_done} of {after.space.total_decisions} decisions; "
            "decide the rest first (run.search's discrete_network does)"
        )
    alpha = {ct: as_lists(v) for ct, v in alpha.items()}
    beta = {ct: as_lists(v) for ct, v in beta.items()}
    out: dict[str, dict[int, float]] = {}
    for ct in after.space.cell_type_names:
        scales = {}
        for e, col in after.edge_ops[ct].items():
            if not after.edge_alive(ct, e):
                continue
            i = after.space.edges[e][1]
            if i in before.node_inputs[ct]:
                scales[e] = 1.0  # Eq. 1: already a plain sum
                continue
            op_weight = 1.0 if e in before.edge_ops[ct] else softmax(alpha[ct][e])[col]
            scales[e] = op_weight * sigmoid([beta[ct][e]])[0]
        out[ct] = scales
    return out
