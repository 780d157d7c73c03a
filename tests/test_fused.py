"""The fused supernet path against the per-op reference (issue 21): same parameters, same numbers."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sdas_lib.core.discretization import DiscretizationState, decide
from sdas_lib.core.layout import image_layout, video_layout
from sdas_lib.core.space import IMAGE_SPACE, video_space
from sdas_lib.errors import SdasError
from sdas_lib.nets import fused as fused_module
from sdas_lib.nets.fused import O2D_ORDER
from sdas_lib.nets.fused_video import grouped_pointwise
from sdas_lib.nets.supernet import SearchNetwork
from sdas_lib.ops import get_op_set
from sdas_lib.ops.depthwise import repeated_depthwise
from sdas_lib.ops.stacked import embed_kernel, shared_batch_norm, stacked_batch_norm


def test_the_fused_path_knows_o2d_in_alpha_column_order():
    assert get_op_set("o2d").names == O2D_ORDER


@pytest.mark.parametrize("k, dilation, size", [(3, 1, 5), (3, 2, 5), (5, 1, 9), (3, 1, 9), (5, 2, 9), (5, 1, 5)])
@pytest.mark.parametrize("stride", [1, 2])
def test_an_embedded_kernel_computes_the_small_one_and_its_zeros_get_no_gradient(k, dilation, size, stride):
    torch.manual_seed(0)
    x = torch.randn(3, 4, 9, 9, requires_grad=True)
    w = torch.randn(4, 1, k, k, requires_grad=True)
    ref = F.conv2d(x, w, None, stride, dilation * (k - 1) // 2, dilation, 4)
    big = embed_kernel(w, size, dilation)
    assert big.shape == (4, 1, size, size)
    assert (big != 0).sum() == (w != 0).sum()  # only the small kernel's taps are non-zero
    out = repeated_depthwise(x, big, 1, stride, (size - 1) // 2)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    gx, gw = torch.autograd.grad(ref, (x, w), g)
    fx, fw = torch.autograd.grad(out, (x, w), g)
    torch.testing.assert_close(fx, gx)
    torch.testing.assert_close(fw, gw)  # the gradient reaches the small parameter only
    with pytest.raises(ValueError, match="does not centre"):
        embed_kernel(w, size - 1, dilation)


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])  # the searches run channels-last
def test_grouped_pointwise_is_the_grouped_1x1_conv(clip, channels_last):
    x = torch.randn(2, 12, 3, 5, 5) if clip else torch.randn(2, 12, 5, 5)
    w = torch.randn(12, 4, *[1] * (x.dim() - 2))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d if clip else torch.channels_last)
    x.requires_grad_()
    conv = F.conv3d if clip else F.conv2d
    got, want = grouped_pointwise(x, w), conv(x.detach(), w, groups=3)
    torch.testing.assert_close(got, want)
    got.sum().backward()
    torch.testing.assert_close(x.grad, torch.autograd.grad(conv(x, w, groups=3).sum(), x)[0])


def bns(n, C, momentum=0.1):
    out = [nn.BatchNorm2d(C, affine=False, momentum=momentum) for _ in range(n)]
    for b in out:
        b.running_mean.normal_()
        b.running_var.uniform_(0.5, 2)
    return out


@pytest.mark.parametrize("momentum", [0.1, None])
def test_stacked_and_shared_batch_norm_equal_each_module_on_its_own(momentum):
    torch.manual_seed(0)
    n, C = 3, 4
    x = torch.randn(6, n * C, 5, 5)
    mine, ref = bns(n, C, momentum), None
    ref = copy.deepcopy(mine)
    for training in (True, True, False):  # two steps (cumulative average counts), then eval
        for b in mine + ref:
            b.train(training)
        torch.testing.assert_close(stacked_batch_norm(x, mine), torch.cat([b(p) for b, p in zip(ref, x.split(C, 1))], 1))
    for a, b in zip(mine, ref):
        torch.testing.assert_close(a.running_mean, b.running_mean)
        torch.testing.assert_close(a.running_var, b.running_var)
        assert a.num_batches_tracked == b.num_batches_tracked == 2

    scale = torch.rand(n * C) + 0.5  # BN's per-channel weight: the fused path's mixing coefficients
    for training in (True, False):
        for b in mine + ref:
            b.train(training)
        want = torch.cat([b(p) for b, p in zip(ref, x.split(C, 1))], 1) * scale.view(1, -1, 1, 1)
        torch.testing.assert_close(stacked_batch_norm(x, mine, scale), want)
    mine[0].momentum = 0.5  # mixed settings: one module at a time, scaled all the same
    ref[0].momentum = 0.5
    want = torch.cat([b(p) for b, p in zip(ref, x.split(C, 1))], 1) * scale.view(1, -1, 1, 1)
    torch.testing.assert_close(stacked_batch_norm(x, mine, scale), want)

    z = torch.randn(6, C, 5, 5)
    mine = bns(n, C, momentum)
    ref = copy.deepcopy(mine)
    for training in (True, True, False):
        for b in mine + ref:
            b.train(training)
        out = shared_batch_norm(z, mine)  # (N, 1 or n, C, H, W)
        torch.testing.assert_close(out.expand(6, n, C, 5, 5), torch.stack([b(z) for b in ref], 1))
    for a, b in zip(mine, ref):
        torch.testing.assert_close(a.running_mean, b.running_mean)
        torch.testing.assert_close(a.running_var, b.running_var)
        assert a.num_batches_tracked == b.num_batches_tracked


def randomized_pair(ref: SearchNetwork, space, n_decisions: int):
    """``ref`` (a per-op reference supernet) with random α/β and BN statistics, and its fused copy, both
    synced to ``n_decisions`` decisions."""
    with torch.no_grad():
        for p in ref.arch.parameters():
            p.normal_()
        for m in ref.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
    alpha, beta = ref.arch.as_dicts()
    state = DiscretizationState(space)
    decide(state, alpha, beta, n_decisions, 0)
    ref.sync(state)
    return ref, copy.deepcopy(ref).set_fused(True)


def weighted_loss(out: torch.Tensor) -> torch.Tensor:
    """A fixed weighted sum of ``out``: every output element gets its own gradient."""
    return (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()


def both_backward(ref, fused, x, step: str) -> dict:
    """Each net's output on ``x`` in the w step (α/β detached) or the α/β step, after backward of
    :func:`weighted_loss` of it: ``{"ref": out, "fused": out}``."""
    outs = {}
    for name, net in (("ref", ref), ("fused", fused)):
        net.zero_grad(set_to_none=True)
        out = net(x, detach_arch=step == "w")
        weighted_loss(out).backward()
        outs[name] = out
    return outs


def net_pair(n_decisions: int):
    """An image supernet and its fused copy (:func:`randomized_pair`)."""
    torch.manual_seed(0)
    ref = SearchNetwork(IMAGE_SPACE, image_layout(1), C1=8, C2=16, num_classes=10, fused=False)
    return randomized_pair(ref, IMAGE_SPACE, n_decisions)


def close(a, b, what):
    scale = max(a.abs().max().item(), 1e-3)
    assert (a - b).abs().max().item() <= 1e-5 * scale + 1e-6, what


@pytest.mark.parametrize("n_decisions", [0, 20, 36])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])  # the searches run channels-last
def test_the_fused_path_equals_the_reference(n_decisions, training, channels_last):
    """Forward outputs, the gradients of every weight and of α and β, and the BN running statistics."""
    ref, fused = net_pair(n_decisions)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if n_decisions == 20:  # relaxed edges, decided edges of open nodes, a decided node: all three paths
        assert any(not e.decided for c in fused.cells for e in c.edges.values())
        assert any(e.decided for c in fused.cells for e in c.edges.values())
    assert fused.fused and not ref.fused
    assert list(ref.state_dict()) == list(fused.state_dict())  # one to one: checkpoints load either way
    x = torch.randn(6, 3, 16, 16).contiguous(memory_format=fmt)
    for net in (ref, fused):
        net.train(training).to(memory_format=fmt)
    for step in ("w", "arch"):
        outs = both_backward(ref, fused, x, step)
        close(outs["ref"], outs["fused"], f"{step} step output")
        for (name, p), q in zip(ref.named_parameters(), fused.parameters()):
            if p.grad is None:
                assert q.grad is None or not q.grad.any(), name
                continue
            close(p.grad, q.grad, f"{step} step gradient of {name}")
        grads = [p.grad for p in ref.arch.parameters() if p.grad is not None]
        if step == "arch" and n_decisions < 36:
            assert grads and any(g.abs().sum() > 0 for g in grads)  # α/β really learn here
    for (name, a), b in zip(ref.named_buffers(), fused.buffers()):
        if a.dtype.is_floating_point:
            close(a, b, f"buffer {name}")
        else:
            assert torch.equal(a, b), name


def test_decided_edges_keep_the_single_op_path(monkeypatch):
    calls = []
    real = fused_module.mixed_o2d_edges
    monkeypatch.setattr("sdas_lib.nets.supernet.mixed_o2d_edges", lambda *a, **k: calls.append(len(a[1])) or real(*a, **k))
    _, fused = net_pair(0)
    fused(torch.randn(2, 3, 16, 16))
    n_sources = sum(len(c._sources) for c in fused.cells)
    assert len(calls) == n_sources and sum(calls) == 14 * len(fused.cells)  # every edge, once per source node
    calls.clear()
    _, fused = net_pair(36)
    fused(torch.randn(2, 3, 16, 16))
    assert calls == []  # fully decided: the discrete network's own ops, nothing mixed


def test_the_fused_path_is_the_default_for_every_op_set(monkeypatch):
    assert SearchNetwork(IMAGE_SPACE, image_layout(1), 8, 16, 10).fused
    for op_set in ("video_o2d", "video_o3d", "video_oadv"):
        assert SearchNetwork(video_space(op_set), video_layout(1), 8, 16, 5).fused
    # An op set outside FUSED_OP_SETS runs the reference, and set_fused refuses to fuse it.
    monkeypatch.setattr("sdas_lib.nets.supernet.FUSED_OP_SETS", ("o2d",))
    video = SearchNetwork(video_space("video_o2d"), ["normal", "st_reduce", "normal"], 8, 16, 5)
    assert not video.fused
    with pytest.raises(SdasError, match="has no fused path"):
        video.set_fused(True)


def video_pair(op_set: str, n_decisions: int):
    """A float64 reference video supernet (random α/β and BN statistics), its fused copy, both synced
    to ``n_decisions`` decisions. Float64: the comparison then shows the sums, not float32 rounding."""
    torch.manual_seed(0)
    space = video_space(op_set)
    ref = SearchNetwork(space, video_layout(1), C1=8, C2=16, num_classes=5, fused=False).double()
    return randomized_pair(ref, space, n_decisions)


@pytest.mark.parametrize("op_set", ["video_o2d", "video_o3d", "video_oadv"])
@pytest.mark.parametrize("n_decisions, training, channels_last", [
    (0, True, False), (0, False, False), (30, True, False), (30, False, False), (54, True, False),
    (0, True, True), (30, False, True),  # channels-last-3d, as the searches run
])
def test_the_fused_video_path_equals_the_reference(op_set, n_decisions, training, channels_last):
    """As for O2D: outputs, gradients of every weight and of α and β, BN running statistics."""
    ref, fused = video_pair(op_set, n_decisions)
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    mixed = [e for c in fused.cells for e in c.edges.values() if not e.decided]
    assert bool(mixed) == (n_decisions < 54)  # 54 = 3 cell types × (14 edges + 4 nodes): all decided
    if n_decisions == 30:
        assert any(e.decided for c in fused.cells for e in c.edges.values())
    assert list(ref.state_dict()) == list(fused.state_dict())
    x = torch.randn(2, 3, 4, 16, 16, dtype=torch.float64).contiguous(memory_format=fmt)
    for net in (ref, fused):
        net.train(training).to(memory_format=fmt)
    for step in ("w", "arch"):
        outs = both_backward(ref, fused, x, step)
        torch.testing.assert_close(outs["fused"], outs["ref"], rtol=1e-9, atol=1e-10)
        for (name, p), q in zip(ref.named_parameters(), fused.parameters()):
            if p.grad is None:
                assert q.grad is None or not q.grad.any(), name
                continue
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-8, atol=1e-10, msg=f"{step} step gradient of {name}")
        if step == "arch" and n_decisions < 54:
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ref.arch.parameters())
    for (name, a), b in zip(ref.named_buffers(), fused.buffers()):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-10, msg=f"buffer {name}")


def test_a_deep_copy_runs_fused_on_its_own_parameters():
    """Table 2's discrete network is a deep copy: it must read its own weights, not the original's."""
    _, net = net_pair(0)
    twin = copy.deepcopy(net)
    x = torch.randn(2, 3, 16, 16)
    net.eval()
    twin.eval()
    before = twin(x)
    with torch.no_grad():
        for p in net.weights():
            p.mul_(1.5)
    torch.testing.assert_close(twin(x), before)
    assert not torch.allclose(net(x), before)


def test_searches_run_the_fused_path(micro_preset):
    from sdas_lib.run.search import Searcher

    s = Searcher(micro_preset, "C", seed=0, progress=False, log=lambda s: None)
    assert s.net.fused and s.discrete_network().fused


@pytest.mark.parametrize("stride", [1, 2])
def test_a_3x3_of_dilation_2_is_the_centre_of_a_5x5_of_dilation_2(stride):
    """The fused path runs dil_conv_3x3 and dil_conv_5x5 as one conv of 5×5 kernels at dilation 2."""
    torch.manual_seed(0)
    x = torch.randn(3, 4, 9, 9, requires_grad=True)
    w = torch.randn(4, 1, 3, 3, requires_grad=True)
    ref = F.conv2d(x, w, None, stride, 2, 2, 4)
    out = repeated_depthwise(x, embed_kernel(w, 5), 1, stride, 4, 2)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(out, (x, w), g), torch.autograd.grad(ref, (x, w), g)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("step", ["w", "arch"])
def test_both_video_o2d_paths_agree_with_finite_differences(step):
    """Equal gradients can be equally wrong: on video O2D both paths once were, in the last cell
    (1×1 maps, 2 frames; FrameAvgPool's strides, see the next tests). Here each path's gradient, in
    the w step (weights and input) and the α/β step (α, β and input), against a central difference
    along a random direction, float64, eval mode (train mode's BN over 4 values per channel curves
    so sharply that a finite difference needs a far smaller step)."""
    ref, fused = video_pair("video_o2d", 0)
    x = torch.randn(2, 3, 4, 16, 16, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    for net in (ref, fused):
        net.eval()
        params = (net.weights() if step == "w" else list(net.arch.parameters())) + [x]
        frozen = [] if step == "w" else net.weights()
        for p in frozen:
            p.requires_grad_(False)  # as in the α/β step (and its depthwise routing)
        x.requires_grad_(True)
        grads = torch.autograd.grad(weighted_loss(net(x, detach_arch=step == "w")), params, allow_unused=True)
        x.requires_grad_(False)
        v = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        analytic = sum((gr * vi).sum() for gr, vi in zip(grads, v) if gr is not None).item()
        eps = 1e-6
        with torch.no_grad():
            for p, vi in zip(params, v):
                p.add_(eps * vi)
            plus = weighted_loss(net(x, detach_arch=step == "w")).item()
            for p, vi in zip(params, v):
                p.sub_(2 * eps * vi)
            minus = weighted_loss(net(x, detach_arch=step == "w")).item()
            for p, vi in zip(params, v):
                p.add_(eps * vi)
        for p in frozen:
            p.requires_grad_(True)
        numeric = (plus - minus) / (2 * eps)
        assert abs(analytic) > 1e-4  # the direction sees the gradient
        assert abs(analytic - numeric) <= 1e-6 * abs(numeric) + 1e-9, (net.fused, analytic, numeric)


def lying_strides(t: torch.Tensor) -> bool:
    """Channels-last-3d by ``is_contiguous`` but not laid out as ``contiguous(channels_last_3d)`` lays it
    out: e.g. (T·C, 1, C, 1, 1) for (N, C, T, 1, 1), what transposing frames and channels gives."""
    canonical = torch.empty_like(t, memory_format=torch.channels_last_3d).stride()
    return not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last_3d) and t.stride() != canonical


@pytest.mark.parametrize("training", [True, False])
def test_torch_cpu_batch_norm_backward_misreads_lying_strides(training):
    """The cause (issue 21): PyTorch's CPU batch_norm backward takes its fast path when input and output
    gradient are each contiguous in some format and ``suggest_memory_format`` agrees, then reads the
    input in the format ``is_contiguous`` names. (N, C, T, 1, 1) with strides (T·C, 1, C, 1, 1) is
    channels-last-3d by the one and contiguous by the other: read in the wrong order, the gradient
    fails gradcheck; the same values laid out contiguously pass. Skips once a PyTorch reads them
    right (FrameAvgPool's guard then costs nothing and stays correct)."""
    torch.manual_seed(0)
    N, C, T = 2, 4, 2
    x = torch.randn(N, T, C, 1, 1, dtype=torch.float64).transpose(1, 2)  # (N, C, T, 1, 1), strides (8, 1, 4, 1, 1)
    assert lying_strides(x) and not lying_strides(x.contiguous())
    mean, var = torch.randn(C, dtype=torch.float64), torch.rand(C, dtype=torch.float64) + 0.5

    def bn(t):
        return F.batch_norm(t, None if training else mean, None if training else var, training=training)

    right = torch.autograd.gradcheck(bn, (x.contiguous().requires_grad_(),), raise_exception=False)
    lying = torch.autograd.gradcheck(bn, (x.detach().requires_grad_(),), raise_exception=False)
    if lying:
        pytest.skip(f"torch {torch.__version__} reads these strides right")
    assert right


@pytest.mark.parametrize(
    "shape, stride",
    [((2, 4, 2, 1, 1), (1, 1, 1)), ((2, 4, 2, 2, 2), (1, 2, 2)), ((2, 4, 2, 2, 2), (2, 2, 2)), ((2, 4, 3, 5, 5), (1, 2, 2))],
)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_frame_avg_pool_then_batch_norm_has_the_right_gradient(shape, stride, channels_last, training):
    """The pin: avg_pool_1x3x3 and its BN (the pool op as the supernet runs it), gradcheck in float64
    at the last cell's maps (1×1 and 2×2, 2 frames) and a larger one, both memory formats, the S and
    ST strides; neither the pool's output nor its input gradient has lying strides."""
    torch.manual_seed(0)
    op = get_op_set("video_o2d").build_search("avg_pool_1x3x3", shape[1], stride).double().train(training)
    op[1].running_mean.normal_()
    op[1].running_var.uniform_(0.5, 2)
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    x = torch.randn(shape, dtype=torch.float64).contiguous(memory_format=fmt).requires_grad_()
    y = op[0](x)
    assert not lying_strides(y)
    gx, = torch.autograd.grad(y, x, torch.randn_like(y))
    assert not lying_strides(gx)
    assert torch.autograd.gradcheck(op, (x,))
