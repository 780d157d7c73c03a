"""Cells drawn as DAGs (a genotype, a partial discretization state) and the figures of a search:
each carries the data it claims to show."""

import csv
import html
import io
import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter

import graphviz
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from sdas_lib.core.discretization import DiscretizationState, decide
from sdas_lib.core.genotype import DARTS_V2
from sdas_lib.core.history import load_history, random_walk_document, replay
from sdas_lib.core.opsets import op_set_info
from sdas_lib.core.schedule import schedule_curve
from sdas_lib.core.space import IMAGE_SPACE
from sdas_lib.errors import SdasError
from sdas_lib.viz import (
    genotype_dag, plot_accuracy_curves, plot_accuracy_vs_params, plot_alpha_heatmap, plot_counts,
    plot_relaxed_vs_discrete, plot_schedules, render_svg, state_dag, step_dag,
)

OPS = op_set_info("o2d").names
NEEDS_DOT = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing (apt-get install graphviz)")

# -- reading a DOT source back ------------------------------------------------------------------

_EDGE = re.compile(r'^\s*("[^"]*"|\S+) -> ("[^"]*"|\S+)\s*\[(.*)\]\s*$')
_NODE = re.compile(r'^\s*("[^"]*"|\w+) \[(.*)\]\s*$')
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _unquote(s: str) -> str:
    return s[1:-1] if s.startswith('"') else s


def dot_edges(source: str) -> list[tuple[str, str, dict]]:
    """(tail, head, attributes) of every edge line of a DOT source."""
    out = []
    for line in source.splitlines():
        m = _EDGE.match(line)
        if m:
            out.append((_unquote(m[1]), _unquote(m[2]), {k: _unquote(v) for k, v in _ATTR.findall(m[3])}))
    return out


def dot_nodes(source: str) -> dict[str, dict]:
    out = {}
    for line in source.splitlines():
        m = _NODE.match(line)
        if m and m[1] not in ("node", "edge", "graph") and "->" not in line:
            out[_unquote(m[1])] = {k: _unquote(v) for k, v in _ATTR.findall(m[2])}
    return out


def op_edges(source: str) -> list[tuple[str, str, dict]]:
    """Edges between cell nodes (not the concatenation into the output c_{k})."""
    return [e for e in dot_edges(source) if e[1] != "c_{k}"]


# -- genotype DAGs --------------------------------------------------------------------------------

# DARTS_V2 as docs/paper_notes.md lists it, in DARTS' node names (intermediate node n of the cell is drawn as n - 2).
V2_EDGES = {
    "normal": [
        ("c_{k-2}", "0", "sep_conv_3x3"), ("c_{k-1}", "0", "sep_conv_3x3"),
        ("c_{k-2}", "1", "sep_conv_3x3"), ("c_{k-1}", "1", "sep_conv_3x3"),
        ("c_{k-1}", "2", "sep_conv_3x3"), ("c_{k-2}", "2", "skip_connect"),
        ("c_{k-2}", "3", "skip_connect"), ("0", "3", "dil_conv_3x3"),
    ],
    "reduce": [
        ("c_{k-2}", "0", "max_pool_3x3"), ("c_{k-1}", "0", "max_pool_3x3"),
        ("0", "1", "skip_connect"), ("c_{k-1}", "1", "max_pool_3x3"),
        ("c_{k-2}", "2", "max_pool_3x3"), ("0", "2", "skip_connect"),
        ("0", "3", "skip_connect"), ("c_{k-1}", "3", "max_pool_3x3"),
    ],
}
COLOURS = {"c_{k-2}": "gray", "c_{k-1}": "gray", "0": "lightblue", "1": "lightblue", "2": "lightblue",
           "3": "lightblue", "c_{k}": "pink"}


@pytest.mark.parametrize("cell_type", ["normal", "reduce"])
def test_darts_v2_dag_has_exactly_its_eight_edges_and_the_paper_colours(cell_type):
    dot = genotype_dag(DARTS_V2, cell_type)
    assert isinstance(dot, graphviz.Digraph)
    edges = op_edges(dot.source)
    assert Counter((t, h, a["label"]) for t, h, a in edges) == Counter(V2_EDGES[cell_type])
    assert all(a["style"] == "solid" for _, _, a in edges)
    assert {n: a["fillcolor"] for n, a in dot_nodes(dot.source).items()} == COLOURS
    # The output concatenates the four intermediate nodes, with unlabelled edges.
    concat = [(t, a) for t, h, a in dot_edges(dot.source) if h == "c_{k}"]
    assert sorted(t for t, _ in concat) == ["0", "1", "2", "3"] and not any("label" in a for _, a in concat)
    assert re.search(r"^\s*rankdir=LR\s*$", dot.source, re.M)


