"""Cells as graphviz DAGs in the paper's colours: a genotype, or a partial discretization state.

Nodes are named as DARTS draws them (its ``plot_genotype``): the inputs ``c_{k-2}`` and ``c_{k-1}``
(gray), the intermediate nodes ``0`` .. ``n_nodes-1`` (light blue; node i of the space is drawn as
``i - n_inputs``), and the output ``c_{k}`` (pink), laid out left to right. Op edges carry the op
name as their label; the gray, unlabelled edges into ``c_{k}`` are the output's concatenation.

In a partial state (:func:`state_dag`):
- a decided edge is solid and labelled with its op (plus sigmoid(β) while its node is undecided,
  since β still learns there and the node's decision will read it);
- an undecided edge is dashed and labelled with its top ops by softmax(α) and sigmoid(β);
- an edge whose node was decided without it is gone (not drawn), except with ``highlight`` set to
  that node's decision: then, at the step that drops them, its other edges are drawn faded and
  dotted, labelled ``dropped``;
- ``highlight`` (a :class:`Decision`, the one just made) draws its edge or node in red, thicker.

:func:`render_svg` needs Graphviz's ``dot`` binary; without it, it raises an :class:`SdasError`
saying how to install it.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import graphviz

from ..core.discretization import Decision, DiscretizationState, as_lists, sigmoid, softmax
from ..core.genotype import Genotype
from ..core.history import EdgeView, History, ReplayStep, replay
from ..core.opsets import op_set_info
from ..core.space import SearchSpace
from ..errors import SdasError, choices

INPUT_COLOR = "gray"
NODE_COLOR = "lightblue"
OUTPUT_COLOR = "pink"
OUTPUT_NAME = "c_{k}"
CONCAT_EDGE_COLOR = "gray"
HIGHLIGHT_COLOR = "red"  # the decision just made
DROPPED_COLOR = "gray70"  # edges its node's decision just dropped

INSTALL_DOT = (
    "Graphviz's `dot` program is not installed (the Python package `graphviz` only calls it); install it: "
    "Debian/Ubuntu: `apt-get install graphviz`; conda: `conda env create -f environment.yml` "
    "(or `conda install -c conda-forge graphviz`); macOS: `brew install graphviz`; then restart the kernel"
)


def node_name(node: int, n_inputs: int = 2) -> str:
    """DARTS' name of a cell node: inputs ``c_{k-2}``, ``c_{k-1}``, intermediate nodes ``0``, ``1``, ...."""
    if node < n_inputs:
        return f"c_{{k-{n_inputs - node}}}"
    return str(node - n_inputs)


def _base_graph(name: str, n_inputs: int, node_ids: Sequence[int]) -> graphviz.Digraph:
    """The cell's nodes, coloured and laid out left to right; edges are added by the caller."""
    dot = graphviz.Digraph(name=name, format="svg")
    dot.attr(rankdir="LR")
    dot.attr("node", style="filled,rounded", shape="rect", fontname="helvetica", fontsize="16", height="0.5")
    dot.attr("edge", fontname="helvetica", fontsize="12")
    for j in range(n_inputs):
        dot.node(node_name(j, n_inputs), fillcolor=INPUT_COLOR)
    for i in node_ids:
        dot.node(node_name(i, n_inputs), fillcolor=NODE_COLOR)
    dot.node(OUTPUT_NAME, fillcolor=OUTPUT_COLOR)
    return dot


def _concat_edges(dot: graphviz.Digraph, nodes: Sequence[int], n_inputs: int) -> None:
    for i in nodes:
        dot.edge(node_name(i, n_inputs), OUTPUT_NAME, color=CONCAT_EDGE_COLOR, arrowsize="0.6")


def genotype_dag(genotype: Genotype, cell_type: str) -> graphviz.Digraph:
    """One cell of a genotype: a solid edge per kept (op, input), labelled with the op name.

    Args:
        genotype: the architecture. cell_type: which of its cells (``"normal"``, ``"reduce"``, ...).
    """
    cell = genotype[cell_type]
    n_inputs = cell.n_inputs
    node_ids = range(n_inputs, n_inputs + len(cell.nodes))
    dot = _base_graph(cell_type, n_inputs, node_ids)
    for op, j, i in cell.edges:
        dot.edge(node_name(j, n_inputs), node_name(i, n_inputs), label=op, style="solid")
    _concat_edges(dot, cell.concat, n_inputs)
    return dot


def _cell_rows(x, cell_type: str):
    """α or β of one cell type from ``{cell_type: rows}`` or from that cell type's rows themselves."""
    if x is None:
        return None
    if isinstance(x, Mapping):
        if cell_type not in x:
            raise SdasError(f"α/β have no cell type {cell_type!r}; they have {choices(x)}")
        x = x[cell_type]
    return as_lists(x)


def edge_views(space: SearchSpace, state: DiscretizationState, alpha, beta, cell_type: str) -> dict[int, EdgeView]:
    """Every undecided, alive edge of one cell type: ``{edge index: EdgeView}`` (softmax(α), sigmoid(β)).

    Args:
        alpha: ``{cell_type: (E, n_ops)}`` or one cell type's (E, n_ops); beta likewise with (E,).
    """
    a, b = _cell_rows(alpha, cell_type), _cell_rows(beta, cell_type)
    out = {}
    for e, edge in enumerate(space.edges):
        if state.edge_op(cell_type, e) is None and state.edge_alive(cell_type, e):
            out[e] = EdgeView(cell_type, edge, tuple(softmax(a[e])), sigmoid([b[e]])[0])
    return out


