"""A one-edge experiment for the course: a mixed edge learns which op made its target (Eq. 2, Eq. 4).

The target is y = o*(x) for one op o* of the set, with fixed random weights. A mixed edge
ō(x) = sigmoid(β) · Σ_o softmax(α)_o · o(x) (Eq. 2) holds every op of the set, o* among them with the
same weights, and only α and β learn (Adam on the mean squared error, as in Algorithm 1's α/β step).
The edge should come to prefer o*; discretizing it (Eq. 4) keeps argmax α, and the decided edge
sigmoid(β) · o(x) should then fit y as well as the mixture did.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .supernet import SearchEdge


@dataclass
class EdgeFit:
    """What :func:`fit_mixed_edge` learned.

    Attributes:
        op_names: the ops in α's column order. target_op: the op that made y.
        weights: softmax(α) before the first step and after each step, (steps + 1) × n_ops.
        edge_weight: sigmoid(β) likewise. losses: the mixed edge's error at each step.
        chosen: argmax α at the end: the op the decided edge keeps (Eq. 4).
        mixed_error: the mixed edge's final error; discrete_error: the decided edge's, sigmoid(β)·o(x).
    """

    op_names: tuple[str, ...]
    target_op: str
    weights: list[list[float]]
    edge_weight: list[float]
    losses: list[float]
    chosen: str
    mixed_error: float
    discrete_error: float


def fit_mixed_edge(
    target_op: str = "sep_conv_3x3", op_set: str = "o2d", C: int = 8, size: int = 8, batch: int = 32,
    steps: int = 100, lr: float = 0.05, seed: int = 0,
) -> EdgeFit:
    """Learn α and β of one mixed edge against a target made by ``target_op`` (see the module doc).

    Args:
        target_op: the op that makes the target. op_set: the candidate ops.
        C, size, batch: channels, height = width and number of the random inputs x (batch, C, size, size).
        steps, lr: Adam steps and learning rate for α and β. seed: inputs and op weights.
    """
    torch.manual_seed(seed)
    edge = SearchEdge(op_set, C, 1)  # every op, with the supernet's BN (batch statistics in train mode)
    names = tuple(edge.ops)
    edge.requires_grad_(False)  # the op weights stay fixed: only the architecture learns
    target = copy.deepcopy(edge.ops[target_op])
    x = torch.randn(batch, C, size, size)
    with torch.no_grad():
        y = target(x)  # (batch, C, size, size)
    alpha = torch.zeros(len(names), requires_grad=True)  # α starts at 0 (Algorithm 1)
    beta = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([alpha, beta], lr=lr)
    weights, edge_weight, losses = [F.softmax(alpha, 0).tolist()], [torch.sigmoid(beta).item()], []
    for _ in range(steps):
        coefs = (F.softmax(alpha, 0) * torch.sigmoid(beta)).unbind(0)  # Eq. 2: sigmoid(β) · softmax(α)_o
        loss = F.mse_loss(edge(x, coefs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        weights.append(F.softmax(alpha, 0).tolist())
        edge_weight.append(torch.sigmoid(beta).item())
    with torch.no_grad():
        coefs = (F.softmax(alpha, 0) * torch.sigmoid(beta)).unbind(0)
        mixed = F.mse_loss(edge(x, coefs), y).item()
        chosen = names[int(alpha.argmax())]
        edge.decide(chosen)  # Eq. 4: the edge keeps one op and still scales it by sigmoid(β)
        discrete = F.mse_loss(edge(x, (torch.sigmoid(beta),)), y).item()
    return EdgeFit(names, target_op, weights, edge_weight, losses, chosen, mixed, discrete)


__all__ = ["EdgeFit", "fit_mixed_edge"]