# -- partial states -------------------------------------------------------------------------------


def one_hot_row(op: str, strength: float = 4.0) -> list[float]:
    return [strength if name == op else 0.0 for name in OPS]


def softmax_by_hand(row):
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


@pytest.fixture
def partial():
    """A state made by decide() on chosen α/β: normal node 2 and node 3 decided (node 3 drops 1->3),
    normal edge 0->5 decided, everything else undecided; normal edge 0->4 has known top-2 ops."""
    sp = IMAGE_SPACE
    alpha = {ct: [[0.0] * sp.n_ops for _ in sp.edges] for ct in sp.cell_type_names}
    beta = {ct: [0.0] * sp.n_edges for ct in sp.cell_type_names}
    chosen = {(0, 2): "sep_conv_3x3", (1, 2): "max_pool_3x3", (0, 3): "dil_conv_3x3", (1, 3): "avg_pool_3x3",
              (2, 3): "skip_connect", (0, 5): "sep_conv_5x5"}
    for edge, op in chosen.items():
        alpha["normal"][sp.edges.index(edge)] = one_hot_row(op)
    beta["normal"][sp.edges.index((0, 3))] = 2.0
    beta["normal"][sp.edges.index((2, 3))] = 1.0
    beta["normal"][sp.edges.index((1, 3))] = -2.0  # node 3 keeps 0 and 2
    beta["normal"][sp.edges.index((0, 5))] = 0.5
    alpha["normal"][sp.edges.index((0, 4))] = [0.0, 0.2, 0.0, 1.0, 0.9, 0.0, 0.0]  # a close call: stays undecided
    beta["normal"][sp.edges.index((0, 4))] = -0.3
    state = DiscretizationState(sp)
    made = decide(state, alpha, beta, 8, iteration=1)
    assert {(d.kind, d.edge or d.node, d.choice) for d in made} == (
        {("edge", e, op) for e, op in chosen.items()} | {("node", 2, (0, 1)), ("node", 3, (0, 2))}
    )
    return state, alpha, beta


def test_partial_state_dag_draws_decided_undecided_and_dropped_edges(partial):
    state, alpha, beta = partial
    src = state_dag(IMAGE_SPACE, state, alpha, beta, "normal").source
    edges = {(t, h): a for t, h, a in op_edges(src)}
    # Decided nodes: their kept edges are solid with exactly the op; 1->3 (c_{k-1} -> 1) is gone.
    assert edges[("c_{k-2}", "0")] == {"label": "sep_conv_3x3", "style": "solid", "penwidth": "2"}
    assert edges[("c_{k-1}", "0")]["label"] == "max_pool_3x3"
    assert edges[("c_{k-2}", "1")]["label"] == "dil_conv_3x3" and edges[("0", "1")]["label"] == "skip_connect"
    assert ("c_{k-1}", "1") not in edges
    # A decided edge into an undecided node: solid, its op first, then its sigmoid(β) (β still learns).
    e05 = edges[("c_{k-2}", "3")]
    assert e05["style"] == "solid" and e05["label"].split("\\n") == ["sep_conv_5x5", f"sigmoid(β) {1 / (1 + math.exp(-0.5)):.2f}"]
    # An undecided edge: dashed, its top-2 ops by softmax(α) and sigmoid(β).
    w = softmax_by_hand([0.0, 0.2, 0.0, 1.0, 0.9, 0.0, 0.0])
    e04 = edges[("c_{k-2}", "2")]
    assert e04["style"] == "dashed"
    assert e04["label"] == f"sep_conv_3x3 {w[3]:.2f} / sep_conv_5x5 {w[4]:.2f}\\nsigmoid(β) {1 / (1 + math.exp(0.3)):.2f}"
    # Everything else into nodes 4 and 5 is undecided: 4 + 5 - 1 dashed edges, 13 edges in all.
    assert sum(a["style"] == "dashed" for a in edges.values()) == 8 and len(edges) == 13
    # The reduce cell has nothing decided: 14 dashed edges, labelled by α = 0 (all ops 1/7, σ(0) = 0.5).
    red = op_edges(state_dag(IMAGE_SPACE, state, alpha, beta, "reduce", top=3).source)
    assert len(red) == 14 and all(a["style"] == "dashed" for _, _, a in red)
    assert red[0][2]["label"] == "skip_connect 0.14 / max_pool_3x3 0.14 / avg_pool_3x3 0.14\\nsigmoid(β) 0.50"


