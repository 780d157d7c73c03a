"""The search presets pinned against the paper's settings (docs/paper_notes.md "Training settings")."""

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
