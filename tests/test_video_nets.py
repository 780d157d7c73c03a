"""The video networks (Fig. 5c): layout and sizes, the supernet on every video op set, its equivalence
with the evaluation network once decided, the video space's count, the evaluation network's size at
the paper's settings, and clear errors for what does not fit."""

import pytest
import torch
from torch import nn

from sdas_lib.core.counting import count_cell_architectures, count_valid_architectures
from sdas_lib.core.discretization import DiscretizationState, decide
from sdas_lib.core.genotype import DARTS_V2, Genotype
from sdas_lib.core.layout import feature_sizes, image_layout, min_input_size, video_layout
from sdas_lib.core.space import NORMAL, S_REDUCE, ST_REDUCE, video_space
from sdas_lib.errors import SdasError
from sdas_lib.nets.complexity import count_mult_adds, count_parameters
from sdas_lib.nets.evalnet import VideoNetwork, build_network, get_network
from sdas_lib.nets.stems import VideoStem
from sdas_lib.nets.supernet import SearchNetwork
from sdas_lib.ops import FactorizedReduce3d, ReLUConvBN3d

VIDEO_SETS = ("video_o2d", "video_o3d", "video_oadv")
STRIDES = {"normal": 1, "st_reduce": (2, 2, 2), "s_reduce": (1, 2, 2)}
TINY = dict(K=1, C1=8, C2=16)

# An Oadv genotype for size checks, shaped after Fig. 9's remark (3D max pools in the ST-reduction
# cell, 2D max pools in the S-reduction cell). It is NOT the paper's cell: Fig. 9 is missing from our copy.
EXAMPLE = Genotype.from_cells("video_oadv", {
    "normal": [[("sep3d_conv_3x3x3", 0), ("sep_conv_1x3x3", 1)], [("sep3d_conv_3x3x3", 1), ("skip_connect", 2)],
               [("channel_scale", 0), ("sep_conv_1x5x5", 2)], [("sep3d_conv_3x5x5", 1), ("channel_bias", 3)]],
    "st_reduce": [[("max_pool_3x3x3", 0), ("max_pool_3x3x3", 1)], [("max_pool_3x3x3", 1), ("sep3d_conv_3x3x3", 2)],
                  [("max_pool_3x3x3", 0), ("skip_connect", 2)], [("sep3d_conv_3x3x3", 1), ("skip_connect", 3)]],
    "s_reduce": [[("max_pool_1x3x3", 0), ("max_pool_1x3x3", 1)], [("sep_conv_1x3x3", 0), ("skip_connect", 2)],
                 [("max_pool_1x3x3", 1), ("channel_scale", 3)], [("sep_conv_1x5x5", 2), ("skip_connect", 4)]],
})




def supernet(op_set="video_o3d", **kw):
    args = {**TINY, **kw}
    return SearchNetwork(video_space(op_set), video_layout(args["K"]), args["C1"], args["C2"], num_classes=5)


# -- layout and sizes (torch-free arithmetic, then the real modules on the meta device) --------------


def test_video_space_and_layout():
    space = video_space("video_oadv")
    assert space.cell_types == (NORMAL, ST_REDUCE, S_REDUCE)
    assert {c.name: c.stride for c in space.cell_types} == STRIDES
    assert space.total_decisions == 54  # M = 3 cell types × (14 edges + 4 nodes)
    assert video_layout(2) == ["normal", "normal", "st_reduce", "normal", "normal", "s_reduce", "normal", "normal"]
    with pytest.raises(SdasError, match="video op set"):
        video_space("o2d")
    with pytest.raises(SdasError, match="K .* must be >= 1"):
        video_layout(0)


# (clip T, H, W) -> size after the stem, after the ST-reduction, after the S-reduction (= at the head)
SIZES = {
    (8, 16, 16): [(8, 4, 4), (4, 2, 2), (4, 1, 1)],  # the tiny moving digits
    (16, 16, 16): [(16, 4, 4), (8, 2, 2), (8, 1, 1)],
    (16, 112, 112): [(16, 28, 28), (8, 14, 14), (8, 7, 7)],  # the paper's clips (§5.2)
}