def dropped_edges(space: SearchSpace, decision: Decision | None, cell_type: str) -> list[int]:
    """The edges a node decision drops (its incoming edges from predecessors it did not keep), in
    ``cell_type``; [] for an edge decision, None, or a decision of another cell type."""
    if decision is None or decision.kind != "node" or decision.cell_type != cell_type:
        return []
    return [e for e in space.incoming(decision.node) if space.edges[e][0] not in decision.choice]


def state_dag(
    space: SearchSpace, state: DiscretizationState, alpha, beta, cell_type: str, top: int = 2,
    highlight: Decision | None = None,
) -> graphviz.Digraph:
    """One cell of a partial discretization state.

    Decided edges are solid and labelled with their op; undecided (alive) edges are dashed and
    labelled with their ``top`` ops by softmax(α) and sigmoid(β), e.g.
    ``sep_conv_3x3 0.31 / max_pool_3x3 0.22`` over ``sigmoid(β) 0.52``; edges dropped by their
    node's decision are not drawn, except those dropped by ``highlight`` (faded, dotted, ``dropped``).

    Args:
        space: the search space. state: the decisions so far. cell_type: which cell to draw.
        alpha: ``{cell_type: (E, n_ops)}`` or this cell type's (E, n_ops); beta: ``{cell_type: (E,)}``
            or (E,). Tensors, arrays or lists. Both may be None (undecided edges then say so).
        top: how many ops to show on an undecided edge.
        highlight: the decision just made (the last of ``state``'s), drawn in red; a node decision's
            dropped edges are drawn faded. None (or one of another cell type) highlights nothing here.
    """
    space.cell_type(cell_type)  # a clear error for an unknown cell type
    names = op_set_info(space.op_set).names
    b = _cell_rows(beta, cell_type)
    views = edge_views(space, state, alpha, beta, cell_type) if alpha is not None and beta is not None else None
    mine = highlight if highlight is not None and highlight.cell_type == cell_type else None
    hi_edge = space.edges.index(tuple(mine.edge)) if mine is not None and mine.kind == "edge" else None
    dropped = set(dropped_edges(space, mine, cell_type))
    dot = _base_graph(cell_type, space.n_inputs, space.node_ids)
    if mine is not None and mine.kind == "node":
        dot.node(node_name(mine.node, space.n_inputs), color=HIGHLIGHT_COLOR, penwidth="3")
    for e, (j, i) in enumerate(space.edges):
        tail, head = node_name(j, space.n_inputs), node_name(i, space.n_inputs)
        op = state.edge_op(cell_type, e)
        if e in dropped:  # dropped by the decision just made: shown this once, faded
            label = "dropped" + (f"\\n{names[op]}" if op is not None else "")
            dot.edge(tail, head, label=label, style="dotted", color=DROPPED_COLOR, fontcolor=DROPPED_COLOR)
            continue
        if not state.edge_alive(cell_type, e):
            continue  # its node kept other predecessors
        hi = {"color": HIGHLIGHT_COLOR, "fontcolor": HIGHLIGHT_COLOR} if e == hi_edge else {}
        if op is not None:
            node_decided = i in state.node_inputs[cell_type]
            label = names[op]
            if not node_decided and b is not None:
                label += f"\\nsigmoid(β) {sigmoid([b[e]])[0]:.2f}"
            width = "3" if e == hi_edge else "2" if node_decided else "1"
            dot.edge(tail, head, label=label, style="solid", penwidth=width, **hi)
        elif views is None:
            dot.edge(tail, head, label="undecided", style="dashed")
        else:
            v = views[e]
            ops = " / ".join(f"{name} {w:.2f}" for name, w in v.top(names, top))
            dot.edge(tail, head, label=f"{ops}\\nsigmoid(β) {v.beta:.2f}", style="dashed")
    _concat_edges(dot, space.node_ids, space.n_inputs)
    return dot


def replay_step(history: History, step: int | ReplayStep) -> ReplayStep:
    """Step ``step`` of ``replay(history)`` (a ReplayStep is returned as it is)."""
    if isinstance(step, ReplayStep):
        return step
    M = len(history.decisions)
    if not 0 <= step <= M:
        raise SdasError(f"step {step} is outside 0..{M} (the history has {M} decisions)")
    return next(itertools.islice(replay(history), step, None))


def step_arch(history: History, step: ReplayStep) -> tuple[dict | None, dict | None]:
    """The α and β the replay ranks ``step``'s queue with: those of the iteration of its next decision
    (of the last decision once all are made); (None, None) for a history without decisions."""
    if not history.decisions:
        return None, None
    return history.arch_at(step.iteration)


def step_dag(history: History, step: int | ReplayStep, cell_type: str, top: int = 2) -> graphviz.Digraph:
    """:func:`state_dag` of one replay step: ``step`` decisions made, drawn with that step's α/β.

    Args:
        history: a loaded decision history (version 2: it holds α/β). step: a step number 0..M or
            a :class:`ReplayStep`. cell_type: which cell to draw. top: ops shown on undecided edges.
    """
    s = replay_step(history, step)
    alpha, beta = step_arch(history, s)
    return state_dag(history.space, s.state, alpha, beta, cell_type, top=top)


def render_svg(dot: graphviz.Digraph) -> str:
    """The DAG as SVG text, ready to inline in HTML (from ``<svg``; the XML prolog is dropped).

    Raises:
        SdasError: Graphviz's ``dot`` binary is missing; the message says how to install it.
    """
    try:
        svg = dot.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise SdasError(INSTALL_DOT) from None
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


__all__ = [
    "INSTALL_DOT", "node_name", "genotype_dag", "edge_views", "dropped_edges", "state_dag", "replay_step", "step_arch", "step_dag",
    "render_svg",
]
