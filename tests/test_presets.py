"""The search presets pinned against the paper's settings (docs/paper_notes.md "Training settings")."""

import pytest

from sdas_lib.errors import SdasError
from sdas_lib.run.presets import PAPER, SEARCH_PRESETS, SearchPreset, get_preset


def test_paper_search_preset_is_section_5_3_with_darts_defaults():
    p = get_preset("paper")
    assert p is PAPER and SEARCH_PRESETS["paper"] is PAPER and p == SearchPreset()
    # CIFAR10 search network and data (§5.3, §6.1): K=2, C1=48, C2=64, 50 epochs, batch 64, 50/50 split.
    assert (p.dataset, p.resolution, p.train_portion) == ("cifar10", 32, 0.5)
    assert (p.K, p.C1, p.C2, p.epochs, p.batch_size) == (2, 48, 64, 50, 64)
    # Search space: O2D, 4 intermediate nodes, k = 2 predecessors kept per node.
    assert (p.op_set, p.n_nodes, p.k) == ("o2d", 4, 2)
    # w: SGD lr 0.025 cosine-annealed to 0, momentum 0.9; DARTS' weight decay 3e-4 and grad clip 5.
    assert (p.w_lr, p.w_lr_min, p.w_momentum, p.w_weight_decay, p.grad_clip) == (0.025, 0.0, 0.9, 3e-4, 5.0)
    # α, β: Adam lr 3e-4; DARTS' betas (0.5, 0.999) and weight decay 1e-3.
    assert (p.arch_lr, p.arch_beta1, p.arch_beta2, p.arch_weight_decay) == (3e-4, 0.5, 0.999, 1e-3)


def test_network_sizes_scale_c1_and_c2_as_table7_does():
    from sdas_lib.run.presets import VIDEO_TRAIN_MICRO, VIDEO_TRAIN_TINY, network_sizes, size_label

    sizes = network_sizes(VIDEO_TRAIN_TINY)  # K=1, C1=16, C2=32: Table 7's 1/2, 3/4 and 1
    assert [(p.K, p.C1, p.C2) for p in sizes] == [(1, 8, 16), (1, 12, 24), (1, 16, 32)]
    assert sizes[-1] == VIDEO_TRAIN_TINY and [size_label(p) for p in sizes][0] == "K1_C8_C16"
    # micro's C2=16 at 3/4 would give 3 channels a node: C2 rounds to a multiple of 8
    assert [(p.C1, p.C2) for p in network_sizes(VIDEO_TRAIN_MICRO)] == [(4, 8), (6, 16), (8, 16)]


def test_bad_network_sizes_name_the_problem():
    from sdas_lib.run.presets import TRAIN_TINY, VIDEO_TRAIN_TINY, network_sizes

    with pytest.raises(SdasError, match="positive numbers such as"):
        network_sizes(VIDEO_TRAIN_TINY, [0.5, -1])
    with pytest.raises(SdasError, match="keep C1 at least 2 and C2 at least 8"):
        network_sizes(VIDEO_TRAIN_TINY, [0.1])
    with pytest.raises(SdasError, match="video retraining preset"):
        network_sizes(TRAIN_TINY)