@pytest.mark.parametrize("clip", SIZES)
def test_feature_sizes_per_stage(clip):
    K = 2
    sizes = feature_sizes(clip, video_layout(K), STRIDES, VideoStem.stride)
    stem, st, s = sizes[0], sizes[K + 1], sizes[2 * K + 2]  # sizes[i + 1]: after cell i
    stage1, stage2, stage3 = sizes[1:K + 1], sizes[K + 2:2 * K + 2], sizes[2 * K + 3:]
    assert [stem, st, s] == SIZES[clip]
    assert set(stage1) == {stem} and set(stage2) == {st} and set(stage3) == {s}  # normal cells keep the size
    assert sizes[-1][0] >= 2  # frames left at the head
    assert min_input_size(3, video_layout(K), STRIDES, VideoStem.stride) == (2, 16, 16)


@pytest.mark.parametrize("clip, sizes", [((16, 112, 112), SIZES[(16, 112, 112)]), ((8, 16, 16), SIZES[(8, 16, 16)])])
def test_the_modules_produce_the_computed_sizes(clip, sizes):
    with torch.device("meta"):
        net = build_network("video", EXAMPLE, K=2, C1=32, C2=128, num_classes=10)
        seen = []
        net.stem.register_forward_hook(lambda m, i, out: seen.append(tuple(out.shape[2:])))
        for cell in net.cells:
            cell.register_forward_hook(lambda m, i, out: seen.append(tuple(out.shape[2:])))
        assert net(torch.empty(1, 3, *clip)).shape == (1, 10)
    assert seen == feature_sizes(clip, net.layout, STRIDES, VideoStem.stride)
    assert [seen[0], seen[3], seen[6]] == sizes


# -- the supernet ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op_set", VIDEO_SETS)
def test_supernet_forward_backward_on_a_tiny_clip(op_set):
    torch.manual_seed(0)
    net = supernet(op_set)
    assert [c.cell_type for c in net.cells] == ["normal", "st_reduce", "normal", "s_reduce", "normal"]
    assert net.arch.alpha["st_reduce"].shape == (14, len(net.cells[0].edges["0"].ops))
    x, y = torch.randn(2, 3, 4, 16, 16), torch.randint(5, (2,))

    # w step: α/β enter as constants, no gradient reaches them.
    nn.functional.cross_entropy(net(x, detach_arch=True), y).backward()
    assert all(p.grad is None for p in net.arch.parameters())
    assert net.stem[0].weight.grad.abs().sum() > 0 and net.classifier.weight.grad.abs().sum() > 0

    # α/β step: every cell type's α and β get a gradient.
    logits = net(x)
    assert logits.shape == (2, 5)
    nn.functional.cross_entropy(logits, y).backward()
    for c in ("normal", "st_reduce", "s_reduce"):
        assert net.arch.alpha[c].grad.abs().sum() > 0 and net.arch.beta[c].grad.abs().sum() > 0, c


def test_supernet_reads_reduced_inputs_with_the_previous_cells_stride():
    net = supernet()
    pre0 = [c.preprocess0 for c in net.cells]
    assert [type(p).__name__ for p in pre0] == [
        "ReLUConvBN3d", "ReLUConvBN3d", "FactorizedReduce3d", "ReLUConvBN3d", "FactorizedReduce3d"]
    assert pre0[2].stride == (2, 2, 2) and pre0[4].stride == (1, 2, 2)  # after ST, after S
    assert all(isinstance(c.preprocess1, ReLUConvBN3d) for c in net.cells)
    # Only the edges that read the cell inputs carry the stride: a 3×3×3 max pool of the ST cell.
    st, edge = net.cells[1], net.space.edges.index
    assert st.edges[str(edge((0, 2)))].ops["max_pool_3x3x3"][0].stride == (2, 2, 2)
    assert st.edges[str(edge((2, 3)))].ops["max_pool_3x3x3"][0].stride == (1, 1, 1)


