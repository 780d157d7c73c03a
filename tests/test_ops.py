import pytest
import torch

from sdas_lib.errors import SdasError
from sdas_lib.ops import OP_SETS, get_op_set, new_op_set
from sdas_lib.nets.supernet import SearchEdge

O2D = get_op_set("o2d")


def test_o2d_has_the_seven_paper_ops_in_alpha_column_order():
    assert O2D.names == (
        "skip_connect", "max_pool_3x3", "avg_pool_3x3", "sep_conv_3x3", "sep_conv_5x5",
        "dil_conv_3x3", "dil_conv_5x5",
    )
    assert "none" not in O2D


@pytest.mark.parametrize("name", O2D.names)
@pytest.mark.parametrize("stride", [1, 2])
def test_every_o2d_op_keeps_shape_or_halves_it_forward_and_backward(name, stride):
    op = O2D.build(name, 8, stride, affine=True)
    x = torch.randn(2, 8, 12, 12, requires_grad=True)
    y = op(x)
    assert y.shape == (2, 8, 12 // stride, 12 // stride)
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_conv_ops_are_relu_conv_bn_and_sep_conv_is_applied_twice():
    sep = O2D.build("sep_conv_3x3", 4, 1)
    dw = [m for m in sep.modules() if isinstance(m, torch.nn.Conv2d) and m.groups == 4]
    assert len(dw) == 2  # two depthwise convs: applied twice
    dil = O2D.build("dil_conv_3x3", 4, 1)
    assert isinstance(dil[0], torch.nn.ReLU) and isinstance(dil[-1], torch.nn.BatchNorm2d)
    assert dil[1].dilation == (2, 2) and dil[1].kernel_size == (3, 3)


def test_strided_identity_is_a_factorized_reduction():
    assert isinstance(O2D.build("skip_connect", 4, 1), torch.nn.Identity)
    assert type(O2D.build("skip_connect", 4, 2)).__name__ == "FactorizedReduce"


def test_registry_refuses_duplicates_and_names_unknown_ops():
    with pytest.raises(ValueError, match="already registered"):
        O2D.register("sep_conv_3x3", "conv")(lambda C, s, a: None)
    with pytest.raises(ValueError, match="already registered"):
        new_op_set("o2d", 2)
    with pytest.raises(SdasError, match="unknown op 'conv_9x9'.*choose one of"):
        O2D.build("conv_9x9", 4)
    with pytest.raises(SdasError, match="unknown op set 'o4d'"):
        get_op_set("o4d")
    assert "o2d" in OP_SETS


@pytest.mark.parametrize("col", range(7))
def test_mixed_edge_with_one_hot_weights_equals_the_single_op(col):
    edge = SearchEdge("o2d", 8, 1)
    x = torch.randn(4, 8, 10, 10)
    w = torch.nn.functional.one_hot(torch.tensor(col), 7).float()
    mixed = edge(x, w)
    single = edge.ops[O2D.names[col]](x)
    torch.testing.assert_close(mixed, single)


# (5, 2, 2, ·): stride equal to the dilation (the subsampled input gradient); (3, 2, 3, 11): strided
# and dilated otherwise (the gradient spread onto the input's grid); (3, 2, 1, 7): conv_transpose.
@pytest.mark.parametrize("kernel,stride,dilation,size", [(3, 1, 1, 9), (5, 1, 1, 8), (3, 1, 2, 16), (5, 2, 2, 16), (3, 2, 1, 7), (5, 2, 2, 7), (3, 2, 3, 11)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_depthwise_conv_gradients_equal_autograds_of_the_plain_conv(kernel, stride, dilation, size, channels_last):
    from sdas_lib.ops.depthwise import DepthwiseConv2d

    torch.manual_seed(0)
    pad = dilation * (kernel - 1) // 2
    fast = DepthwiseConv2d(6, kernel, stride, pad, dilation)
    plain = torch.nn.Conv2d(6, 6, kernel, stride, pad, dilation=dilation, groups=6, bias=False)
    plain.load_state_dict(fast.state_dict())  # same keys and shapes: checkpoints are interchangeable
    x = torch.randn(5, 6, size, size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = fast(x1), plain(x2)
    assert torch.equal(y1, y2)
    g = torch.randn_like(y1)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-4)  # sums of ~1e3 terms in another order
    assert fast.weight.grad.abs().max() > 1 and x1.grad.abs().max() > 0.1  # real gradients, not zeros on both sides


# Maps of 4×4, 8×8 and 12×12 after the stride: each of weight_grad's three ways of summing with copies > 1.
@pytest.mark.parametrize("kernel,stride,dilation,size", [(5, 1, 1, 4), (5, 1, 2, 4), (3, 2, 2, 8), (5, 1, 1, 8), (5, 2, 2, 16), (5, 1, 2, 12), (3, 2, 1, 9)])
@pytest.mark.parametrize("copies", [1, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_a_depthwise_conv_of_a_repeated_input_has_the_plain_convs_gradients(kernel, stride, dilation, size, copies, channels_last):
    from sdas_lib.ops.depthwise import repeated_depthwise

    torch.manual_seed(0)
    pad = dilation * (kernel - 1) // 2
    x = torch.randn(5, 4, size, size, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    w1 = torch.randn(copies * 4, 1, kernel, kernel, dtype=torch.float64, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_()
    y1 = repeated_depthwise(x1, w1, copies, stride, pad, dilation)
    y2 = torch.nn.functional.conv2d(x2.repeat(1, copies, 1, 1), w2, None, stride, pad, dilation, copies * 4)
    torch.testing.assert_close(y1, y2)
    if channels_last:  # the fused path's stacks stay NHWC
        assert y1.is_contiguous(memory_format=torch.channels_last)
    g = torch.randn_like(y2)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(w1.grad, w2.grad)
    assert w1.grad.abs().max() > 1 and x1.grad.abs().max() > 0.1


@pytest.mark.parametrize("size", [1, 2, 4])
@pytest.mark.parametrize("kernel,stride,dilation", [(5, 1, 1), (5, 1, 2), (3, 1, 2), (5, 2, 2), (5, 2, 1)])
@pytest.mark.parametrize("copies", [1, 3])
def test_kernels_cropped_to_small_maps_compute_the_full_conv(size, kernel, stride, dilation, copies):
    """Taps that meet only padding are cut (crop_kernel); outputs and both gradients stay the plain
    conv's, with and without autograd."""
    from sdas_lib.ops.depthwise import crop_kernel, repeated_depthwise

    torch.manual_seed(0)
    pad = dilation * (kernel - 1) // 2
    x = torch.randn(3, 4, size, size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(copies * 4, 1, kernel, kernel, dtype=torch.float64, requires_grad=True)
    cut = crop_kernel(w, (size, size), (stride,) * 2, (pad,) * 2, (dilation,) * 2)[2]
    if size == 1:
        assert cut == ((kernel - 1) // 2,) * 2  # a 1×1 map meets the centre tap only
    got = repeated_depthwise(x, w, copies, stride, pad, dilation)
    want = torch.nn.functional.conv2d(x.repeat(1, copies, 1, 1), w, None, stride, pad, dilation, copies * 4)
    torch.testing.assert_close(got, want)
    with torch.no_grad():
        torch.testing.assert_close(repeated_depthwise(x, w, copies, stride, pad, dilation), want)
    g = torch.randn_like(want)
    for a, b in zip(torch.autograd.grad(got, (x, w), g), torch.autograd.grad(want, (x, w), g)):
        torch.testing.assert_close(a, b)
