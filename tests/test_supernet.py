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


def randomize_arch(net):
    alpha, beta = net.arch.as_dicts()
    with torch.no_grad():
        for c in alpha:
            alpha[c].normal_()
            beta[c].normal_()
    return alpha, beta


def edge_decision(state, cell_type, edge, op):
    return Decision(state.n_done, 0, cell_type, "edge", edge, edge[1], op, 0.1, None, (), (0.0,))


# -- Eq. 4: a decided edge of an undecided node computes sigmoid(β)·o(x) ---------------------------


def test_decided_edge_of_an_undecided_node_computes_sigmoid_beta_times_its_op():
    net = small_net()  # train mode: BatchNorm uses batch statistics, as in the α/β step
    alpha, beta = randomize_arch(net)
    e = EDGE[(1, 3)]
    state = DiscretizationState(IMAGE_SPACE)
    state.apply(edge_decision(state, "normal", (1, 3), "sep_conv_3x3"))
    net.sync(state)
    cell = net.cells[0]
    edge = cell.edges[str(e)]
    assert edge.decided and list(edge.ops) == ["sep_conv_3x3"]
    op = edge.ops["sep_conv_3x3"]

    # The edge module alone, given the coefficient the cell passes (a tensor in the α/β step, a float in the w step).
    x = torch.randn(2, 4, 16, 16)  # the first cell's per-node width is C2 / 4 = 4
    sb = torch.sigmoid(beta["normal"][e])
    with torch.no_grad():
        ox = op(x)
        torch.testing.assert_close(edge(x, (sb,), None), sb * ox)
        torch.testing.assert_close(edge(x, (sb.item(),), None), sb * ox)
        acc = torch.randn_like(ox)
        torch.testing.assert_close(edge(x, (sb,), acc), acc + sb * ox)

    # Inside the cell: record what the cell passes to this edge and what its op computes.
    seen = {}
    edge.register_forward_hook(lambda m, inp, out: seen.update(coefs=inp[1], acc=inp[2], out=out))
    op.register_forward_hook(lambda m, inp, out: seen.update(op_out=out))
    s = net.stem(torch.randn(2, 3, 16, 16)).detach()

    def run_cell():
        with torch.no_grad():
            a, b = net.arch_weights(detach=True)["normal"]
            return cell(s, s, a, b)

    out = run_cell()
    assert len(seen["coefs"]) == 1  # one coefficient: no softmax(α) mixing any more
    torch.testing.assert_close(seen["coefs"][0], sb.detach())
    torch.testing.assert_close(seen["out"] - seen["acc"], sb.detach() * seen["op_out"])
    op_out = seen["op_out"]

    # Changing this edge's β moves node 3 (the cell's 2nd output slice) by Δsigmoid(β)·o(x) and leaves node 2 alone.
    with torch.no_grad():
        beta["normal"][e] += 1.5
    out2 = run_cell()
    C = 4
    torch.testing.assert_close(out2[:, :C], out[:, :C])
    delta = torch.sigmoid(beta["normal"][e]).detach() - sb.detach()
    torch.testing.assert_close(out2[:, C : 2 * C] - out[:, C : 2 * C], delta * op_out, atol=1e-5, rtol=1e-4)
    assert (out2[:, C : 2 * C] - out[:, C : 2 * C]).abs().max() > 1e-3

    # Once node 3 is decided (keeping 1 and 2) it is a plain sum (Eq. 1): β no longer matters.
    for j in (0, 2):
        state.apply(edge_decision(state, "normal", (j, 3), "skip_connect"))
    state.apply(Decision(state.n_done, 0, "normal", "node", None, 3, (1, 2), 0.1, None, (), ()))
    net.sync(state)
    before = run_cell()
    assert seen["coefs"] is None
    with torch.no_grad():
        beta["normal"][e] -= 3.0
        beta["normal"][EDGE[(2, 3)]] += 2.0
    torch.testing.assert_close(run_cell(), before, rtol=0, atol=0)


@pytest.mark.slow
def test_beta_of_a_decided_edge_keeps_learning_until_its_node_is_decided(micro_preset):
    """In a real search (schedule C): an edge decided before its node still gets β gradients and moves."""
    from sdas_lib.run.search import Searcher

    class Recording(Searcher):
        def arch_step(self, x, y):
            result = super().arch_step(x, y)
            beta = self.net.arch.beta
            self.trace[self.t] = {
                c: (beta[c].detach().clone(), None if beta[c].grad is None else beta[c].grad.detach().clone()) for c in beta
            }
            return result

    s = Recording(micro_preset, "C", seed=0, progress=False, log=lambda s: None)
    s.trace = {}
    hist = s.run().history
    node_at = {(d.cell_type, d.node): d for d in hist if d.kind == "node"}
    early = [
        d for d in hist
        if d.kind == "edge" and node_at[(d.cell_type, d.node)].iteration > d.iteration
    ]
    assert early, "expected some edge decided at an earlier iteration than its node"
    for d in early:
        e, nd = IMAGE_SPACE.edges.index(d.edge), node_at[(d.cell_type, d.node)]
        # β steps between the two decisions: iterations d.iteration + 1 .. nd.iteration
        steps = range(d.iteration + 1, nd.iteration + 1)
        grads = [s.trace[t][d.cell_type][1] for t in steps]
        assert all(g is not None and g[e] != 0 for g in grads), (d.describe(), [None if g is None else g[e].item() for g in grads])
        b_at_node = nd.beta[list(IMAGE_SPACE.incoming(d.node)).index(e)]
        assert b_at_node != d.beta[0]  # β moved between the edge's decision and its node's
        assert s.trace[nd.iteration][d.cell_type][0][e].item() == pytest.approx(b_at_node, abs=1e-7)
        # After the node's decision its β entries are frozen (Eq. 1 has no β).
        for t in range(nd.iteration + 1, s.T + 1):
            if t in s.trace:
                assert s.trace[t][d.cell_type][0][e].item() == pytest.approx(b_at_node, abs=1e-7)


