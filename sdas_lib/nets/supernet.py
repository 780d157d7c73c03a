"""The search network (supernet): relaxed cells whose edges mix all ops (Eq. 2) until decided.

A decided edge holds and computes only its op (Eq. 4); a decided node drops its other edges and
sums the kept ones without β (Eq. 1). Pruned ops are deleted, so they cost nothing and their
weights leave the optimizer (:func:`prune_optimizer`).

Network layout (Fig. 5a, docs/paper_notes.md): a 3×3 conv stem with C1 channels, then cells; channels
double at each reduction cell; C2 = n_nodes × C is the output width of the first cell, where C
is the per-node width; global average pooling and a linear classifier. The channel bookkeeping is
:func:`sdas_lib.core.layout.cell_plan`, shared with the evaluation networks.

The same class is the video supernet (Fig. 5c) when the space's op set is a video one: the stem is
then :class:`~sdas_lib.nets.stems.VideoStem` (per-frame, H and W divided by 4), the pooling is 3D,
and the input is a clip (N, C, T, H, W); cells, α/β, decisions and pruning are the same code.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.discretization import DiscretizationState
from ..core.layout import CellPlan, cell_plan, check_input_size, check_strides, min_input_size
from ..core.space import SearchSpace
from ..errors import SdasError, choices
from ..ops import get_op_set
from .fused import FUSED_OP_SETS, mixed_o2d_edges
from .fused_video import mixed_video_edges
from .stacking import preprocess
from .stems import VideoStem


class ArchParameters(nn.Module):
    """α (E, n_ops) and β (E,) for every cell type, shared by all cells of that type; start at 0."""

    def __init__(self, space: SearchSpace):
        super().__init__()
        self.space = space
        E, n_ops = space.n_edges, space.n_ops
        self.alpha = nn.ParameterDict({c: nn.Parameter(torch.zeros(E, n_ops)) for c in space.cell_type_names})
        self.beta = nn.ParameterDict({c: nn.Parameter(torch.zeros(E)) for c in space.cell_type_names})

    def as_dicts(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        return dict(self.alpha), dict(self.beta)

    def learnable(self, state: DiscretizationState) -> list[nn.Parameter]:
        """The α/β tensors that still influence the network: an α with an undecided edge, a β with
        an undecided node. Decided parts get no gradient and no optimizer step."""
        out = []
        for c in self.space.cell_type_names:
            if len(state.edge_ops[c]) < self.space.n_edges:
                out.append(self.alpha[c])
            if not state.cell_complete(c):
                out.append(self.beta[c])
        return out

    def freeze_decided(self, state: DiscretizationState, snapshot: Mapping[str, torch.Tensor]) -> None:
        """Restore the rows of α/β that are no longer used to their values in ``snapshot``.

        Adam's weight decay and momentum would otherwise keep moving them. The paper removes α of a
        decided edge; restoring them keeps the tensors rectangular while leaving them unchanged.
        """
        with torch.no_grad():
            for c in self.space.cell_type_names:
                rows = state.frozen_alpha_rows(c)
                if rows:
                    self.alpha[c][rows] = snapshot[f"alpha.{c}"][rows]
                rows = state.frozen_beta_rows(c)
                if rows:
                    self.beta[c][rows] = snapshot[f"beta.{c}"][rows]

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.state_dict().items()}


class SearchEdge(nn.Module):
    """Edge (j, i): Σ_o softmax(α)_o · o(x) over the op set (Eq. 2, without β) until decided.

    Ops are built by :meth:`~sdas_lib.ops.OpSet.build_search` (non-affine BN, pools + BN).
    """

    def __init__(self, op_set: str, C: int, stride):
        super().__init__()
        ops = get_op_set(op_set)
        self.ops = nn.ModuleDict({name: ops.build_search(name, C, stride) for name in ops.names})
        self.decided = False  # until decided the edge holds every op, in α's column order

    def decide(self, op_name: str) -> list[nn.Parameter]:
        """Keep only ``op_name``; returns the parameters of the deleted ops."""
        if self.decided:
            return []
        removed = [p for name, op in self.ops.items() if name != op_name for p in op.parameters()]
        keep = self.ops[op_name]
        self.ops = nn.ModuleDict({op_name: keep})
        self.decided = True
        return removed

    def forward(self, x: torch.Tensor, coefs=None, acc: torch.Tensor | None = None) -> torch.Tensor:
        """acc + Σ_o coefs[o] · o(x) over the ops still held.

        ``coefs`` holds one coefficient per held op: softmax(α)_o · sigmoid(β) folded together
        (Eq. 2), sigmoid(β) alone for a decided edge (Eq. 4), or None for a plain sum (Eq. 1).
        Tensor coefficients keep the graph to α/β (the α/β step); Python floats are constants (the
        w step) and fuse the scaling into the addition.
        """
        for c, op in zip(coefs if coefs is not None else [None] * len(self.ops), self.ops.values()):
            acc = _axpy(acc, op(x), c)
        return acc


def _axpy(acc: torch.Tensor | None, y: torch.Tensor, c) -> torch.Tensor:
    """acc + c·y in one kernel; acc None means 0 and c None means 1."""
    if c is None:
        return y if acc is None else acc + y
    if isinstance(c, torch.Tensor):
        return y * c if acc is None else torch.addcmul(acc, y, c)
    return y * c if acc is None else torch.add(acc, y, alpha=c)


class SearchCell(nn.Module):
    """A relaxed cell: node i = Σ_j edge(j, i) (Eq. 2 with β, Eq. 4 once the edge is decided,
    Eq. 1 once the node is decided); output = concat of the intermediate nodes (N, n_nodes·C, ...).

    ``fused``: the mixed edges that read one node run together (:mod:`sdas_lib.nets.fused`,
    :mod:`sdas_lib.nets.fused_video`), on the
    same parameters; otherwise every edge runs its ops one by one (the reference).
    """

    def __init__(self, space: SearchSpace, plan: CellPlan, fused: bool = False):
        super().__init__()
        self.space = space
        self.fused = fused
        self.cell_type = plan.cell_type
        self.reduction = plan.reduction
        ndim = get_op_set(space.op_set).ndim
        self.preprocess0 = preprocess(plan.C_pp, plan.C, plan.prev_stride, ndim, affine=False)
        self.preprocess1 = preprocess(plan.C_p, plan.C, 1, ndim, affine=False)
        self.edges = nn.ModuleDict(
            {
                str(e): SearchEdge(space.op_set, plan.C, plan.stride if j < space.n_inputs else 1)
                for e, (j, _) in enumerate(space.edges)
            }
        )
        self.node_inputs: dict[int, tuple[int, ...]] = {}
        # {edge index: constant scale} for edges of decided nodes that keep a supernet weight in
        # place of Eq. 1's 1 (Table 2's "mixing weights kept"; SearchNetwork.keep_mixing_weights).
        self.kept_scales: dict[int, float] = {}
        # (node, [(edge index, source j)]) for the edges still held, refreshed on each decision.
        self._plan = self._make_plan()

    def _make_plan(self):
        plan = []
        for i in self.space.node_ids:
            plan.append((i, [(e, self.space.edges[e][0]) for e in self.space.incoming(i) if str(e) in self.edges]))
        # The fused path's order: per source node j, its mixed edges [(e, i)] (with their rows of α/β
        # as an index tensor) and its decided ones.
        sources: dict[int, tuple[list, torch.Tensor, list]] = {}
        for e, (j, i) in enumerate(self.space.edges):
            if str(e) in self.edges:
                mixed, _, decided = sources.setdefault(j, ([], None, []))
                (decided if self.edges[str(e)].decided else mixed).append((e, i))
        self._sources = {j: (m, torch.tensor([e for e, _ in m], dtype=torch.long), d) for j, (m, _, d) in sources.items()}
        return plan

    def sync(self, state: DiscretizationState) -> list[nn.Parameter]:
        """Prune to ``state``: decided edges keep their op, dropped edges go. Returns removed params."""
        ops = get_op_set(self.space.op_set)
        removed: list[nn.Parameter] = []
        for e, col in state.edge_ops[self.cell_type].items():
            if str(e) in self.edges:
                removed += self.edges[str(e)].decide(ops.names[col])
        for i, kept in state.node_inputs[self.cell_type].items():
            self.node_inputs[i] = kept
            for e in self.space.incoming(i):
                if self.space.edges[e][0] not in kept and str(e) in self.edges:
                    removed += list(self.edges[str(e)].parameters())
                    del self.edges[str(e)]
        self._plan = self._make_plan()
        return removed

    def _plain_coefs(self, e: int):
        """A decided node's edge: a plain sum (Eq. 1), or its kept supernet weight."""
        scale = self.kept_scales.get(e)
        return None if scale is None else (scale,)

    def forward(self, s0, s1, alpha_w, beta_w):
        """alpha_w: softmax(α) (E, n_ops) and beta_w: sigmoid(β) (E,), as tensors (α/β step) or
        nested Python lists of constants (w step, reference path only); None once no longer used."""
        if self.fused:
            return self.forward_fused(s0, s1, alpha_w, beta_w)
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i, edges in self._plan:
            plain = i in self.node_inputs  # decided node: Eq. 1, a plain sum without β
            acc = None
            for e, j in edges:
                edge = self.edges[str(e)]
                if edge.decided:
                    coefs = self._plain_coefs(e) if plain else (beta_w[e],)  # Eq. 1, or Eq. 4: sigmoid(β) · o(x)
                else:  # an undecided edge implies an undecided node
                    w = alpha_w[e]
                    if isinstance(w, torch.Tensor):
                        coefs = (w * beta_w[e]).unbind(0)  # Eq. 2: sigmoid(β) · softmax(α)_o
                    else:
                        coefs = [wo * beta_w[e] for wo in w]
                acc = edge(states[j], coefs, acc)
            states.append(acc)
        return torch.cat(states[self.space.n_inputs :], dim=1)

    def forward_fused(self, s0, s1, alpha_w, beta_w):
        """The same cell, source node by source node: the mixed edges that read node j run as one
        :func:`~sdas_lib.nets.fused.mixed_o2d_edges` call; decided edges run their one op.
        alpha_w and beta_w are tensors (detached ones in the w step) or None."""
        n_in = self.space.n_inputs
        ops = get_op_set(self.space.op_set)
        kinds = [ops.kind(name) for name in ops.names]
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        acc: dict[int, torch.Tensor] = {}
        coefs = None if alpha_w is None else alpha_w * beta_w.unsqueeze(1)  # Eq. 2: sigmoid(β) · softmax(α)_o
        for j in range(n_in + self.space.n_nodes):
            if j >= n_in:
                states.append(acc[j])  # every edge into j comes from a node before j: node j is complete
            if j not in self._sources:
                continue
            mixed, rows, decided = self._sources[j]
            x = states[j]
            for e, i in decided:
                c = self._plain_coefs(e) if i in self.node_inputs else (beta_w[e],)  # Eq. 1 plain sum, or Eq. 4
                acc[i] = self.edges[str(e)](x, c, acc.get(i))
            if mixed:
                edges = [self.edges[str(e)] for e, _ in mixed]
                if self.space.op_set == "o2d":
                    out = mixed_o2d_edges(x, edges, coefs[rows])  # n × (N, C, H, W)
                else:
                    out = mixed_video_edges(x, edges, coefs[rows], ops.names, kinds).unbind(1)  # n × (N, C, T, H, W)
                for (_, i), o in zip(mixed, out):
                    acc[i] = o if i not in acc else acc[i] + o
        return torch.cat(states[n_in:], dim=1)


