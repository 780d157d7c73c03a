"""Evaluation networks (Fig. 5): published sizes, train/eval behaviour, drop path, genotype checks."""

import pytest
import torch
from torch import nn

from sdas_lib.nets.complexity import count_mult_adds, count_parameters
from sdas_lib.errors import SdasError
from sdas_lib.nets.evalnet import (
    NETWORKS, CifarNetwork, EvalCell, NetworkSpec, build_network, drop_path, get_network, register_network,
)
from sdas_lib.core.genotype import DARTS_V2, Genotype
from sdas_lib.ops import ReLUConvBN




def small(genotype=DARTS_V2, **kw):
    args = dict(K=1, C1=12, C2=16, num_classes=10)
    args.update(kw)
    return build_network("cifar", genotype, **args)


# -- the sizes of the reference genotypes (docs/paper_notes.md "Reference facts") ---------------------------


def test_darts_v2_cifar_size_matches_darts():
    """K=6, C1=108, C2=144: DARTS' own code counts 3,349,342 parameters without the auxiliary head."""
    net = build_network("cifar", DARTS_V2, K=6, C1=108, C2=144, num_classes=10)
    params = count_parameters(net, exclude_auxiliary=True)
    assert params == pytest.approx(3_349_342, rel=0.01)
    assert params == pytest.approx(3.3e6, rel=0.03)  # "about 3.3M" in the DARTS paper
    assert count_parameters(net, exclude_auxiliary=False) > params  # the auxiliary head is extra
    # Our conv + linear count at 32×32 (no published figure; pinned against regressions).
    assert count_mult_adds(net, (3, 32, 32)) == pytest.approx(528.4e6, rel=0.03)


def test_darts_v2_imagenet_size_matches_darts():
    """K=4, C1=24, C2=192 at 224×224: 4.7M parameters and about 530M conv + linear mult-adds."""
    net = build_network("imagenet", DARTS_V2, K=4, C1=24, C2=192, num_classes=1000)
    assert count_parameters(net) == pytest.approx(4.7e6, rel=0.01)
    mult_adds = count_mult_adds(net, (3, 224, 224))
    assert mult_adds == pytest.approx(530e6, rel=0.03)
    assert mult_adds < 600e6  # the mobile setting's budget (§6.2)


def test_registry_defaults_are_the_paper_sizes():
    assert (get_network("cifar").K, get_network("cifar").C1, get_network("cifar").C2) == (6, 108, 144)
    assert (get_network("imagenet").K, get_network("imagenet").C1, get_network("imagenet").C2) == (4, 24, 192)


# -- structure -----------------------------------------------------------------------------------


def test_cifar_structure_follows_fig5a():
    net = small(K=2)
    assert net.layout == ["normal"] * 2 + ["reduce"] + ["normal"] * 2 + ["reduce"] + ["normal"] * 2
    # Per-node width C2/4 = 4 doubles at each reduction; a cell outputs 4·C channels.
    assert [c.out_channels for c in net.cells] == [16, 16, 32, 32, 32, 64, 64, 64]
    # preprocess0 is a factorized reduction exactly after a reduction cell (DARTS).
    kinds = [type(c.preprocess0).__name__ for c in net.cells]
    assert kinds == ["ReLUConvBN"] * 3 + ["FactorizedReduce"] + ["ReLUConvBN"] * 2 + ["FactorizedReduce", "ReLUConvBN"]
    assert net.aux_index == 5  # after the second reduction cell: 2/3 depth
    assert net.classifier.in_features == 64
    # Eval ops have affine BN, unlike the search network.
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(bn.affine for bn in bns)


def test_reduction_edges_read_inputs_with_stride_2():
    net = small()
    reduce_cell = net.cells[1]
    # DARTS_V2 reduce node 3 = skip_connect(2) + max_pool_3x3(1): only the input edge is strided.
    node3_ops = dict(zip(reduce_cell.inputs[1], reduce_cell.ops[1]))
    assert node3_ops[1].stride == 2
    assert isinstance(node3_ops[2], nn.Identity)


def test_imagenet_stem_reaches_28x28_with_2C1_channels():
    net = build_network("imagenet", DARTS_V2, K=1, C1=8, C2=16, num_classes=5)
    s0, s1 = net.stem_forward(torch.zeros(1, 3, 224, 224))
    assert s0.shape == (1, 16, 56, 56) and s1.shape == (1, 16, 28, 28)
    assert type(net.cells[0].preprocess0).__name__ == "FactorizedReduce"  # reduction_prev at start


# -- forward / backward ------------------------------------------------------------------------


@pytest.mark.parametrize("name,res", [("cifar", 16), ("cifar", 28), ("cifar", 32), ("imagenet", 64)])
def test_every_network_trains_and_evaluates(name, res):
    torch.manual_seed(0)
    net = build_network(name, DARTS_V2, K=1, C1=8, C2=16, num_classes=7)
    x, y = torch.randn(4, 3, res, res), torch.randint(7, (4,))
    net.train()
    net.drop_path_prob = 0.2
    logits, aux = net(x, return_aux=True)
    assert logits.shape == (4, 7) and aux is not None and aux.shape == (4, 7)
    loss = nn.functional.cross_entropy(logits, y) + 0.4 * nn.functional.cross_entropy(aux, y)
    loss.backward()
    assert net.auxiliary_head.classifier.weight.grad is not None
    assert net.cells[0].preprocess1[1].weight.grad.abs().sum() > 0
    net.eval()
    with torch.no_grad():
        logits, aux = net(x, return_aux=True)
    assert logits.shape == (4, 7) and aux is None  # the auxiliary head is used in training only
    assert net(x).shape == (4, 7)


