import pytest
import torch

from sdas_lib.core.discretization import Decision, DiscretizationState, decide
from sdas_lib.errors import SdasError
from sdas_lib.core.space import IMAGE_SPACE
from sdas_lib.core.layout import image_layout
from sdas_lib.nets.supernet import SearchNetwork, prune_optimizer

EDGE = {e: i for i, e in enumerate(IMAGE_SPACE.edges)}


def small_net():
    return SearchNetwork(IMAGE_SPACE, image_layout(1), C1=8, C2=16, num_classes=10)


def count_calls(modules):
    counts = {name: 0 for name in modules}
    for name, m in modules.items():
        m.register_forward_hook(lambda mod, inp, out, name=name: counts.__setitem__(name, counts[name] + 1))
    return counts


def test_layout_and_channel_doubling():
    net = small_net()
    assert [c.cell_type for c in net.cells] == ["normal", "reduce", "normal", "reduce", "normal"]
    out = net(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)
    assert net.classifier.in_features == 4 * 16  # per-node width 4 doubled twice, 4 nodes


def test_alpha_beta_are_shared_per_cell_type_and_start_at_zero():
    net = small_net()
    assert set(net.arch.alpha) == {"normal", "reduce"}
    assert net.arch.alpha["normal"].shape == (14, 7) and net.arch.beta["reduce"].shape == (14,)
    assert all((p == 0).all() for p in net.arch.parameters())
    net(torch.randn(2, 3, 16, 16)).sum().backward()
    assert net.arch.alpha["normal"].grad.abs().sum() > 0 and net.arch.beta["reduce"].grad.abs().sum() > 0


def test_decided_edge_calls_only_its_op_and_dropped_edges_are_never_called():
    net = small_net()
    cell = net.cells[0]  # a normal cell
    edge = cell.edges[str(EDGE[(1, 3)])]
    calls = count_calls(dict(edge.ops))
    state = DiscretizationState(IMAGE_SPACE)
    state.apply(Decision(0, 0, "normal", "edge", (1, 3), 3, "sep_conv_5x5", 0.1, None, (), (0.0,)))
    net.sync(state)
    net(torch.randn(2, 3, 16, 16))
    assert calls == {name: (1 if name == "sep_conv_5x5" else 0) for name in calls}

    # Node 3: decide its other edges, then the node keeps 0 and 1; edge 2->3 must never run.
    dropped = cell.edges[str(EDGE[(2, 3)])]
    dropped_calls = count_calls(dict(dropped.ops))
    for j in (0, 2):
        state.apply(Decision(state.n_done, 0, "normal", "edge", (j, 3), 3, "skip_connect", 0.1, None, (), (0.0,)))
    state.apply(Decision(state.n_done, 0, "normal", "node", None, 3, (0, 1), 0.1, None, (), ()))
    net.sync(state)
    net(torch.randn(2, 3, 16, 16))
    assert sum(dropped_calls.values()) == 0
    assert str(EDGE[(2, 3)]) not in cell.edges
    assert calls["sep_conv_5x5"] == 2


def test_decided_node_sums_without_beta_and_decided_edge_scales_by_beta():
    net = small_net().eval()
    x = torch.randn(2, 3, 16, 16)
    alpha, beta = net.arch.as_dicts()
    with torch.no_grad():
        for c in alpha:
            alpha[c].normal_()
            beta[c].normal_()
    state = DiscretizationState(IMAGE_SPACE)
    decide(state, alpha, beta, 36, 0)
    net.sync(state)
    before = net(x)
    with torch.no_grad():
        for c in beta:
            beta[c].mul_(5)  # every node is decided: Eq. 1 has no β, so nothing may change
    torch.testing.assert_close(net(x), before)


def test_pruning_frees_weights_from_the_optimizer_and_keeps_momentum():
    net = small_net()
    opt = torch.optim.SGD(net.weights(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 3, 16, 16)).sum().backward()
    opt.step()
    n_before = len(opt.param_groups[0]["params"])
    state = DiscretizationState(IMAGE_SPACE)
    state.apply(Decision(0, 0, "normal", "edge", (0, 2), 2, "max_pool_3x3", 0.1, None, (), (0.0,)))
    removed = net.sync(state)
    kept = net.cells[0].edges[str(EDGE[(0, 2)])]
    assert len(list(kept.parameters())) == 0 and removed  # a pool keeps no weights
    prune_optimizer(opt, removed)
    assert len(opt.param_groups[0]["params"]) == n_before - len(removed)
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in net.weights()]
    assert all("momentum_buffer" in opt.state[p] for p in opt.param_groups[0]["params"])


def test_bad_network_shapes_are_refused():
    with pytest.raises(SdasError, match="C2=30 must be divisible by the 4 intermediate nodes"):
        SearchNetwork(IMAGE_SPACE, image_layout(1), 8, 30, 10)
    with pytest.raises(SdasError, match="K .* must be >= 1"):
        image_layout(0)


def test_fully_decided_supernet_equals_the_plain_network_of_its_genotype():
    from sdas_lib.nets.evalnet import CifarNetwork

    net = small_net()
    alpha, beta = net.arch.as_dicts()
    with torch.no_grad():
        for c in alpha:
            alpha[c].normal_()
            beta[c].normal_()
    state = DiscretizationState(IMAGE_SPACE)
    decide(state, alpha, beta, 36, 0)
    net.sync(state)
    plain = CifarNetwork(state.genotype(), K=1, C1=8, C2=16, num_classes=10, auxiliary=False, search_ops=True)
    # Same modules in the same order (stem, cells, classifier): copy tensor by tensor.
    def ordered(sd):
        rank = lambda k: (0, 0) if k.startswith("stem") else (1, int(k.split(".")[1])) if k.startswith("cells.") else (2, 0)
        return dict(sorted(((k, v) for k, v in sd.items() if not k.startswith("arch.")), key=lambda kv: rank(kv[0])))

    src = list(ordered(net.state_dict()).values())
    dst = ordered(plain.state_dict())
    assert [tuple(v.shape) for v in src] == [tuple(v.shape) for v in dst.values()]
    plain.load_state_dict(dict(zip(dst, src)))
    x = torch.randn(4, 3, 16, 16)
    for mode in (False, True):  # eval mode (running stats) and train mode (batch stats)
        net.train(mode)
        plain.train(mode)
        torch.testing.assert_close(net(x), plain(x))