def test_state_dag_of_a_finished_state_is_its_genotype(partial):
    state, alpha, beta = partial
    decide(state, alpha, beta, 100, iteration=2)
    assert state.complete
    for ct in IMAGE_SPACE.cell_type_names:
        drawn = {(t, h, a["label"]) for t, h, a in op_edges(state_dag(IMAGE_SPACE, state, alpha, beta, ct).source)}
        assert drawn == {(t, h, a["label"]) for t, h, a in op_edges(genotype_dag(state.genotype(), ct).source)}


def test_an_unknown_cell_type_is_a_clear_error(partial):
    state, alpha, beta = partial
    with pytest.raises(SdasError, match="unknown cell type 'st_reduce'"):
        state_dag(IMAGE_SPACE, state, alpha, beta, "st_reduce")


# -- a history built by hand (the search loop's decide() at schedule A, without a network) ------


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    doc = random_walk_document(IMAGE_SPACE, 12, "A", seed=0)
    path = tmp_path_factory.mktemp("hand") / "decisions.json"
    path.write_text(json.dumps(doc))
    return load_history(path)


def test_step_dag_draws_the_replayed_state_with_that_steps_alpha(history):
    steps = list(replay(history))
    i = 10
    d = history.decisions[i]
    alpha, beta = history.arch_at(d.iteration)
    for ct in history.space.cell_type_names:
        expected = state_dag(history.space, steps[i].state, alpha, beta, ct).source
        assert step_dag(history, i, ct).source == step_dag(history, steps[i], ct).source == expected
    with pytest.raises(SdasError, match="outside 0..36"):
        step_dag(history, 37, "normal")


# -- SVG ------------------------------------------------------------------------------------------


@NEEDS_DOT
def test_svg_renders_with_the_op_names(partial):
    state, alpha, beta = partial
    svg = render_svg(state_dag(IMAGE_SPACE, state, alpha, beta, "normal"))
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    svg = html.unescape(svg)  # dot writes '-' as &#45;
    for text in ("sep_conv_3x3", "max_pool_3x3", "dil_conv_3x3", "sigmoid(β)", "c_{k-2}", "c_{k}"):
        assert text in svg
    assert "avg_pool_3x3" not in render_svg(genotype_dag(DARTS_V2, "normal"))


def test_a_missing_dot_binary_names_the_fix(monkeypatch):
    def no_dot(cmd, *args, **kwargs):
        raise graphviz.ExecutableNotFound(cmd)

    monkeypatch.setattr(graphviz.backend.execute, "run_check", no_dot)
    with pytest.raises(SdasError) as err:
        render_svg(genotype_dag(DARTS_V2, "normal"))
    msg = str(err.value)
    assert "apt-get install graphviz" in msg and "environment.yml" in msg and "brew install graphviz" in msg


