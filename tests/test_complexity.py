"""Parameter and mult-add counts, checked against hand computations."""

import pytest
from torch import nn

from sdas_lib.nets.complexity import count_mult_adds, count_parameters, human
from sdas_lib.nets.evalnet import build_network
from sdas_lib.core.genotype import DARTS_V2, Genotype
from sdas_lib.ops import get_op_set




def test_mult_adds_of_a_small_network_by_hand():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),   # (1, 8, 8, 8)
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),      # depthwise, (1, 8, 8, 8)
        nn.MaxPool2d(2),                              # (1, 8, 4, 4): free
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )
    by_hand = (
        8 * 8 * 8 * (3 * 3 * 3)   # each of 8×8×8 outputs: a 3×3 window over 3 channels
        + 8 * 8 * 8 * (3 * 3)     # depthwise: one channel per output
        + 128 * 10                # linear
    )
    assert count_mult_adds(net, (3, 8, 8)) == by_hand == 19_712


def test_mult_adds_of_a_sep_conv_op_by_hand():
    C, H = 4, 8
    op = get_op_set("o2d").build("sep_conv_3x3", C, 1, affine=True)
    one_half = C * H * H * 9 + C * C * H * H  # depthwise 3×3 + pointwise 1×1
    assert count_mult_adds(op, (C, H, H)) == 2 * one_half == 6_656
    # Stride 2: the first depthwise conv and the first pointwise run at 4×4, the second half too.
    strided = get_op_set("o2d").build("sep_conv_3x3", C, 2, affine=True)
    assert count_mult_adds(strided, (C, H, H)) == 2 * (C * 16 * 9 + C * C * 16)


def test_mult_adds_of_a_tiny_eval_network_by_hand():
    # One node per cell that pools both inputs: every mult-add comes from the stem, the 1×1
    # preprocessing convs (factorized reductions right after a reduction) and the classifier.
    pool = [[("max_pool_3x3", 0), ("avg_pool_3x3", 1)]]
    g = Genotype.from_cells("o2d", {"normal": pool, "reduce": pool})
    net = build_network("cifar", g, K=1, C1=4, C2=2, num_classes=3, auxiliary=False)
    # Layout N R N R N; one node per cell, so a cell outputs C channels: 2, 4, 4, 8, 8.
    stem = (8 * 8) * 4 * (3 * 9)                       # 3x3 conv 3 -> 4 at 8x8
    cell0 = (8 * 8) * 4 * 2 + (8 * 8) * 4 * 2          # 1x1 convs: stem 4 -> 2, stem 4 -> 2 at 8x8
    cell1 = (8 * 8) * 4 * 4 + (8 * 8) * 2 * 4          # reduce: stem 4 -> 4, cell0 2 -> 4 at 8x8
    cell2 = 2 * (4 * 4) * 2 * 2 + (4 * 4) * 4 * 4      # FactorizedReduce cell0 2 -> 2+2 at 4x4; cell1 4 -> 4
    cell3 = (4 * 4) * 4 * 8 + (4 * 4) * 4 * 8          # reduce: cell1 4 -> 8, cell2 4 -> 8 at 4x4
    cell4 = 2 * (2 * 2) * 4 * 4 + (2 * 2) * 8 * 8      # FactorizedReduce cell2 4 -> 4+4 at 2x2; cell3 8 -> 8
    classifier = 8 * 3
    by_hand = stem + cell0 + cell1 + cell2 + cell3 + cell4 + classifier
    assert count_mult_adds(net, (3, 8, 8)) == by_hand == 11_288


def test_count_parameters_excludes_the_auxiliary_head():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 3)                         # 15
            self.auxiliary_head = nn.Linear(4, 3, bias=False)   # 12

    assert count_parameters(Tiny()) == 15
    assert count_parameters(Tiny(), exclude_auxiliary=False) == 27


def test_eval_mode_is_used_and_the_mode_restored():
    net = build_network("cifar", DARTS_V2, K=1, C1=8, C2=16, num_classes=10)
    net.train()
    net.drop_path_prob = 0.3
    n = count_mult_adds(net, (3, 16, 16))
    assert net.training  # restored
    net.eval()
    assert count_mult_adds(net, (3, 16, 16)) == n  # the auxiliary head is never counted
    assert not net.training


def test_human_readable():
    assert human(3_349_342) == "3.35M"
    assert human(529_911_552) == "530M"
    assert human(950) == "950"
