"""A search's decision history as a versioned document, and its replay step by step (no torch).

``decisions.json`` (format ``sdas-history``, version 2) holds:
- ``space``: the search space as data (:meth:`SearchSpace.to_dict`): op set, cell types and strides,
  nodes, k;
- ``decisions``: one row per one-step discretization (:meth:`Decision.to_dict`);
- ``snapshots``: at every iteration where decisions were made, the full α and β of every cell type
  just before them;
- the run's schedule, seed, preset, data set, T and M, and (optional; files written before it lack
  it) the number of epochs, so that an iteration can be read as an epoch;
- ``warmup_iterations``: the weight-only iterations before the schedule (0, or absent in files
  written before it existed); decision and snapshot iterations count from its end (1..T);
- ``first_decision``: the iteration of the first decision and the supernet's w-train accuracy then
  (absent in older files).

:func:`replay` walks the history: at step i (i decisions made) it gives the discretization state,
the valid-architecture count, every undecided edge's softmax(α) row and sigmoid(β), and the priority
queue, recomputed from the stored α/β (not copied from the recorded rows), so its first entry is
decision i. The stepper widget is built on it. Version-1 files (no snapshots, no space) still load;
their replay says what it lacks.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import SdasError
from .counting import count_valid_architectures
from .discretization import (
    Candidate, Decision, DiscretizationState, as_lists, candidates, edge_choice, sigmoid, softmax,
)
from .opsets import op_set_info
from .space import NORMAL, REDUCE, SearchSpace

FORMAT = "sdas-history"
VERSION = 2


def arch_snapshot(iteration: int, alpha: Mapping, beta: Mapping) -> dict:
    """α and β of every cell type at ``iteration`` as plain lists (α/β: tensors, arrays or lists)."""
    return {
        "iteration": int(iteration),
        "alpha": {ct: as_lists(a) for ct, a in alpha.items()},
        "beta": {ct: as_lists(b) for ct, b in beta.items()},
    }


def history_document(
    space: SearchSpace, decisions: Sequence[Decision], snapshots: Sequence[dict], *, schedule: str, seed: int,
    preset: str, dataset: str, T: int, warmup_iterations: int = 0, first_decision: dict | None = None,
    epochs: int | None = None,
) -> dict:
    """The JSON document of a search's history (what decisions.json holds).

    Args:
        epochs: the search's epochs (T = epochs x iterations per epoch); None leaves the field out.
    """
    return {
        "format": FORMAT, "version": VERSION,
        "schedule": schedule, "seed": seed, "preset": preset, "dataset": dataset, "T": T, "M": space.total_decisions,
        "warmup_iterations": int(warmup_iterations), "first_decision": first_decision,
        **({"epochs": int(epochs)} if epochs is not None else {}),
        "space": space.to_dict(),
        "decisions": [d.to_dict() for d in decisions],
        "snapshots": list(snapshots),
    }


@dataclass(frozen=True)
class History:
    """A loaded decision history.

    Attributes:
        space: the search space. decisions: the one-step decisions in order.
        snapshots: ``{iteration: (alpha, beta)}`` with α/β as nested lists per cell type, or None
            for a version-1 file. meta: schedule, seed, preset, dataset, T, M and epochs (None in a
            file written before epochs were recorded). version: file version.
    """

    space: SearchSpace
    decisions: tuple[Decision, ...]
    snapshots: dict[int, tuple[dict, dict]] | None
    meta: dict = field(default_factory=dict)
    version: int = VERSION

    @property
    def T(self) -> int | None:
        return self.meta.get("T")

    @property
    def warmup_iterations(self) -> int:
        """Weight-only iterations before the schedule's t = 1 (0 for files written before the warm-up)."""
        return self.meta.get("warmup_iterations") or 0

    @property
    def first_decision_train_acc(self) -> float:
        """The supernet's w-train accuracy at the first decision; NaN where the file does not record it."""
        record = self.meta.get("first_decision") or {}
        value = record.get("train_acc")
        return float("nan") if value is None else float(value)

    @property
    def epochs(self) -> int | None:
        """The search's epochs, or None if the file does not record them."""
        return self.meta.get("epochs")

    def epoch_of(self, iteration: int) -> int | None:
        """The epoch (1..epochs) that scheduled iteration t (1..T) falls in, a weight-only warm-up's
        iterations counted before it; None if epochs or T are not recorded."""
        E, T, W = self.epochs, self.T, self.warmup_iterations
        if not E or not T or (T + W) % E:
            return None
        per_epoch = (T + W) // E
        return min(E, max(1, -(-(int(iteration) + W) // per_epoch)))  # ceil((W + t) / iterations per epoch)

    def decisions_made_by(self, iteration: int) -> int:
        """M_t read from the history: how many decisions were made at iterations <= t."""
        return sum(1 for d in self.decisions if d.iteration <= iteration)

    def decision_curve(self) -> list[tuple[int, int]]:
        """M_t as the history made it: (t, M_t) at t = 0 and at every iteration where decisions were made."""
        points = [(0, 0)]
        for n, d in enumerate(self.decisions, start=1):
            if d.iteration == points[-1][0]:
                points[-1] = (d.iteration, n)
            else:
                points.append((d.iteration, n))
        return points

    def arch_at(self, iteration: int) -> tuple[dict, dict]:
        """α and β just before the decisions of ``iteration``."""
        if self.snapshots is None:
            raise SdasError(
                "this decision history is format version 1 (written before sdas_lib stored α/β); it has "
                "no α/β to replay the priority queue from: run the search again to record them"
            )
        if iteration not in self.snapshots:
            raise SdasError(f"the history has no α/β snapshot for iteration {iteration}; the file is incomplete")
        return self.snapshots[iteration]

    @classmethod
    def from_dict(cls, doc: Any, where: str = "decision history") -> "History":
        """Validate a decisions.json document (version 1 or 2)."""
        if not isinstance(doc, Mapping) or "decisions" not in doc:
            raise SdasError(f"{where} is not an sdas decision history (no 'decisions' list)")
        if doc.get("format", FORMAT) != FORMAT:
            raise SdasError(f"{where} has format {doc.get('format')!r}, expected {FORMAT!r}")
        try:
            version = int(doc.get("version", 1))
        except (TypeError, ValueError):
            raise SdasError(f"{where} has format version {doc.get('version')!r}, expected a whole number") from None
        if version > VERSION:
            raise SdasError(f"{where} is format version {version}; this sdas_lib reads up to {VERSION}: upgrade sdas_lib")
        if version < 1:
            raise SdasError(f"{where} has format version {version}; versions start at 1")
        meta = {k: doc.get(k) for k in ("schedule", "seed", "preset", "dataset", "T", "M", "first_decision", "epochs")}
        meta["warmup_iterations"] = int(doc.get("warmup_iterations") or 0)  # older files: no warm-up
        if meta["epochs"] is not None and (not isinstance(meta["epochs"], int) or isinstance(meta["epochs"], bool)
                                           or meta["epochs"] < 1):
            raise SdasError(f"{where} has 'epochs' {meta['epochs']!r}, expected a positive whole number")
        if version == 1:  # op set and cell types only; every version-1 file is an image search
            space = SearchSpace(str(doc.get("op_set", "o2d")), (NORMAL, REDUCE))
            if list(doc.get("cell_types", space.cell_type_names)) != list(space.cell_type_names):
                raise SdasError(f"{where} (version 1) has cell types {doc.get('cell_types')}, not an image search")
            snapshots = None
        else:
            space = SearchSpace.from_dict(doc.get("space"))
            snapshots = {}
            raw_snapshots = doc.get("snapshots", [])
            if not isinstance(raw_snapshots, list):
                raise SdasError(f"{where} has 'snapshots' of type {type(raw_snapshots).__name__}, expected a list")
            for snap in raw_snapshots:
                try:
                    it, alpha, beta = int(snap["iteration"]), dict(snap["alpha"]), dict(snap["beta"])
                except (KeyError, TypeError, ValueError) as err:
                    raise SdasError(f"{where} has a malformed α/β snapshot ({type(err).__name__} {err})") from None
                _check_snapshot(space, it, alpha, beta, where)  # replay indexes them without further checks
                snapshots[it] = (alpha, beta)
        rows = doc["decisions"]
        if not isinstance(rows, list) or not all(isinstance(d, Mapping) for d in rows):
            raise SdasError(f"{where}: 'decisions' must be a list of objects, one per decision")
        decisions = tuple(Decision.from_dict(d) for d in rows)
        DiscretizationState.from_history(space, decisions)  # every decision must be legal in order
        return cls(space, decisions, snapshots, meta, version)


def _check_snapshot(space: SearchSpace, iteration: int, alpha: dict, beta: dict, where: str) -> None:
    """α of every cell type must be (E, n_ops) and β (E,), of finite numbers."""

    def numbers(v, n: int) -> bool:
        return (
            isinstance(v, (list, tuple)) and len(v) == n
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
        )

    E, n_ops = space.n_edges, space.n_ops
    for ct in space.cell_type_names:
        a, b = alpha.get(ct), beta.get(ct)
        if not (isinstance(a, (list, tuple)) and len(a) == E and all(numbers(row, n_ops) for row in a)) or not numbers(b, E):
            raise SdasError(
                f"{where} has a malformed α/β snapshot at iteration {iteration}: cell type {ct!r} needs α of "
                f"{E}x{n_ops} and β of {E} finite numbers"
            )


def load_history(path: str | os.PathLike) -> History:
    """Read and validate a decisions.json (or a run folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "decisions.json"
    if not path.is_file():
        raise SdasError(f"decision history {str(path)!r} does not exist; a search run writes decisions.json in its folder")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SdasError(f"{str(path)!r} is not a readable JSON file ({err})") from None
    try:
        return History.from_dict(doc, where=repr(str(path)))
    except SdasError as err:
        msg = str(err)
        raise SdasError(msg if str(path) in msg else f"{str(path)!r}: {msg}") from None


@dataclass(frozen=True)
class EdgeView:
    """An undecided edge as the stepper shows it: softmax(α) over the op set and sigmoid(β)."""

    cell_type: str
    edge: tuple[int, int]
    weights: tuple[float, ...]
    beta: float

    def top(self, op_names: Sequence[str], n: int = 2) -> list[tuple[str, float]]:
        """The ``n`` ops with the largest weights, as (name, weight), best first."""
        order = sorted(range(len(self.weights)), key=lambda c: (-self.weights[c], c))[:n]
        return [(op_names[c], self.weights[c]) for c in order]


@dataclass(frozen=True)
class ReplayStep:
    """The search at step i: i decisions made, decision i (if any) next.

    Attributes:
        step: decisions made so far (0..M). iteration: the iteration of the next decision (of the
            last one once all are made). state: the discretization state. valid_architectures: count.
        edges: every undecided (and still alive) edge with its softmax(α) row and sigmoid(β).
        queue: the priority queue now, best first, recomputed from the stored α/β.
        next_decision: the recorded decision i, or None at the end.
    """

    step: int
    iteration: int
    state: DiscretizationState
    valid_architectures: int
    edges: tuple[EdgeView, ...]
    queue: tuple[Candidate, ...]
    next_decision: Decision | None


def replay(history: History) -> Iterator[ReplayStep]:
    """Yield the M + 1 steps of a history, from nothing decided to everything decided."""
    space = history.space
    state = DiscretizationState(space)
    n = len(history.decisions)
    alpha = beta = None
    for i in range(n + 1):
        nxt = history.decisions[i] if i < n else None
        if nxt is not None:
            alpha, beta = history.arch_at(nxt.iteration)
        iteration = nxt.iteration if nxt is not None else (history.decisions[-1].iteration if n else 0)
        if alpha is None:  # an empty history: nothing to show but the start
            alpha, beta = {}, {}
        yield ReplayStep(
            step=i, iteration=iteration, state=state.copy(), valid_architectures=count_valid_architectures(state),
            edges=_edge_views(state, alpha, beta),
            queue=tuple(candidates(state, alpha, beta)) if nxt is not None else (),
            next_decision=nxt,
        )
        if nxt is not None:
            state.apply(nxt)


def _edge_views(state: DiscretizationState, alpha: Mapping, beta: Mapping) -> tuple[EdgeView, ...]:
    space = state.space
    out = []
    for ct in space.cell_type_names:
        if ct not in alpha:
            continue
        for e, edge in enumerate(space.edges):
            if e in state.edge_ops[ct] or not state.edge_alive(ct, e):
                continue
            out.append(EdgeView(ct, edge, tuple(softmax(alpha[ct][e])), sigmoid([beta[ct][e]])[0]))
    return tuple(out)


def counts_at(history: History, fractions: Sequence[float], cell_type: str | None = None) -> list[dict]:
    """The valid-architecture count at each t/T in ``fractions`` (Table 1; Fig. 7 with ``cell_type``).

    At t = ⌊f·T⌋ the decisions made so far are those with iteration <= t. Returns rows with
    ``t/T``, ``t``, ``decisions`` and ``valid_architectures`` (exact integers; of one cell type if given).
    """
    from fractions import Fraction

    from .counting import count_cell_architectures

    if not history.T:
        raise SdasError("the history does not record T; it cannot be read against t/T")
    rows = []
    for f in fractions:
        t = int(Fraction(str(f)) * history.T)  # floor of an exact product
        state = DiscretizationState.from_history(history.space, [d for d in history.decisions if d.iteration <= t])
        count = count_valid_architectures(state) if cell_type is None else count_cell_architectures(state, cell_type)
        rows.append({"t/T": f, "t": t, "decisions": state.n_done, "valid_architectures": count})
    return rows


def random_walk_document(
    space: SearchSpace, T: int, schedule: str = "A", seed: int = 0, step: float = 0.3, epochs: int | None = None
) -> dict:
    """A decisions.json document made without a network: α/β take a Gaussian random walk (one step
    per iteration) and the real schedule and decision rules decide on them, with a snapshot before
    each iteration's decisions, as the search loop records. For tests and demos that need a history
    in seconds; nothing in it was learned."""
    import random

    from .discretization import decide
    from .schedule import get_schedule

    rng, f = random.Random(seed), get_schedule(schedule)
    alpha = {ct: [[0.0] * space.n_ops for _ in space.edges] for ct in space.cell_type_names}
    beta = {ct: [0.0] * space.n_edges for ct in space.cell_type_names}
    state, snapshots = DiscretizationState(space), []
    for t in range(1, T + 1):
        for ct in space.cell_type_names:
            alpha[ct] = [[v + rng.gauss(0, step) for v in row] for row in alpha[ct]]
            beta[ct] = [v + rng.gauss(0, step) for v in beta[ct]]
        n = f(t, T, space.total_decisions) - state.n_done
        if n:
            snapshots.append(arch_snapshot(t, alpha, beta))
            decide(state, alpha, beta, n, t)
    return history_document(space, state.history, snapshots, schedule=schedule, seed=seed, preset="random walk",
                            dataset="none (random-walk α/β)", T=T, epochs=epochs)


def mixed_edge_fraction(history: History) -> list[float]:
    """For each iteration t = 1..T, the fraction of all edges (every cell type) still mixing all ops
    during t: the cost model behind the speedup, since a decided edge computes only its op."""
    if not history.T:
        raise SdasError("the history does not record T")
    total = history.space.n_edges * len(history.space.cell_type_names)
    edge_iterations = sorted(d.iteration for d in history.decisions if d.kind == "edge")
    out, k = [], 0
    for t in range(1, history.T + 1):
        while k < len(edge_iterations) and edge_iterations[k] < t:  # decided after an earlier iteration
            k += 1
        out.append((total - k) / total)
    return out


def search_cost_ratios(mixed_fractions: Sequence[float], warmup_iterations: int = 0) -> dict[str, float]:
    """Predicted cost of a search relative to DAS's, from its mixed-edge fractions (:func:`mixed_edge_fraction`).

    A mixing edge costs the same in both; a decided edge is taken as free (the cost model). DAS mixes
    every edge on every iteration, so its fractions are all 1. Both pay the warm-up's W iterations in
    full (every edge mixing, no α/β step), which pulls the whole search's ratio toward 1.

    Returns:
        ``scheduled``: mean fraction over the T scheduled iterations; ``whole``: (W + Σ fractions) / (W + T).
    """
    if not len(mixed_fractions):
        raise SdasError("no mixed-edge fractions: the search has no scheduled iteration (T = 0)")
    if warmup_iterations < 0:
        raise SdasError(f"warmup_iterations must not be negative, got {warmup_iterations}")
    total = float(sum(mixed_fractions))
    T = len(mixed_fractions)
    return {"scheduled": total / T, "whole": (warmup_iterations + total) / (warmup_iterations + T)}


def history_cost_ratios(history: History) -> dict[str, float]:
    """:func:`search_cost_ratios` of a loaded history, with the warm-up it records."""
    return search_cost_ratios(mixed_edge_fraction(history), history.warmup_iterations)


def kept_edge_scales(history: History) -> list[dict]:
    """Each kept edge's weight in the supernet just before its node was decided, which Eq. 1 then
    replaces by 1: softmax(α)_op · sigmoid(β) (Eq. 2), where softmax(α)_op counts as 1 once the edge's
    op was decided at an earlier iteration (a decided edge computes its op alone, still scaled by
    sigmoid(β)).

    For DAS every node is decided at t = T, so every kept edge jumps from its mixed weight to 1 at once,
    with no training after it; BatchNorm keeps statistics gathered at the small weight.

    Returns:
        one dict per kept edge: ``cell_type``, ``edge`` (j, i), ``op``, ``iteration`` (its node's
        decision), ``op_weight``, ``sigmoid_beta`` and ``scale`` (their product).
    """
    names = list(op_set_info(history.space.op_set).names)
    edge_decided_at: dict[tuple[str, int], int] = {}
    edge_op: dict[tuple[str, int], str] = {}
    out = []
    for d in history.decisions:
        if d.kind == "edge":
            e = history.space.edges.index(tuple(d.edge))
            edge_decided_at[(d.cell_type, e)] = d.iteration
            edge_op[(d.cell_type, e)] = str(d.choice)
            continue
        alpha, beta = history.arch_at(d.iteration)
        for j in d.choice:
            e = history.space.edges.index((int(j), d.node))
            op = edge_op.get((d.cell_type, e))
            if op is None:  # not decided on its own: the argmax op of its α row
                op = names[edge_choice(alpha[d.cell_type][e])]
            earlier = edge_decided_at.get((d.cell_type, e), d.iteration) < d.iteration
            op_weight = 1.0 if earlier else softmax(alpha[d.cell_type][e])[names.index(op)]
            sig = sigmoid([beta[d.cell_type][e]])[0]
            out.append({"cell_type": d.cell_type, "edge": (int(j), d.node), "op": op, "iteration": d.iteration,
                        "op_weight": op_weight, "sigmoid_beta": sig, "scale": op_weight * sig})
    return out


def describe_candidate(c: Candidate, space: SearchSpace, alpha: Mapping) -> str:
    """One line for a queue entry: 'reduce edge 0->2: max_pool_3x3 (priority 0.0123)'."""
    if c.kind == "edge":
        j, i = space.edges[c.index]
        op = op_set_info(space.op_set).names[edge_choice(alpha[c.cell_type][c.index])]
        where = f"edge {j}->{i}: {op}"
    else:
        where = f"node {c.index}"
    prio = "forced" if c.priority == float("inf") else f"priority {c.priority:.4g}"
    return f"{c.cell_type} {where} ({prio})"


__all__ = [
    "FORMAT", "VERSION", "History", "ReplayStep", "EdgeView", "arch_snapshot", "history_document", "load_history",
    "replay", "describe_candidate", "counts_at", "mixed_edge_fraction", "search_cost_ratios",
    "history_cost_ratios", "kept_edge_scales", "random_walk_document",
]