def test_fully_decided_supernet_equals_the_video_network_of_its_genotype():
    torch.manual_seed(0)
    net = supernet("video_oadv")
    alpha, beta = net.arch.as_dicts()
    with torch.no_grad():
        for c in alpha:
            alpha[c].normal_()
            beta[c].normal_()
    n_weights = [len(net.weights())]
    state = DiscretizationState(net.space)
    for n in (10, 30, 14):  # pruning deletes weights as decisions are made
        decide(state, alpha, beta, n, 0)
        net.sync(state)
        n_weights.append(len(net.weights()))
    assert state.complete and n_weights == sorted(n_weights, reverse=True) and len(set(n_weights)) == 4
    plain = VideoNetwork(state.genotype(), **TINY, num_classes=5, search_ops=True)

    # Same modules in the same order (stem, cells, classifier): copy tensor by tensor.
    def ordered(sd):
        def rank(k):
            return (0, 0) if k.startswith("stem") else (1, int(k.split(".")[1])) if k.startswith("cells.") else (2, 0)

        return dict(sorted(((k, v) for k, v in sd.items() if not k.startswith("arch.")), key=lambda kv: rank(kv[0])))

    src = list(ordered(net.state_dict()).values())
    dst = ordered(plain.state_dict())
    assert [tuple(v.shape) for v in src] == [tuple(v.shape) for v in dst.values()]
    plain.load_state_dict(dict(zip(dst, src)))
    x = torch.randn(3, 3, 8, 16, 16)
    for mode in (False, True):  # eval mode (running stats) and train mode (batch stats)
        net.train(mode)
        plain.train(mode)
        torch.testing.assert_close(net(x), plain(x))
        torch.testing.assert_close(net(x, detach_arch=True), plain(x))


@pytest.mark.parametrize("op_set", VIDEO_SETS)
def test_video_space_count(op_set):
    space = video_space(op_set)
    state = DiscretizationState(space)
    per_cell = 3 * 6 * 10 * space.n_ops**8  # C(2,2)·C(3,2)·C(4,2)·C(5,2)·|O|^8
    assert [count_cell_architectures(state, c) for c in space.cell_type_names] == [per_cell] * 3
    assert count_valid_architectures(state) == per_cell**3
    assert space.total_decisions == 54


# -- the evaluation network --------------------------------------------------------------------------


def test_registry_defaults_are_the_paper_evaluation_sizes():
    spec = get_network("video")
    assert (spec.K, spec.C1, spec.C2, spec.num_classes) == (2, 32, 128, 10)  # §7.1, Kinetics10
    assert spec.cell_types == ("normal", "st_reduce", "s_reduce")
    assert spec.input_shape(spec.resolution) == (3, 16, 112, 112)


def test_paper_size_parameters_and_mult_adds():
    """K=2, C1=32, C2=128 at 16×112×112, counted on the meta device (no memory, no compute).

    Measured here for EXAMPLE: 1,057,514 parameters and 1,500,318,720 mult-adds. Table 7/8 report
    0.93M and 1.38G for the paper's own (unpublished here) Fig. 9 cells; this example is conv-heavier.
    Same scale within 20% is what a wrong layout (a third reduction, a stem that keeps 56×56) would break.
    """
    with torch.device("meta"):
        net = build_network("video", EXAMPLE, K=2, C1=32, C2=128, num_classes=10)
    params = count_parameters(net)
    mult_adds = count_mult_adds(net, (3, 16, 112, 112))
    assert params == 1_057_514
    assert mult_adds == pytest.approx(1_500_318_720, rel=1e-4)
    assert params == pytest.approx(0.93e6, rel=0.2) and mult_adds == pytest.approx(1.38e9, rel=0.2)
    assert count_parameters(net, exclude_auxiliary=False) == params  # no auxiliary head


