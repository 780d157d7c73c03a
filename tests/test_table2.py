"""Table 2's protocol: the search weights tested relaxed, discrete (the paper's: same weights and
BatchNorm statistics) and discrete with BN re-estimated, measured before the epoch's last decisions."""

import math

import pytest
import torch

from sdas_lib.core.opsets import op_set_info
from sdas_lib.nets.supernet import SearchCell, SearchEdge
from sdas_lib.run.search import TEST_BATCH, Searcher


class Recording(Searcher):
    """Counts, during each test evaluation, how many edges that still mix all ops each cell's forward
    pass computes (on the fused path and the reference path alike: the cell is what both run)."""

    def __init__(self, *args, **kwargs):
        self.mixed_calls: list[tuple[int, bool, int]] = []  # (t, relaxed network?, mixed-edge calls)
        super().__init__(*args, **kwargs)

    def test_accuracy(self, net):
        calls = [0]
        hooks = [
            m.register_forward_hook(lambda mod, inp, out: calls.__setitem__(
                0, calls[0] + sum(not e.decided for e in mod.edges.values())))
            for m in net.modules() if isinstance(m, SearchCell)
        ]
        try:
            return super().test_accuracy(net)
        finally:
            for h in hooks:
                h.remove()
            self.mixed_calls.append((self.t, net is self.net, calls[0]))


@pytest.mark.slow
def test_das_relaxed_accuracy_at_T_is_measured_on_the_fully_mixed_supernet(micro_preset):
    s = Recording(micro_preset, "das", seed=0, progress=False, log=lambda line: None)
    result = s.run()
    test_batches = math.ceil(len(s.data.test) / max(micro_preset.batch_size, TEST_BATCH))  # test passes batch >= 256
    edges = len(s.net.cells) * s.space.n_edges
    relaxed = [(t, n) for t, is_relaxed, n in s.mixed_calls if is_relaxed]
    assert relaxed == [(s.T, edges * test_batches)]  # every edge of every cell still mixed, each batch
    assert all(n == 0 for _, is_relaxed, n in s.mixed_calls if not is_relaxed)  # the discrete copies
    row = result.metrics[-1]
    for key in ("test_acc_relaxed", "test_acc_discrete_weights_kept", "test_acc_discrete", "test_acc_discrete_bn_reestimated"):
        assert row[key] == row[key], key  # measured (not NaN) in the last epoch
    assert s.state.complete and row["decisions"] == 36


@pytest.mark.slow
def test_discrete_network_keeps_the_search_weights_and_batchnorm_statistics(micro_preset):
    s = Searcher(micro_preset, "C", seed=1, progress=False, log=lambda line: None)
    s.run()
    fresh = Searcher(micro_preset, "A", seed=2, progress=False, log=lambda line: None)  # never trained, nothing decided
    for searcher in (s, fresh):
        ref = searcher.net.state_dict()
        discrete = searcher.discrete_network()
        kept = discrete.state_dict()
        assert kept and all(torch.equal(v, ref[k]) for k, v in kept.items())  # same tensors, nothing re-estimated
        assert sum(not e.decided for m in [discrete] for e in m.modules() if isinstance(e, SearchEdge)) == 0
        weighted = searcher.discrete_network(keep_mixing_weights=True)
        assert all(torch.equal(v, ref[k]) for k, v in weighted.state_dict().items())
        scales = [sc for cell in weighted.cells for sc in cell.kept_scales.values()]
        assert len(scales) == len(weighted.cells) * 2 * searcher.space.n_nodes
        if searcher is fresh:  # α = β = 0: softmax(α)_op · sigmoid(β) = 1/n_ops · 1/2 on every kept edge
            n_ops = len(op_set_info(searcher.space.op_set).names)
            assert scales == [pytest.approx(1 / (2 * n_ops))] * len(scales)
        else:  # after the run every node is decided: Eq. 1's weights are already 1
            assert all(sc == 1.0 for sc in scales)
        reestimated = searcher.reestimate_batchnorm(discrete).state_dict()
        means = [k for k in kept if k.endswith("running_mean")]
        assert any(not torch.equal(reestimated[k], ref[k]) for k in means)


def test_evaluation_survives_a_checkpoint_between_the_last_iteration_and_the_epoch_close(micro_preset, tmp_path):
    s = Searcher(micro_preset, "C", seed=0, out_dir=tmp_path / "run", progress=False, log=lambda line: None)
    s.evaluation = {"test_acc_relaxed": 0.5, "test_acc_discrete": 0.25, "test_acc_discrete_bn_reestimated": 0.75}
    s.save_checkpoint()
    again = Searcher(micro_preset, "C", seed=0, out_dir=tmp_path / "run", resume=True, progress=False, log=lambda line: None)
    assert again.evaluation == s.evaluation
    row, line = again.epoch_summary(0.0)  # an evaluation saved before the fourth column: that column is NaN
    assert row["test_acc_discrete"] == 0.25 and math.isnan(row["test_acc_discrete_weights_kept"]) and "0.250" in line
