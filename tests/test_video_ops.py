"""The three video op sets (§4.2, Fig. 6): their lists, every op forward and backward at the three
video strides, the separable-3d conv and the channel-wise ops against plain torch, the strided
identity, a one-hot mixed edge, and the architecture count of a three-cell-type video space."""

import math

import pytest
import torch
import torch.nn.functional as F

from sdas_lib.core.counting import count_cell_architectures, count_valid_architectures
from sdas_lib.core.discretization import DiscretizationState
from sdas_lib.core.opsets import OP_SET_TABLE, stored_op_set_name
from sdas_lib.core.space import CellType, SearchSpace
from sdas_lib.errors import SdasError
from sdas_lib.nets.supernet import SearchEdge
from sdas_lib.ops import ChannelBias, ChannelScale, FactorizedReduce3d, get_op_set
from sdas_lib.ops.video import video_stride

EXPECTED = {  # docs/paper_notes.md "Operation sets", α's column order
    "video_o2d": [
        ("skip_connect", "identity"), ("max_pool_1x3x3", "pool"), ("avg_pool_1x3x3", "pool"),
        ("sep_conv_1x3x3", "conv"), ("sep_conv_1x5x5", "conv"), ("dil_conv_1x3x3", "conv"), ("dil_conv_1x5x5", "conv"),
    ],
    "video_o3d": [
        ("skip_connect", "identity"), ("max_pool_1x3x3", "pool"), ("sep_conv_1x3x3", "conv"),
        ("sep_conv_1x5x5", "conv"), ("dil_conv_1x3x3", "conv"), ("max_pool_3x3x3", "pool"),
        ("sep3d_conv_3x3x3", "conv"), ("sep3d_conv_3x5x5", "conv"), ("dil_sep3d_conv_3x3x3", "conv"),
    ],
    "video_oadv": [
        ("skip_connect", "identity"), ("max_pool_1x3x3", "pool"), ("sep_conv_1x3x3", "conv"),
        ("sep_conv_1x5x5", "conv"), ("max_pool_3x3x3", "pool"), ("sep3d_conv_3x3x3", "conv"),
        ("sep3d_conv_3x5x5", "conv"), ("channel_scale", "channelwise"), ("channel_bias", "channelwise"),
    ],
}
ALL_OPS = [(s, name) for s, ops in EXPECTED.items() for name, _ in ops]
STRIDES = [(1, 1, 1), (1, 2, 2), (2, 2, 2)]


def bn_train(z, bn):
    """BatchNorm3d in training mode, written out: biased batch variance over (N, T, H, W)."""
    mean = z.mean(dim=(0, 2, 3, 4), keepdim=True)
    var = z.var(dim=(0, 2, 3, 4), unbiased=False, keepdim=True)
    out = (z - mean) / torch.sqrt(var + bn.eps)
    if bn.affine:
        out = out * bn.weight.view(1, -1, 1, 1, 1) + bn.bias.view(1, -1, 1, 1, 1)
    return out