def test_viz_and_widgets_load_without_torch():
    code = ("import sys, sdas_lib.viz, sdas_lib.viz.plots, sdas_lib.widgets; "
            "print(' '.join(sorted(n for n in sys.modules if n.split('.')[0] == 'torch' "
            "or n.split('.')[:2] in (['sdas_lib', 'ops'], ['sdas_lib', 'nets'], ['sdas_lib', 'run']))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


# -- figures --------------------------------------------------------------------------------------


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_schedule_plot_steps_through_schedule_curve(tmp_path):
    T, M = 50, 36
    fig = plot_schedules(T, M, path=tmp_path / "schedules.png")
    assert isinstance(fig, Figure) and (tmp_path / "schedules.png").stat().st_size > 0
    lines = lines_by_label(fig.axes[0])
    assert set(lines) == {"A", "B", "C"}
    for name, line in lines.items():
        assert list(line.get_ydata()) == schedule_curve(name, T, M)
        assert list(line.get_xdata()) == pytest.approx([t / T for t in range(T + 1)])
        assert line.get_drawstyle() == "steps-post"


def test_count_plot_shows_the_recorded_counts_on_a_log_axis(history):
    fig = plot_counts(history)
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    assert [int(v) for v in line.get_ydata()] == [d.valid_architectures for d in history.decisions]
    assert list(line.get_xdata()) == pytest.approx([d.iteration / 12 for d in history.decisions])
    assert line.get_ydata()[-1] == 1


def test_alpha_heatmap_shows_softmax_rows_and_sigmoid_beta(partial):
    _, alpha, beta = partial
    fig = plot_alpha_heatmap(alpha, beta, IMAGE_SPACE, "normal")
    ax = fig.axes[0]
    (image,) = ax.get_images()
    data = image.get_array()
    assert data.shape == (14, 8)
    for e in range(14):
        expected = softmax_by_hand(alpha["normal"][e]) + [1 / (1 + math.exp(-beta["normal"][e]))]
        assert list(data[e]) == pytest.approx(expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(OPS) + ["sigmoid(β)"]
    assert [t.get_text() for t in ax.get_yticklabels()][:3] == ["c_{k-2} → 0", "c_{k-1} → 0", "c_{k-2} → 1"]


def test_accuracy_curves_read_metrics_rows_as_csv_gives_them():
    text = "epoch,train_acc,test_acc_discrete\n1,0.5,\n2,0.75,0.6\n3,0.875,0.7\n"
    rows = list(csv.DictReader(io.StringIO(text)))
    fig = plot_accuracy_curves(rows, ["train_acc", "test_acc_discrete"])
    lines = lines_by_label(fig.axes[0])
    assert list(lines["train_acc"].get_xdata()) == [1, 2, 3] and list(lines["train_acc"].get_ydata()) == [0.5, 0.75, 0.875]
    # The epoch not evaluated (empty cell) is left out.
    assert list(lines["test_acc_discrete"].get_xdata()) == [2, 3] and list(lines["test_acc_discrete"].get_ydata()) == [0.6, 0.7]
    assert fig.axes[0].get_xlabel() == "epoch"
    assert set(lines_by_label(plot_accuracy_curves(rows).axes[0])) == {"train_acc", "test_acc_discrete"}


def test_relaxed_vs_discrete_bars_are_mean_and_std_per_schedule():
    rows = [
        {"schedule": "das", "seed": 0, "test_acc_relaxed": 0.98, "test_acc_discrete": 0.10, "test_acc_discrete_bn_reestimated": 0.2},
        {"schedule": "das", "seed": 1, "test_acc_relaxed": 0.96, "test_acc_discrete": 0.12, "test_acc_discrete_bn_reestimated": 0.3},
        {"schedule": "A", "seed": 0, "test_acc_relaxed": 0.90, "test_acc_discrete": 0.80, "test_acc_discrete_bn_reestimated": 0.9},
        {"schedule": "A", "seed": 1, "test_acc_relaxed": 0.86, "test_acc_discrete": 0.60, "test_acc_discrete_bn_reestimated": 0.9},
    ]
    fig = plot_relaxed_vs_discrete(rows)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == ["relaxed", "discrete (paper: same BN statistics)", "discrete, BN re-estimated"]
    relaxed, discrete, _ = bars
    assert [p.get_height() for p in relaxed] == pytest.approx([0.97, 0.88])
    assert [p.get_height() for p in discrete] == pytest.approx([0.11, 0.70])
    # Error bars span mean ± sample std: A's discrete is 0.70 ± 0.1414.
    segments = discrete.errorbar.lines[2][0].get_segments()
    assert [s[0][1] for s in segments] == pytest.approx([0.11 - 0.01414, 0.70 - 0.14142], abs=1e-4)
    assert [s[1][1] for s in segments] == pytest.approx([0.11 + 0.01414, 0.70 + 0.14142], abs=1e-4)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["DAS", "SDAS-A"]


def test_accuracy_vs_params_scatter_has_labelled_points():
    rows = [{"name": "DARTS_V2", "params": 3_349_342, "test_acc": 0.9724},
            {"name": "SDAS-A", "params": "2900000", "test_acc": "0.9711"}]
    fig = plot_accuracy_vs_params(rows)
    ax = fig.axes[0]
    (points,) = ax.collections
    assert [tuple(p) for p in points.get_offsets().tolist()] == [pytest.approx((3.349342, 0.9724)), pytest.approx((2.9, 0.9711))]
    assert [t.get_text() for t in ax.texts] == ["DARTS_V2", "SDAS-A"]
    assert ax.texts[0].xy == pytest.approx((3.349342, 0.9724))


# -- figures show in Jupyter, one colour per schedule -------------------------------------------------

def test_a_library_figure_is_a_png_for_ipython_without_pyplot():
    """IPython's PNG formatter knows nothing of Figure until pyplot's inline backend registers it; the
    library's figures carry their own PNG, so a notebook shows them either way."""
    code = (
        "import sys; from IPython.core.formatters import PNGFormatter\n"
        "from sdas_lib.viz import plot_schedules\n"
        "fig = plot_schedules(20, 36)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "png = PNGFormatter()(fig)\n"
        "assert png[:8] == b'\\x89PNG\\r\\n\\x1a\\n' and len(png) > 1000, png\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_every_schedule_has_one_colour_in_every_figure(history):
    from matplotlib.colors import to_hex

    from sdas_lib.viz.figure import SCHEDULE_COLOURS
    from sdas_lib.viz.plots import plot_cost_model

    assert len(set(SCHEDULE_COLOURS.values())) == len(SCHEDULE_COLOURS)
    fig4 = lines_by_label(plot_schedules(20, 36).axes[0])
    assert {s: to_hex(line.get_color()) for s, line in fig4.items()} == {s: SCHEDULE_COLOURS[s] for s in "ABC"}
    cost = plot_cost_model({"das": [1.0] * 4, "C": [1.0, 0.5, 0.25, 0.25]}, {"das": [(1, 1.0)], "C": [(1, 0.5)]})
    for ax in cost.axes:
        colours = {line.get_label().split(":")[0]: to_hex(line.get_color()) for line in ax.get_lines()}
        assert colours == {"DAS": SCHEDULE_COLOURS["das"], "SDAS-C": SCHEDULE_COLOURS["C"]}
    rows = [{"schedule": s, "seed": 0, "test_acc_relaxed": 0.5, "test_acc_discrete": 0.4, "test_acc_discrete_bn_reestimated": 0.45}
            for s in ("das", "B")]
    for bars in [c for c in plot_relaxed_vs_discrete(rows).axes[0].containers if isinstance(c, BarContainer)]:
        assert [to_hex(p.get_facecolor()[:3]) for p in bars] == [SCHEDULE_COLOURS["das"], SCHEDULE_COLOURS["B"]]
    line = plot_counts(history).axes[0].get_lines()[0]
    assert to_hex(line.get_color()) == SCHEDULE_COLOURS[history.meta["schedule"]]


def test_accuracy_vs_params_colours_by_schedule_and_skips_failed_runs():
    from matplotlib.colors import to_hex

    from sdas_lib.viz.figure import SCHEDULE_COLOURS

    rows = [{"name": "C-s0", "schedule": "C", "params": 70_000, "test_acc": 0.9},
            {"name": "C-s1", "schedule": "C", "params": None, "test_acc": None},  # a failed retraining
            {"name": "res50", "params": 1_500_000, "test_acc": 0.2}]
    ax = plot_accuracy_vs_params(rows).axes[0]
    (points,) = ax.collections
    assert len(points.get_offsets()) == 2 and [t.get_text() for t in ax.texts] == ["C-s0", "res50"]
    assert [to_hex(c) for c in points.get_facecolors()] == [SCHEDULE_COLOURS["C"], "#7f7f7f"]


def test_confusion_matrix_plot_writes_each_count_in_its_cell():
    from sdas_lib.viz.plots import plot_confusion_matrix

    ax = plot_confusion_matrix([[5, 0], [3, 2]], ["a", "b"]).axes[0]
    assert ax.get_images()[0].get_array().tolist() == [[5, 0], [3, 2]]
    assert sorted((t.get_position(), t.get_text()) for t in ax.texts) == [((0, 0), "5"), ((0, 1), "3"), ((1, 1), "2")]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"] and ax.get_xlabel() == "predicted"


def test_relaxed_vs_discrete_bars_show_the_kept_mixing_weights_where_measured():
    rows = [
        {"schedule": "das", "seed": 0, "test_acc_relaxed": 0.98, "test_acc_discrete_weights_kept": 0.50,
         "test_acc_discrete": 0.10, "test_acc_discrete_bn_reestimated": 0.2},
        {"schedule": "das", "seed": 1, "test_acc_relaxed": 0.96, "test_acc_discrete_weights_kept": 0.70,
         "test_acc_discrete": 0.12, "test_acc_discrete_bn_reestimated": 0.3},
        {"schedule": "A", "seed": 0, "test_acc_relaxed": 0.90, "test_acc_discrete_weights_kept": "",
         "test_acc_discrete": 0.80, "test_acc_discrete_bn_reestimated": 0.9},  # an older run folder's row
    ]
    bars = [c for c in plot_relaxed_vs_discrete(rows).axes[0].containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == [
        "relaxed", "discrete, mixing weights kept", "discrete (paper: same BN statistics)", "discrete, BN re-estimated"]
    assert [p.get_height() for p in bars[1]][0] == pytest.approx(0.60)  # DAS: the mean of its two seeds
    assert [p.get_height() for p in bars[2]] == pytest.approx([0.11, 0.80])


def test_random_cells_have_their_own_colour_and_name_in_the_plots():
    from matplotlib.colors import to_hex

    from sdas_lib.viz.figure import SCHEDULE_COLOURS
    from sdas_lib.viz.plots import schedule_label

    rows = [{"name": "random-s0", "schedule": "random", "params": 60_000, "test_acc": 0.5},
            {"name": "C-s0", "schedule": "C", "params": 70_000, "test_acc": 0.9}]
    (points,) = plot_accuracy_vs_params(rows).axes[0].collections
    assert [to_hex(c) for c in points.get_facecolors()] == [SCHEDULE_COLOURS["random"], SCHEDULE_COLOURS["C"]]
    assert [schedule_label(s) for s in ("random", "das", "B")] == ["Random", "DAS", "SDAS-B"]


def test_alpha_change_is_drawn_signed_and_symmetric_around_zero():
    from sdas_lib.viz import plot_alpha_change

    change = [[0.0] * 7 for _ in range(14)]
    change[3][0], change[3][6] = 0.004, -0.001
    fig = plot_alpha_change(change, IMAGE_SPACE, "normal")
    (image,) = fig.axes[0].get_images()
    assert image.get_array()[3][0] == pytest.approx(0.004) and image.get_clim() == pytest.approx((-0.004, 0.004))
    assert "+0.004" in [t.get_text() for t in fig.axes[0].texts]
    with pytest.raises(SdasError, match=r"\(14, 7\)"):
        plot_alpha_change(change[:5], IMAGE_SPACE, "normal")


def test_accuracy_vs_params_joins_a_curve_through_its_mean_at_each_size():
    """Fig. 11: one baseline at several widths is a line through its mean accuracy per size, named once."""
    rows = [{"name": "C-s0", "schedule": "C", "params": 80_000, "test_acc": 0.5},
            {"name": "res50-3d", "curve": "res50-3d", "params": 1_700_000, "test_acc": 0.2},
            {"name": "res50-3d", "curve": "res50-3d", "params": 1_700_000, "test_acc": 0.4},
            {"name": "res50-3d", "curve": "res50-3d", "params": 110_000, "test_acc": 0.1}]
    ax = plot_accuracy_vs_params(rows, chance=0.1).axes[0]
    curve, chance = ax.get_lines()
    assert list(curve.get_xdata()) == pytest.approx([0.11, 1.7]) and list(curve.get_ydata()) == pytest.approx([0.1, 0.3])
    assert list(chance.get_ydata()) == [0.1, 0.1]
    assert [t.get_text() for t in ax.texts] == ["C-s0"]  # the curve is named in the legend, not per point
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["res50-3d", "chance (0.1)"]
    assert ax.get_xscale() == "log"  # sizes 20x apart


def test_decision_curve_epoch_ticks_sit_on_the_scheduled_axis_after_a_warm_up():
    from sdas_lib.viz.curves import decision_curve_svg

    curve = [("C", [(0, 0), (5, 20), (20, 36)])]
    plain = decision_curve_svg(curve, 30, 36, 10, epochs=3)  # 10 iterations an epoch: ticks at t = 10, 20
    assert plain.count('stroke="#eee"') == 2
    warm = decision_curve_svg(curve, 20, 36, 10, epochs=3, warmup=10)  # epoch 1 is the warm-up: one tick, at t = 10
    assert warm.count('stroke="#eee"') == 1 and 'data-t="10"' in warm