# -- the w step's float mixing path equals the α/β step's tensor path -------------------------------


@pytest.mark.parametrize("n_decisions", [0, 7, 20, 36])
def test_float_mixing_path_equals_the_tensor_path(n_decisions):
    net = small_net()
    alpha, beta = randomize_arch(net)
    state = DiscretizationState(IMAGE_SPACE)
    decide(state, alpha, beta, n_decisions, 0)
    net.sync(state)
    if n_decisions == 20:  # a mixed state: relaxed edges, decided edges of open nodes, a decided node
        assert any(state.node_inputs[c] for c in state.node_inputs)
        assert any(e not in state.edge_ops[c] for c in state.edge_ops for e in range(IMAGE_SPACE.n_edges))
    x = torch.randn(4, 3, 16, 16)
    outs = []
    for mode in (True, False):  # train mode (batch statistics), then eval mode (running statistics)
        net.train(mode)
        with torch.no_grad():
            tensor_path, float_path = net(x), net(x, detach_arch=True)
        torch.testing.assert_close(float_path, tensor_path)
        outs.append(tensor_path)
    assert not torch.allclose(outs[0], outs[1])  # the two modes really differ


# -- Table 2's "discrete, mixing weights kept" -----------------------------------------------------


def partly_decided_then_derived(net):
    """Node 2 of the normal cell decided (Eq. 1), edge (1, 3) decided alone (Eq. 4), the rest mixed;
    then every remaining decision made by the rules, as run.search's discrete_network does."""
    alpha, beta = randomize_arch(net)
    before = DiscretizationState(IMAGE_SPACE)
    before.apply(edge_decision(before, "normal", (0, 2), "sep_conv_3x3"))
    before.apply(edge_decision(before, "normal", (1, 2), "max_pool_3x3"))
    before.apply(Decision(before.n_done, 0, "normal", "node", None, 2, (0, 1), 0.1, None, (), ()))
    before.apply(edge_decision(before, "normal", (1, 3), "dil_conv_3x3"))
    after = before.copy()
    decide(after, alpha, beta, IMAGE_SPACE.total_decisions - after.n_done, 0)
    return alpha, beta, before, after


def test_kept_mixing_weights_are_the_supernet_weights_of_the_kept_edges():
    from sdas_lib.core.discretization import supernet_edge_scales
    net = small_net()
    alpha, beta, before, after = partly_decided_then_derived(net)
    scales = supernet_edge_scales(before, after, alpha, beta)
    sig = {c: torch.sigmoid(beta[c]).tolist() for c in beta}
    assert scales["normal"][EDGE[(0, 2)]] == scales["normal"][EDGE[(1, 2)]] == 1.0  # node decided: Eq. 1
    if EDGE[(1, 3)] in scales["normal"]:  # edge decided alone: sigmoid(β)
        assert scales["normal"][EDGE[(1, 3)]] == pytest.approx(sig["normal"][EDGE[(1, 3)]])
    for c in ("normal", "reduce"):
        kept = [e for e in after.edge_ops[c] if after.edge_alive(c, e)]
        assert sorted(scales[c]) == sorted(kept) and len(kept) == 2 * IMAGE_SPACE.n_nodes
        for e in kept:
            if e in before.edge_ops[c]:
                continue
            op_weight = torch.softmax(alpha[c][e], -1)[after.edge_ops[c][e]].item()  # Eq. 2
            assert scales[c][e] == pytest.approx(op_weight * sig[c][e])
            assert 0 < scales[c][e] < 1
    with pytest.raises(SdasError, match="decide the rest"):
        supernet_edge_scales(before, before, alpha, beta)


@pytest.mark.parametrize("fused", [False, True])
def test_a_network_with_kept_mixing_weights_computes_each_node_as_the_scaled_sum_by_hand(fused):
    from sdas_lib.core.discretization import supernet_edge_scales

    torch.manual_seed(0)
    net = small_net().set_fused(fused).eval()
    alpha, beta, before, after = partly_decided_then_derived(net)
    net.sync(after)
    scales = supernet_edge_scales(before, after, alpha, beta)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        plain = net(x)
        net.keep_mixing_weights(scales)
        kept = net(x)
        cell = net.cells[0]
        s = net.stem(x)
        states = [cell.preprocess0(s), cell.preprocess1(s)]
        for i in IMAGE_SPACE.node_ids:  # by hand: node i = Σ_kept scale_e · op_e(state_j)
            node = 0
            for e in IMAGE_SPACE.incoming(i):
                if str(e) in cell.edges:
                    (op,) = cell.edges[str(e)].ops.values()
                    node = node + scales["normal"][e] * op(states[IMAGE_SPACE.edges[e][0]])
            states.append(node)
        a, b = net.arch_weights(detach=True)["normal"]
        torch.testing.assert_close(cell(s, s, a, b), torch.cat(states[2:], 1))
    assert not torch.allclose(kept, plain)  # the weights below 1 change the network
    with pytest.raises(SdasError, match="every node decided"):
        small_net().keep_mixing_weights(scales)
    with pytest.raises(SdasError, match="no scale for the kept edges"):
        net.keep_mixing_weights({c: {} for c in scales})