def randomize(module, seed=0):
    """Random values in every parameter (BN scale and shift included), so a copy error shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (1.0 if p.dim() == 1 else 0.0))
    return module


# -- the lists ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXPECTED)
def test_video_sets_are_the_notes_lists_in_table_and_registry(name):
    reg, info = get_op_set(name), OP_SET_TABLE[name]
    assert reg.ndim == info.ndim == 3
    assert list(info.ops) == EXPECTED[name] == [(op, reg.kind(op)) for op in reg.names]
    assert "none" not in reg


def test_video_sets_are_reachable_by_task_and_short_name():
    assert [stored_op_set_name("video", s) for s in ("o2d", "O3D", "oadv")] == ["video_o2d", "video_o3d", "video_oadv"]
    assert [len(get_op_set(n)) for n in EXPECTED] == [7, 9, 9]


# -- every op, every stride ------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("op_set, name", ALL_OPS)
def test_every_video_op_reduces_by_its_stride_forward_and_backward(op_set, name, stride):
    torch.manual_seed(0)
    # Random parameters, biases near 1: at C = 4 the SE branch's ReLU units can all start dead by
    # chance, because its input, a BN output, has per-sample means near 0 (then fc1 gets no gradient).
    op = randomize(get_op_set(op_set).build(name, 4, stride, affine=True))
    x = torch.randn(2, 4, 4, 8, 8, requires_grad=True)  # (N, C, T, H, W)
    y = op(x)
    st, sh, sw = stride
    assert y.shape == (2, 4, 4 // st, 8 // sh, 8 // sw)
    (y * torch.randn_like(y)).sum().backward()  # random weights: BN's output is not scale-free under them
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in op.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("stride", STRIDES)
def test_odd_lengths_and_a_single_frame_give_the_same_size_in_every_op(stride):
    """All ops of an edge must agree in shape to be summed: ceil(D / s) for odd D and for T = 1."""
    for T in (1, 3):
        x = torch.randn(2, 4, T, 7, 5)
        for op_set in EXPECTED:
            for name in get_op_set(op_set).names:
                y = get_op_set(op_set).build(name, 4, stride)(x)
                expect = tuple(math.ceil(d / s) for d, s in zip((T, 7, 5), stride))
                assert y.shape == (2, 4, *expect), (op_set, name, T)


@pytest.mark.parametrize("stride", STRIDES)
def test_every_op_runs_on_the_2x2_and_1x1_maps_of_tiny_clips(stride):
    """A 16×16 clip leaves the video network's last cells 2×2 and 1×1 maps (sdas_lib.core.layout)."""
    for H in (2, 1):
        x = torch.randn(2, 4, 2, H, H)
        for op_set in EXPECTED:
            for name in get_op_set(op_set).names:
                y = get_op_set(op_set).build(name, 4, stride)(x)
                assert y.shape == (2, 4, 2 // stride[0], math.ceil(H / stride[1]), math.ceil(H / stride[2])), (op_set, name)


@pytest.mark.parametrize("stride", STRIDES)
def test_avg_pool_1x3x3_is_avgpool3d_frame_by_frame(stride):
    """FrameAvgPool computes nn.AvgPool3d((1, 3, 3), padding not counted), which refuses maps under 3×3."""
    op = get_op_set("video_o2d").build("avg_pool_1x3x3", 4, stride)
    reference = torch.nn.AvgPool3d((1, 3, 3), stride, (0, 1, 1), count_include_pad=False)
    for shape in [(2, 4, 4, 8, 8), (2, 4, 5, 7, 3)]:
        x = torch.randn(shape)
        torch.testing.assert_close(op(x), reference(x))


def test_int_stride_1_is_the_normal_stride():
    assert video_stride(1) == video_stride((1, 1, 1)) == video_stride([1, 1, 1]) == (1, 1, 1)
    assert video_stride([2, 2, 2]) == (2, 2, 2)  # strides come back from JSON as lists
    assert isinstance(get_op_set("video_o3d").build("skip_connect", 4, 1), torch.nn.Identity)


# Frames of the output that a change in frame 0 reaches (of T = 4), at stride 1.
PER_FRAME = [True, False, False, False]
REACH = {
    "skip_connect": PER_FRAME, "max_pool_1x3x3": PER_FRAME, "avg_pool_1x3x3": PER_FRAME,
    "sep_conv_1x3x3": PER_FRAME, "sep_conv_1x5x5": PER_FRAME, "dil_conv_1x3x3": PER_FRAME, "dil_conv_1x5x5": PER_FRAME,
    "max_pool_3x3x3": [True, True, False, False],        # a temporal window of 3
    "sep3d_conv_3x3x3": [True, True, True, False],      # two windows of 3, one after the other
    "sep3d_conv_3x5x5": [True, True, True, False],
    "dil_sep3d_conv_3x3x3": [True, False, True, False],  # one window of 3 with temporal dilation 2
    "channel_scale": [True] * 4, "channel_bias": [True] * 4,  # a global average pool reads every frame
}


@pytest.mark.parametrize("op_set", EXPECTED)
def test_per_frame_ops_do_not_mix_frames_and_3d_ops_do(op_set):
    """k_t = 1 ops work on each frame on its own (§4.2): changing frame 0 changes only frame 0."""
    x = torch.randn(2, 4, 4, 8, 8)
    x2 = x.clone()
    x2[:, :, 0] += 1.0
    ops = get_op_set(op_set)
    for name in ops.names:
        op = randomize(ops.build(name, 4, 1)).eval()  # eval: BN statistics would mix frames
        changed = (op(x) - op(x2)).abs().amax(dim=(0, 1, 3, 4)) > 1e-6  # (T,)
        assert changed.tolist() == REACH[name], name


# -- separable-3d conv against plain F.conv3d -----------------------------------------------------------


def cross_kernel(spatial: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
    """The k_t×k×k depthwise kernel that the parallel pair simulates: the 1×k×k kernel in the
    centre frame plus the k_t×1×1 kernel through the centre pixel."""
    C, _, _, k, _ = spatial.shape
    kt = temporal.shape[2]
    w = torch.zeros(C, 1, kt, k, k)
    w[:, :, kt // 2] += spatial[:, :, 0]
    w[:, :, :, k // 2, k // 2] += temporal[:, :, :, 0, 0]
    return w


def sep3d_by_hand(x, unit, stride, dilation):
    """One separable-3d conv with F.conv3d: ReLU, one depthwise cross kernel, pointwise, BN."""
    C = x.shape[1]
    w = cross_kernel(unit.spatial.weight, unit.temporal.weight)
    pad = tuple(dilation * (k - 1) // 2 for k in w.shape[2:])
    z = F.conv3d(F.relu(x), w, stride=stride, padding=pad, dilation=dilation, groups=C)
    return bn_train(F.conv3d(z, unit.pointwise.weight), unit.bn)


@pytest.mark.parametrize("stride", STRIDES)
def test_separable_3d_conv_equals_plain_conv3d_applied_twice(stride):
    op = randomize(get_op_set("video_o3d").build("sep3d_conv_3x5x5", 6, stride))
    x = torch.randn(2, 6, 4, 8, 8)
    expect = sep3d_by_hand(sep3d_by_hand(x, op[0], stride, 1), op[1], 1, 1)
    torch.testing.assert_close(op(x), expect, rtol=1e-4, atol=1e-4)
    assert op[0].spatial.weight.shape == (6, 1, 1, 5, 5) and op[0].temporal.weight.shape == (6, 1, 3, 1, 1)


@pytest.mark.parametrize("stride", STRIDES)
def test_dilated_separable_3d_conv_is_applied_once_with_dilation_2_in_time_and_space(stride):
    op = randomize(get_op_set("video_o3d").build("dil_sep3d_conv_3x3x3", 6, stride))
    assert op.spatial.dilation == (1, 2, 2) and op.temporal.dilation == (2, 1, 1)
    x = torch.randn(2, 6, 4, 8, 8)
    torch.testing.assert_close(op(x), sep3d_by_hand(x, op, stride, 2), rtol=1e-4, atol=1e-4)


def test_sep_and_dil_convs_have_1xkxk_kernels_and_relu_conv_bn_order():
    ops = get_op_set("video_o2d")
    sep = ops.build("sep_conv_1x5x5", 4, 1)
    dw = [m for m in sep.modules() if isinstance(m, torch.nn.Conv3d) and m.groups == 4]
    assert [m.kernel_size for m in dw] == [(1, 5, 5)] * 2  # applied twice
    sep = ops.build("sep_conv_1x3x3", 4, (2, 2, 2))
    assert [m.stride for m in sep.modules() if isinstance(m, torch.nn.Conv3d) and m.groups == 4] == [(2, 2, 2), (1, 1, 1)]
    dil = ops.build("dil_conv_1x5x5", 4, 1)
    assert isinstance(dil[0], torch.nn.ReLU) and isinstance(dil[-1], torch.nn.BatchNorm3d)
    assert dil[1].kernel_size == (1, 5, 5) and dil[1].dilation == (1, 2, 2) and dil[1].padding == (0, 4, 4)


# -- channel-wise scale and bias -----------------------------------------------------------------------


def se_branch(x, op):
    z = x.mean(dim=(2, 3, 4))  # (N, C)
    z = F.relu(z @ op.fc1.weight.T + op.fc1.bias) @ op.fc2.weight.T + op.fc2.bias
    return z[:, :, None, None, None]


def test_channel_scale_and_bias_equal_the_se_computation():
    x = torch.randn(3, 32, 2, 5, 5)
    scale = randomize(get_op_set("video_oadv").build("channel_scale", 32, 1))
    bias = randomize(get_op_set("video_oadv").build("channel_bias", 32, 1), seed=1)
    assert scale.fc1.weight.shape == (8, 32) and scale.fc2.weight.shape == (32, 8)  # reduction ratio 4
    torch.testing.assert_close(scale(x), x * torch.sigmoid(se_branch(x, scale)))
    torch.testing.assert_close(bias(x), x + se_branch(x, bias))
    # Meaning: one factor in (0, 1) per (sample, channel); one shift per (sample, channel).
    ratio = scale(x) / x
    assert torch.allclose(ratio, ratio[:, :, :1, :1, :1].expand_as(ratio), atol=1e-5) and 0 < ratio.min() and ratio.max() < 1
    shift = bias(x) - x
    assert torch.allclose(shift, shift[:, :, :1, :1, :1].expand_as(shift), atol=1e-6)
    assert list(scale.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


@pytest.mark.parametrize("stride", [(1, 2, 2), (2, 2, 2)])
def test_strided_scale_and_bias_are_a_factorized_reduction_then_the_op(stride):
    x = torch.randn(2, 8, 4, 6, 6)
    for name, cls in (("channel_scale", ChannelScale), ("channel_bias", ChannelBias)):
        op = randomize(get_op_set("video_oadv").build(name, 8, stride))
        assert isinstance(op, cls) and isinstance(op.reduce, FactorizedReduce3d) and op.reduce.stride == stride
        r = op.reduce(x)
        expect = r * torch.sigmoid(se_branch(r, op)) if name == "channel_scale" else r + se_branch(r, op)
        torch.testing.assert_close(op(x), expect)
    assert get_op_set("video_oadv").build("channel_bias", 8, 1).reduce is None
    assert list(ChannelScale(8, (1, 2, 2)).state_dict())[:2] == ["reduce.conv_1.weight", "reduce.conv_2.weight"]


def test_channel_ops_use_ratio_4_but_keep_at_least_four_hidden_units():
    widths = {C: ChannelScale(C).fc1.out_features for C in (2, 4, 8, 16, 32, 128)}
    assert widths == {2: 2, 4: 4, 8: 4, 16: 4, 32: 8, 128: 32}
    assert ChannelBias(16).fc1.out_features == 4


# -- strided identity -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [(1, 2, 2), (2, 2, 2)])
def test_strided_identity_is_a_3d_factorized_reduction_of_two_offset_grids(stride):
    op = randomize(get_op_set("video_o3d").build("skip_connect", 6, stride))
    assert isinstance(op, FactorizedReduce3d)
    x = torch.randn(2, 5, 4, 6, 6)
    op = randomize(FactorizedReduce3d(5, 6, affine=True, stride=stride))
    r = F.relu(x)
    grid_1 = r[:, :, :: stride[0], ::2, ::2]
    grid_2 = r[:, :, stride[0] - 1 :: stride[0], 1::2, 1::2]  # offset by one along each strided dim
    halves = [torch.einsum("oc,nctlw->notlw", conv.weight[:, :, 0, 0, 0], g) for conv, g in ((op.conv_1, grid_1), (op.conv_2, grid_2))]
    torch.testing.assert_close(op(x), bn_train(torch.cat(halves, 1), op.bn))


def test_factorized_reduction_refuses_what_it_cannot_do():
    with pytest.raises(SdasError, match="even channel count"):
        FactorizedReduce3d(4, 5)
    for bad in (2, (1, 1, 1), (3, 3, 3), (2, 2)):
        with pytest.raises(SdasError, match=r"stride of 1s and 2s that reduces"):
            FactorizedReduce3d(4, 4, stride=bad)


# -- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, says", [
    (2, "got the int 2; a video reduction cell uses \\(1, 2, 2\\)"),
    ((2, 2), "got \\(2, 2\\)"),
    ((1, 1, 2), "got \\(1, 1, 2\\)"),
    ((3, 3, 3), "got \\(3, 3, 3\\)"),
    ("2", "got '2'"),
])
def test_bad_stride_is_a_clear_error(bad, says):
    for name in ("skip_connect", "max_pool_3x3x3", "sep3d_conv_3x3x3", "channel_scale"):
        with pytest.raises(SdasError, match=f"video ops take stride 1 or a \\(T, H, W\\) stride.*{says}"):
            get_op_set("video_oadv").build(name, 4, bad)


def test_unknown_op_names_the_set_and_the_choices():
    with pytest.raises(SdasError, match="unknown op 'sep_conv_3x3' for op set 'video_o3d'; choose one of: 'skip_connect'"):
        get_op_set("video_o3d").build("sep_conv_3x3", 4)
    with pytest.raises(SdasError, match="unknown op 'dil_conv_1x3x3' for op set 'video_oadv'"):
        OP_SET_TABLE["video_oadv"].check("dil_conv_1x3x3")


# -- the supernet's edge ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [(1, 1, 1), (2, 2, 2)])
@pytest.mark.parametrize("op_set", EXPECTED)
def test_mixed_video_edge_with_one_hot_weights_equals_the_single_op(op_set, stride):
    torch.manual_seed(0)
    edge = SearchEdge(op_set, 4, stride)
    n = len(EXPECTED[op_set])
    x = torch.randn(2, 4, 4, 6, 6)
    for col in range(n):
        w = F.one_hot(torch.tensor(col), n).float()
        single = edge.ops[EXPECTED[op_set][col][0]](x)
        torch.testing.assert_close(edge(x, w), single)


def test_search_build_puts_a_3d_batchnorm_after_pools_only():
    ops = get_op_set("video_o3d")
    pool = ops.build_search("max_pool_3x3x3", 4, (1, 2, 2))
    assert isinstance(pool[1], torch.nn.BatchNorm3d) and not pool[1].affine
    conv = ops.build_search("sep3d_conv_3x3x3", 4, 1)
    assert not any(m.affine for m in conv.modules() if isinstance(m, torch.nn.BatchNorm3d))


# -- counting ------------------------------------------------------------------------------------------------


VIDEO_CELL_TYPES = (CellType("normal", 1), CellType("st_reduce", (2, 2, 2)), CellType("s_reduce", (1, 2, 2)))


@pytest.mark.parametrize("op_set", EXPECTED)
def test_three_video_cell_types_count_as_the_cube_of_one_cell(op_set):
    space = SearchSpace(op_set=op_set, cell_types=VIDEO_CELL_TYPES, n_nodes=4, k=2)
    n_ops = len(EXPECTED[op_set])
    state = DiscretizationState(space)
    per_cell = 3 * 6 * 10 * n_ops**8  # C(2,2)·C(3,2)·C(4,2)·C(5,2)·|O|^8
    assert [count_cell_architectures(state, c) for c in space.cell_type_names] == [per_cell] * 3
    assert count_valid_architectures(state) == per_cell**3
    assert space.total_decisions == 54  # M for three video cell types (docs/paper_notes.md)
    assert all(c.reduction for c in VIDEO_CELL_TYPES[1:]) and not VIDEO_CELL_TYPES[0].reduction


def test_relu_conv_bn_3d_is_the_cell_input_preprocessing_block():
    from sdas_lib.ops import ReLUConvBN3d

    block = randomize(ReLUConvBN3d(6, 4, 1, 1, 0, affine=True))
    x = torch.randn(2, 6, 3, 5, 5)
    expect = bn_train(F.conv3d(F.relu(x), block[1].weight), block[2])
    torch.testing.assert_close(block(x), expect, rtol=1e-4, atol=1e-4)
    with pytest.raises(SdasError, match=r"\(T, H, W\) triple"):
        ReLUConvBN3d(6, 4, (1, 1), 1, 0, affine=True)


def outputs_and_input_grads(fast, plain, x):
    """Both modules on their own copies of x: the outputs must match; then the backward of one random
    weighting of the output through each, whose input gradients it returns (fast's, plain's)."""
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = fast(x1), plain(x2)
    torch.testing.assert_close(y1, y2)
    g = torch.randn_like(y1)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    return x1.grad, x2.grad


@pytest.mark.parametrize("kernel,stride,dilation", [
    ((1, 3, 3), (1, 1, 1), (1, 1, 1)),  # the 1×k×k spatial branch
    ((3, 1, 1), (1, 1, 1), (2, 1, 1)),  # the dilated temporal branch
    ((1, 5, 5), (1, 2, 2), (1, 2, 2)),  # S-reduction, dilated
    ((3, 1, 1), (2, 2, 2), (1, 1, 1)),  # ST-reduction
    ((3, 3, 3), (1, 1, 1), (1, 1, 1)),
    ((1, 3, 3), (2, 2, 2), (1, 1, 1)),  # the spatial branch of a separable-3d conv in the ST-reduction
])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("weight_grad", [True, False])  # the w step (3D form) and the α/β step (2D views)
def test_depthwise_conv3d_gradients_equal_autograds_of_the_plain_conv(kernel, stride, dilation, channels_last, weight_grad):
    from sdas_lib.ops.depthwise import DepthwiseConv3d

    torch.manual_seed(0)
    pad = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
    fast = DepthwiseConv3d(6, kernel, stride, pad, dilation)
    plain = torch.nn.Conv3d(6, 6, kernel, stride, pad, dilation=dilation, groups=6, bias=False)
    plain.load_state_dict(fast.state_dict())  # same keys and shapes: checkpoints are interchangeable
    fast.weight.requires_grad_(weight_grad)
    plain.weight.requires_grad_(weight_grad)
    x = torch.randn(3, 6, 5, 9, 9)  # T = 5: odd, as strided frames may leave
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    gx1, gx2 = outputs_and_input_grads(fast, plain, x)
    torch.testing.assert_close(gx1, gx2, rtol=1e-5, atol=1e-5)
    assert gx1.abs().max() > 0.1  # real gradients, not zeros on both sides
    if weight_grad:
        torch.testing.assert_close(fast.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-4)
        assert fast.weight.grad.abs().max() > 1
    else:
        assert fast.weight.grad is None


@pytest.mark.parametrize("kernel,stride,dilation", [((1, 5, 5), (1, 1, 1), (1, 1, 1)), ((1, 3, 3), (1, 1, 1), (1, 2, 2)), ((3, 1, 1), (1, 1, 1), (1, 1, 1))])
@pytest.mark.parametrize("weight_grad", [True, False, None])  # w step, α/β step, no autograd (evaluation)
def test_depthwise_conv3d_on_1x1_maps_cuts_the_taps_that_meet_only_padding(kernel, stride, dilation, weight_grad):
    """The video net's last cells see 1×1 maps, where oneDNN runs a 1×5×5 kernel very slowly: the
    kernel is cropped to the taps that meet the input (the centre), with the plain conv's results."""
    from sdas_lib.ops.depthwise import DepthwiseConv3d, crop_kernel

    torch.manual_seed(0)
    pad = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
    fast = DepthwiseConv3d(6, kernel, stride, pad, dilation)
    plain = torch.nn.Conv3d(6, 6, kernel, stride, pad, dilation=dilation, groups=6, bias=False)
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(4, 6, 2, 1, 1).contiguous(memory_format=torch.channels_last_3d)
    cut = crop_kernel(fast.weight, x.shape[2:], stride, pad, dilation)[2]
    assert cut == (0, (kernel[1] - 1) // 2, (kernel[2] - 1) // 2)  # 2 frames: every temporal tap meets one
    if weight_grad is None:
        with torch.no_grad():
            torch.testing.assert_close(fast(x), plain(x))
        return
    fast.weight.requires_grad_(weight_grad)
    plain.weight.requires_grad_(weight_grad)
    torch.testing.assert_close(*outputs_and_input_grads(fast, plain, x))
    if weight_grad:
        torch.testing.assert_close(fast.weight.grad, plain.weight.grad)
        assert fast.weight.grad.abs().sum() > 0