def test_no_auxiliary_head_when_disabled():
    net = small(auxiliary=False)
    net.train()
    logits, aux = net(torch.randn(2, 3, 16, 16), return_aux=True)
    assert aux is None and net.auxiliary_head is None
    assert count_parameters(net, exclude_auxiliary=False) == count_parameters(net)


def test_drop_path_is_active_only_in_training():
    torch.manual_seed(0)
    net = small()
    x = torch.randn(8, 3, 16, 16)
    net.eval()
    with torch.no_grad():
        ref = net(x)
        net.drop_path_prob = 0.5
        assert torch.equal(net(x), ref)  # eval: drop path off whatever the probability
    net.train()
    with torch.no_grad():
        net.drop_path_prob = 0.0
        torch.manual_seed(1)
        a = net(x)
        torch.manual_seed(1)
        assert torch.equal(net(x), a)  # no randomness without drop path
        net.drop_path_prob = 0.5
        assert not torch.allclose(net(x), a)


def test_drop_path_zeroes_whole_samples_and_keeps_the_mean():
    torch.manual_seed(0)
    x = torch.ones(4000, 2, 3, 3)
    y = drop_path(x, 0.25)
    per_sample = y.flatten(1)
    kept = torch.tensor(1 / 0.75)  # survivors are rescaled by 1 / keep probability
    assert set(per_sample.unique().tolist()) <= {0.0, kept.item()}
    assert (per_sample == per_sample[:, :1]).all()  # one draw per sample
    assert y.mean().item() == pytest.approx(1.0, abs=0.05)
    assert drop_path(x, 0.0) is x


def test_drop_path_spares_identity_edges():
    # A cell of identities only: drop path would change its output if it touched them.
    g = Genotype.from_cells("o2d", {"normal": [[("skip_connect", 0), ("skip_connect", 1)]]})
    ident = lambda: nn.Identity()  # noqa: E731
    cell = EvalCell(g["normal"], "o2d", 4, 1, ident(), ident())
    cell.train()
    x0, x1 = torch.randn(6, 4, 5, 5), torch.randn(6, 4, 5, 5)
    assert torch.equal(cell(x0, x1, drop_prob=0.9), x0 + x1)
    conv_cell = EvalCell(
        Genotype.from_cells("o2d", {"normal": [[("sep_conv_3x3", 0), ("skip_connect", 1)]]})["normal"],
        "o2d", 4, 1, ReLUConvBN(4, 4, 1, 1, 0, True), ident(),
    )
    conv_cell.train()
    torch.manual_seed(3)
    out = conv_cell(x0, x1, drop_prob=0.9)
    dropped = [(out[n] == x1[n]).all().item() for n in range(6)]  # dropped conv branch leaves x1
    assert any(dropped)


# -- validation --------------------------------------------------------------------------------


def test_genotype_cell_type_mismatch_is_a_clear_error():
    video_like = Genotype.from_cells(
        "o2d",
        {
            "normal": [[("sep_conv_3x3", 0), ("sep_conv_3x3", 1)]] * 4,
            "s_reduce": [[("max_pool_3x3", 0), ("max_pool_3x3", 1)]] * 4,
        },
    )
    with pytest.raises(SdasError, match=r"do not match the network's 'normal', 'reduce'.*missing cell type 'reduce'.*unexpected 's_reduce'"):
        build_network("cifar", video_like, K=1, C1=8, C2=16, num_classes=10)
    with pytest.raises(SdasError, match="do not match"):
        build_network("imagenet", video_like, K=1, C1=8, C2=16, num_classes=10)


def test_bad_sizes_are_clear_errors():
    with pytest.raises(SdasError, match="C2=18 must be divisible by the 4 nodes"):
        small(C2=18)
    with pytest.raises(SdasError, match="must be even"):
        small(C2=20)
    with pytest.raises(SdasError, match="K .* must be >= 1"):
        small(K=0)
    with pytest.raises(SdasError, match="C1 must be a positive integer"):
        small(C1=0)


def test_registry_refuses_duplicates_and_names_choices():
    with pytest.raises(ValueError, match="already registered"):
        register_network(NETWORKS["cifar"])
    with pytest.raises(SdasError, match="unknown network 'hexnet'; choose one of: 'cifar', 'imagenet', 'video'"):
        get_network("hexnet")
    assert isinstance(NETWORKS["cifar"], NetworkSpec)
    assert NETWORKS["cifar"].builder is CifarNetwork


def test_repr_teaches():
    text = repr(small())
    assert "cifar" in text and "5 cells [N R N R N]" in text and "parameters" in text
