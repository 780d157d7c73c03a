"""Algorithm 1 one line at a time, on a real supernet: what a search does in one iteration, called by hand
so that a student can look between the steps (notebook 03).

:class:`~sdas_lib.run.search.Searcher` runs the same methods in its loop; :class:`AlgorithmSteps` calls them
one by one, with no run folder:
- :meth:`~AlgorithmSteps.w_step`: lines 5-7, one SGD step on L_train(w | α, β) with a w-train batch;
- :meth:`~AlgorithmSteps.arch_step`: lines 8-11, one Adam step on L_val(α, β | w) with an α/β-val batch
  (Eq. 3's two losses, alternated to first order as in DARTS);
- :meth:`~AlgorithmSteps.queue`: the priority queue recomputed from α and β (§3.2: top-1 minus top-2 of
  softmax(α) for an edge, rank-k minus rank-(k+1) of sigmoid(β) for a node);
- :meth:`~AlgorithmSteps.decide`: lines 12-14, one one-step discretization and what it deletes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.discretization import Decision, candidates
from ..core.history import describe_candidate
from ..core.opsets import op_set_info
from ..errors import SdasError
from .presets import SearchPreset
from .search import Searcher


@dataclass(frozen=True)
class Pruning:
    """What one decision deleted: the decision, the weight tensors and numbers that left the network and
    its optimizer, and the candidate ops computed in each iteration before and after (an edge of a mixed
    edge is one op; a decided edge computes one; a dropped edge none)."""

    decision: Decision
    tensors_removed: int
    weights_removed: int
    optimizer_tensors: tuple[int, int]  # (before, after)
    ops_computed: tuple[int, int]  # (before, after), over the whole network

    def describe(self) -> str:
        return (f"{self.decision.describe()}\n  deleted {self.tensors_removed} weight tensors ({self.weights_removed:,} "
                f"numbers); the optimizer holds {self.optimizer_tensors[0]} -> {self.optimizer_tensors[1]} tensors; "
                f"an iteration computes {self.ops_computed[0]} -> {self.ops_computed[1]} candidate ops")


def ops_computed(net) -> int:
    """How many candidate ops one forward pass of the supernet computes (every op of every edge still held)."""
    return sum(len(edge.ops) for cell in net.cells for edge in cell.edges.values())


class AlgorithmSteps:
    """A search stopped between the lines of Algorithm 1.

    Args:
        preset: the search settings (its data set is loaded as a search would).
        schedule: whose priority rules decide (all schedules rank the same way; only *when* differs).
        seed: weight initialization and batch order, as in a search.
    """

    def __init__(self, preset: SearchPreset, schedule: str = "C", seed: int = 0):
        if preset.warmup_iterations:
            raise SdasError(
                f"AlgorithmSteps walks Algorithm 1 itself, which has no warm-up (warmup_iterations="
                f"{preset.warmup_iterations}); pass the preset with warmup_iterations=0"
            )
        self.searcher = Searcher(preset, schedule, seed, out_dir=None, progress=False, log=lambda line: None)
        self.space = self.searcher.space
        self.op_names = op_set_info(self.space.op_set).names
        self._batches = self._iterate()
        self.start = self.arch()  # α/β at initialization: zeros (line 2)
        self.iterations = 0

    def _iterate(self):
        s = self.searcher
        epoch = 0
        while True:  # the search's own batches: w-train and α/β-val halves, epoch after epoch
            yield from s.epoch_batches(epoch, 0)
            epoch += 1

    def arch(self) -> tuple[dict, dict]:
        """α and β now, as ``({cell_type: (E, n_ops)}, {cell_type: (E,)})`` tensor copies."""
        alpha, beta = self.searcher.net.arch.as_dicts()
        return ({c: a.detach().clone() for c, a in alpha.items()}, {c: b.detach().clone() for c, b in beta.items()})

    def w_step(self) -> dict:
        """Lines 5-7: one SGD step of the weights on a w-train batch (α/β held as constants); its loss and
        accuracy. The α/β-val batch of the same iteration waits for :meth:`arch_step`."""
        s = self.searcher
        (xw, yw), (xa, ya) = next(self._batches)
        self._pending = (xa, ya)
        loss, acc = s.w_step(*s.to_device(xw, yw))
        return {"w-train loss": loss, "w-train accuracy": acc}

    def arch_step(self) -> dict:
        """Lines 8-11: one α/β step on the α/β-val batch drawn with the last w step (a w step comes first)."""
        if getattr(self, "_pending", None) is None:
            raise SdasError("Algorithm 1 alternates a w step and an α/β step: call w_step() before arch_step()")
        s = self.searcher
        val = s.arch_step(*s.to_device(*self._pending))
        self._pending = None
        self.iterations += 1
        return {"α/β-val loss": val[0], "α/β-val accuracy": val[1]} if val else {}

    def iterate(self, n: int) -> list[dict]:
        """``n`` iterations of lines 5-11 (no decisions): one row of losses and accuracies each."""
        return [{**self.w_step(), **self.arch_step()} for _ in range(n)]

    def softmax_change(self, cell_type: str) -> torch.Tensor:
        """softmax(α) now minus softmax(α) at initialization for one cell type: (E, n_ops)."""
        alpha, _ = self.arch()
        return torch.softmax(alpha[cell_type], -1) - torch.softmax(self.start[0][cell_type], -1)

    def queue(self, n: int = 5) -> list[str]:
        """The first ``n`` entries of the priority queue, recomputed from α and β now, best first."""
        alpha, beta = self.arch()
        alpha = {c: a.tolist() for c, a in alpha.items()}
        ranked = candidates(self.searcher.state, alpha, {c: b.tolist() for c, b in beta.items()})
        return [describe_candidate(c, self.space, alpha) for c in ranked[:n]]

    def decide(self) -> Pruning:
        """Lines 12-14: the decision with the highest priority, applied; what it deleted."""
        s = self.searcher
        s.t = self.iterations  # the iteration the decision is recorded at
        opt_before = sum(len(g["params"]) for g in s.w_opt.param_groups)
        ops_before = ops_computed(s.net)
        params_before = {id(p): p.numel() for p in s.net.weights()}
        if s.state.n_done == s.M:
            raise SdasError(f"all {s.M} decisions are made: nothing is left to decide (make a new AlgorithmSteps)")
        made = s.make_decisions(1)
        params_after = {id(p) for p in s.net.weights()}
        gone = [n for i, n in params_before.items() if i not in params_after]
        return Pruning(made[0], len(gone), sum(gone), (opt_before, sum(len(g["params"]) for g in s.w_opt.param_groups)),
                       (ops_before, ops_computed(s.net)))


__all__ = ["AlgorithmSteps", "Pruning", "ops_computed"]
