"""Planted-cell teacher: a network built from a known genotype with fixed random weights, that labels inputs.

The teacher is the image evaluation network (Fig. 5a, :class:`~sdas_lib.nets.evalnet.CifarNetwork`) in the
micro search network's layout (K = 1: normal, reduce, normal, reduce, normal; C1 = 8, C2 = 16), without an
auxiliary head. Its weights are PyTorch's default initialization drawn under ``torch.manual_seed(seed)``
(the global generator is left as it was). Its BatchNorm statistics are those of the calibration inputs
(one pass), so every cell's output is normalized as in a trained network rather than left at the
initial statistics (mean 0, variance 1), where the deeper cells' signal would shrink or blow up.
A label is the class whose logit stands highest *relative to that class's spread over the calibration
inputs* (each logit standardized per class): raw random logits favour one or two classes, standardized
ones spread the inputs over all classes.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..core.genotype import Genotype
from .evalnet import CifarNetwork

TEACHER_SIZES = {"K": 1, "C1": 8, "C2": 16}  # the micro search network's layout and widths


def teacher_network(genotype: Genotype, seed: int, *, num_classes: int = 10, in_channels: int = 3) -> CifarNetwork:
    """The teacher of ``genotype``: its evaluation network with weights drawn from ``seed`` (eval mode).

    Args:
        genotype: the planted image genotype (cell types ``normal`` and ``reduce``).
        seed: seeds the weights; the same seed gives the same network.
        num_classes, in_channels: the labels it gives and the inputs it reads.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = CifarNetwork(genotype, **TEACHER_SIZES, num_classes=num_classes, in_channels=in_channels, auxiliary=False)
    return net.eval()


@torch.no_grad()
def teacher_labels(net: nn.Module, x: torch.Tensor, calibration: torch.Tensor) -> torch.Tensor:
    """Labels (N,) of inputs ``x`` (N, C, H, W) by ``net``, with BatchNorm statistics and logit spread from
    ``calibration`` (M, C, H, W), e.g. the training inputs. Deterministic; leaves ``net`` in eval mode."""
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass gives the calibration set's statistics
    net.train()
    net(calibration)
    net.eval()
    ref = net(calibration)  # (M, classes)
    mean, std = ref.mean(0), ref.std(0).clamp_min(1e-8)
    return ((net(x) - mean) / std).argmax(1)  # (N,)


__all__ = ["TEACHER_SIZES", "teacher_network", "teacher_labels"]