def test_video_network_trains_evaluates_and_drops_paths():
    torch.manual_seed(0)
    net = build_network("video", EXAMPLE, **TINY, num_classes=5, auxiliary=True)  # auxiliary is ignored
    assert net.auxiliary_head is None and "video, 5 cells [N ST N S N]" in repr(net)
    assert isinstance(net.cells[2].preprocess0, FactorizedReduce3d)
    x, y = torch.randn(4, 3, 8, 16, 16), torch.randint(5, (4,))
    net.train()
    net.drop_path_prob = 0.3
    logits, aux = net(x, return_aux=True)
    assert logits.shape == (4, 5) and aux is None
    nn.functional.cross_entropy(logits, y).backward()
    assert net.stem[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        torch.manual_seed(1)
        a = net(x)
        net.drop_path_prob = 0.0
        torch.manual_seed(1)
        assert not torch.allclose(net(x), a)  # drop path changed the training output
        net.eval()
        net.drop_path_prob = 0.5
        ref = net(x)
        net.drop_path_prob = 0.0
        assert torch.equal(net(x), ref)  # and is off in eval mode


# -- genotypes and bad input -------------------------------------------------------------------------


def test_video_genotype_round_trips_and_has_no_darts_form(tmp_path):
    EXAMPLE.save(tmp_path / "g.json")
    assert Genotype.load(tmp_path / "g.json", cell_types=["normal", "st_reduce", "s_reduce"], op_set="video_oadv") == EXAMPLE
    assert EXAMPLE.cell_types == ("normal", "st_reduce", "s_reduce")
    with pytest.raises(SdasError, match="only image genotypes .* have a DARTS form; this one has op set 'video_oadv'"):
        EXAMPLE.to_darts()
    doc = EXAMPLE.to_dict()
    doc["cells"]["s_reduce"]["nodes"][0][0][0] = "max_pool_3x3"  # an image op name
    with pytest.raises(SdasError, match="unknown op 'max_pool_3x3' in cell 's_reduce', node 2 for op set 'video_oadv'"):
        Genotype.from_dict(doc)


def test_image_genotype_or_op_set_is_refused_by_the_video_network():
    with pytest.raises(SdasError, match="do not match the network's 'normal', 'st_reduce', 's_reduce'.*missing"):
        build_network("video", DARTS_V2, **TINY, num_classes=5)
    image_ops = Genotype.from_cells("o2d", {c: [[("sep_conv_3x3", 0), ("skip_connect", 1)]] * 4 for c in STRIDES})
    with pytest.raises(SdasError, match="op set 'o2d' \\(2D ops\\); the video network needs a video op set"):
        build_network("video", image_ops, **TINY, num_classes=5)
    with pytest.raises(SdasError, match=r"layout uses cell types \['reduce'\] that the space lacks"):
        SearchNetwork(video_space("video_o2d"), image_layout(1), 8, 16, 5)


def test_a_clip_too_small_names_the_minimum():
    with torch.device("meta"):
        net, search = build_network("video", EXAMPLE, **TINY, num_classes=5), supernet()
        for clip in [(1, 16, 16), (8, 8, 8), (8, 16, 12)]:
            x = torch.zeros(1, 3, *clip)
            dims = "x".join(map(str, clip))
            with pytest.raises(SdasError, match=f"input {dims} \\(TxHxW\\) is too small for the video network: "
                                                "its reductions need at least 2x16x16$"):
                net(x)
            with pytest.raises(SdasError, match=f"input {dims} .* too small for the search network: .* at least 2x16x16"):
                search(x)
        assert net.eval()(torch.zeros(1, 3, 2, 16, 16)).shape == (1, 5)  # the minimum itself runs


def test_an_image_batch_is_refused_by_the_video_networks():
    with torch.device("meta"):
        with pytest.raises(SdasError, match=r"takes \(N, C, T, H, W\) clips; got an input of shape \(2, 3, 16, 16\)"):
            build_network("video", EXAMPLE, **TINY, num_classes=5)(torch.zeros(2, 3, 16, 16))