class SearchNetwork(nn.Module):
    """Supernet of Fig. 5a (images) or 5c (video): stem(C1) -> cells in ``layout`` -> global pool -> linear.

    The op set's dimensionality picks the stem and the pooling: a 3×3 conv stem and 2D pooling
    for images (N, C, H, W); :class:`~sdas_lib.nets.stems.VideoStem` and 3D pooling for clips
    (N, C, T, H, W).

    Args:
        space: the search space (op set, cell types, nodes, k), e.g.
            :data:`~sdas_lib.core.space.IMAGE_SPACE` or :func:`~sdas_lib.core.space.video_space`.
        layout: cell type of each cell in order, e.g. :func:`image_layout` (K) or
            :func:`~sdas_lib.core.layout.video_layout` (K).
        C1: stem output channels.
        C2: output channels of the first cell (= n_nodes × per-node width C).
        num_classes: classifier outputs.
        in_channels: input image or clip channels.
        fused: run the mixed edges fused (:mod:`sdas_lib.nets.fused`); None (default) where the op
            set has a fused path (:data:`~sdas_lib.nets.fused.FUSED_OP_SETS`: O2D, video O2D, O3D and Oadv), False for
            the per-op reference. Same parameters either way;
            :meth:`set_fused` switches later.
    """

    def __init__(
        self, space: SearchSpace, layout: Sequence[str], C1: int, C2: int, num_classes: int, in_channels: int = 3,
        fused: bool | None = None,
    ):
        super().__init__()
        for name, v in (("C1", C1), ("C2", C2), ("num_classes", num_classes)):
            if v < 1:
                raise SdasError(f"{name} must be positive, got {v}")
        if C2 % space.n_nodes:
            raise SdasError(
                f"C2={C2} must be divisible by the {space.n_nodes} intermediate nodes whose outputs "
                f"the cell concatenates; try C2={space.n_nodes * max(1, round(C2 / space.n_nodes))}"
            )
        unknown = sorted(set(layout) - set(space.cell_type_names))
        if unknown:
            raise SdasError(f"layout uses cell types {unknown} that the space lacks ({choices(space.cell_type_names)})")
        ndim = get_op_set(space.op_set).ndim
        strides = {c.name: c.stride for c in space.cell_types}
        check_strides(strides, ndim)
        self.space = space
        self.layout = list(layout)
        self.arch = ArchParameters(space)
        if ndim == 2:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, C1, 3, padding=1, bias=False), nn.BatchNorm2d(C1))
            stem_stride = 1
        else:
            self.stem = VideoStem(in_channels, C1)  # (N, C1, T, H/4, W/4)
            stem_stride = VideoStem.stride
        self.min_input = min_input_size(ndim, self.layout, strides, stem_stride)  # ([T,] H, W)
        plans = cell_plan(self.layout, strides, C1, C2 // space.n_nodes, {c: space.n_nodes for c in strides})
        self.cells = nn.ModuleList(SearchCell(space, plan) for plan in plans)
        self.fused = False
        self.set_fused(space.op_set in FUSED_OP_SETS if fused is None else fused)
        self.pool = nn.AdaptiveAvgPool2d(1) if ndim == 2 else nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Linear(plans[-1].C_out, num_classes)
        self._complete: dict[str, tuple[bool, bool]] = {c: (False, False) for c in space.cell_type_names}

    def set_fused(self, fused: bool) -> "SearchNetwork":
        """Run the mixed edges fused (True) or op by op (False, the reference); returns self."""
        if fused and self.space.op_set not in FUSED_OP_SETS:
            raise SdasError(
                f"op set {self.space.op_set!r} has no fused path (fused: {choices(FUSED_OP_SETS)}); use fused=False"
            )
        self.fused = bool(fused)
        for cell in self.cells:
            cell.fused = self.fused
        return self

    def weights(self) -> list[nn.Parameter]:
        """The network weights w (everything but α/β), in a fixed order."""
        return [p for n, p in self.named_parameters() if not n.startswith("arch.")]

    def sync(self, state: DiscretizationState) -> list[nn.Parameter]:
        """Apply the discretization state to every cell; returns the weights that were deleted."""
        removed = []
        for cell in self.cells:
            removed += cell.sync(state)
        self._complete = {
            c: (len(state.edge_ops[c]) == self.space.n_edges, state.cell_complete(c))
            for c in self.space.cell_type_names
        }
        return removed

    def keep_mixing_weights(self, scales: Mapping[str, Mapping[int, float]]) -> "SearchNetwork":
        """Scale each kept edge of a fully decided network by a constant in place of Eq. 1's 1, e.g.
        :func:`~sdas_lib.core.discretization.supernet_edge_scales` (Table 2's "discrete, mixing
        weights kept"); returns self. Both the fused and the reference path honour the scales."""
        if not all(done for _, done in self._complete.values()):
            raise SdasError("keep_mixing_weights needs every node decided; sync the network to a complete state first")
        for cell in self.cells:
            given = scales.get(cell.cell_type)
            if given is None:
                raise SdasError(f"no scales for cell type {cell.cell_type!r}; give {choices(self.space.cell_type_names)}")
            missing = sorted(e for e in map(int, cell.edges) if e not in given)
            if missing:
                raise SdasError(f"no scale for the kept edges {missing} of cell type {cell.cell_type!r}")
            cell.kept_scales = {int(e): float(given[int(e)]) for e in cell.edges}
        return self

    def arch_weights(self, detach: bool) -> dict[str, tuple[torch.Tensor | None, torch.Tensor | None]]:
        """softmax(α) and sigmoid(β) per cell type, skipping what a finished cell type no longer uses."""
        out = {}
        with torch.set_grad_enabled(torch.is_grad_enabled() and not detach):
            for c in self.space.cell_type_names:
                edges_done, nodes_done = self._complete[c]
                a = None if edges_done else F.softmax(self.arch.alpha[c], dim=-1)
                b = None if nodes_done else torch.sigmoid(self.arch.beta[c])
                out[c] = (a, b)
        return out

    def forward(self, x: torch.Tensor, detach_arch: bool = False) -> torch.Tensor:
        """Logits (N, num_classes) of images (N, C, H, W) or clips (N, C, T, H, W).

        ``detach_arch`` for the w step: α/β enter as constants."""
        check_input_size(x.shape, self.min_input, "search")
        w = self.arch_weights(detach_arch)
        if detach_arch and not self.fused:  # Python floats: the cells fuse each scaling into its addition
            w = {c: (None if a is None else a.tolist(), None if b is None else b.tolist()) for c, (a, b) in w.items()}
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            a, b = w[cell.cell_type]
            s0, s1 = s1, cell(s0, s1, a, b)
        return self.classifier(self.pool(s1).flatten(1))


def prune_optimizer(opt: torch.optim.Optimizer, removed: Iterable[nn.Parameter]) -> None:
    """Drop deleted parameters from ``opt`` in place, keeping the state (momentum) of the rest."""
    gone = {id(p) for p in removed}
    if not gone:
        return
    for group in opt.param_groups:
        group["params"] = [p for p in group["params"] if id(p) not in gone]
    for p in [p for p in opt.state if id(p) in gone]:
        del opt.state[p]
