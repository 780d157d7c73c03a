"""Model size: parameters and multiply-adds, the two numbers every NAS table reports (Tables 4–6).

Mult-adds are counted with PyTorch's own FLOP counter (``torch.utils.flop_counter.FlopCounterMode``),
which counts 2 FLOPs per multiply-add of convolutions and matrix products (linear layers) and
nothing else: BN, ReLU, pooling and additions are free. So mult-adds = FLOPs / 2 over conv + linear,
the convention behind docs/paper_notes.md's "about 530M" for DARTS_V2 in the ImageNet mobile network.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

AUXILIARY_PREFIX = "auxiliary_head."

# aten ops of convolutions and of linear layers (addmm with bias, mm/matmul without).
_CONV_OPS = ("convolution", "_convolution", "conv2d", "conv3d", "cudnn_convolution", "convolution_backward")
_LINEAR_OPS = ("addmm", "mm", "bmm", "baddbmm", "matmul", "linear")


def count_parameters(model: nn.Module, exclude_auxiliary: bool = True) -> int:
    """Number of parameters, without the auxiliary head by default (as papers report them).

    Args:
        model: any module; parameters under ``auxiliary_head`` are the auxiliary ones.
        exclude_auxiliary: leave the training-only auxiliary head out of the count.
    """
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if not (exclude_auxiliary and (name.startswith(AUXILIARY_PREFIX) or f".{AUXILIARY_PREFIX}" in name))
    )


def count_mult_adds(model: nn.Module, input_shape: Sequence[int], device: str | torch.device | None = None) -> int:
    """Multiply-adds of conv and linear layers for ONE input of ``input_shape`` (no batch dim).

    The model runs once in eval mode (no auxiliary head, no drop path) under FlopCounterMode;
    its train/eval mode is restored afterwards.

    Args:
        model: the network.
        input_shape: e.g. (3, 32, 32) or (3, 224, 224); a batch of 1 is added.
        device: where to run; default the model's device.
    """
    from torch.utils.flop_counter import FlopCounterMode

    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else "cpu"
    was_training = model.training
    x = torch.zeros((1, *input_shape), device=device)
    counter = FlopCounterMode(display=False)
    try:
        model.eval()
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
    flops = 0
    for op, n in counter.get_flop_counts().get("Global", {}).items():
        name = str(getattr(op, "__name__", op)).split(".")[0]
        if name in _CONV_OPS or name in _LINEAR_OPS:
            flops += int(n)
    return flops // 2


def human(n: float) -> str:
    """3349342 -> '3.35M', 529_000_000 -> '529M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            v = n / size
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return str(int(n))


__all__ = ["count_parameters", "count_mult_adds", "human"]
