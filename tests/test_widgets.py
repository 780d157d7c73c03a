"""The discretization stepper over a saved history: moving the slider shows exactly what the history
says at that step (DAGs, count, queue, epoch, the M_t curve's cursor, per-cell counts, the decision
just made and the edges it dropped, the queue's bars), and the Play button drives the slider. Two
histories side by side step together on one iteration axis."""

import html
import json
import re
import shutil

import ipywidgets as widgets
import pytest

import math

from sdas_lib.core.counting import count_cell_architectures
from sdas_lib.core.discretization import DiscretizationState, sigmoid, softmax
from sdas_lib.core.history import History, load_history, random_walk_document
from sdas_lib.core.space import IMAGE_SPACE
from sdas_lib.widgets import CompareStepper, Stepper, show_compare, show_stepper

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing (apt-get install graphviz)")

ONE_CELL = 1_037_664_180  # Table 1
T = 12
EPOCHS = 4  # 3 iterations per epoch
_EDGE = re.compile(r'^\s*("[^"]*"|\S+) -> ("[^"]*"|\S+)\s*\[(.*)\]\s*$')
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _unquote(s):
    return s[1:-1] if s.startswith('"') else s


def dot_edges(source):
    """{(tail, head): attributes} of the op edges of a DOT source (the concatenation into c_{k} left out)."""
    out = {}
    for line in source.splitlines():
        m = _EDGE.match(line)
        if m and _unquote(m[2]) != "c_{k}":
            out[(_unquote(m[1]), _unquote(m[2]))] = {k: _unquote(v) for k, v in _ATTR.findall(m[3])}
    return out


def name(node):
    return {0: "c_{k-2}", 1: "c_{k-1}"}.get(node, str(node - 2))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder whose decisions.json is made as the search loop makes it (decide() at schedule A after
    each α/β step, a snapshot before each iteration's decisions), with random-walk α/β instead of a network."""
    out = tmp_path_factory.mktemp("stepper") / "run"
    out.mkdir()
    doc = random_walk_document(IMAGE_SPACE, T, "A", seed=1, epochs=EPOCHS)
    (out / "decisions.json").write_text(json.dumps(doc))
    return out


@pytest.fixture(scope="module")
def history(run_dir):
    return load_history(run_dir)


@pytest.fixture(scope="module")
def stepper(run_dir):
    return Stepper(run_dir)  # from the run folder, as a notebook would


def expected_edges(history, i, cell_type):
    """{(tail, head): (style, op or None)} worked out from the first i decisions alone."""
    done = history.decisions[:i]
    ops = {d.edge: d.choice for d in done if d.kind == "edge" and d.cell_type == cell_type}
    kept = {d.node: d.choice for d in done if d.kind == "node" and d.cell_type == cell_type}
    last = done[-1] if done else None
    out = {}
    for j, n in history.space.edges:
        if n in kept and j not in kept[n]:
            if last is not None and last.kind == "node" and last.cell_type == cell_type and last.node == n:
                out[(name(j), name(n))] = ("dotted", None)  # dropped just now: kept in view, faded
            continue  # dropped by an earlier node decision: gone
        out[(name(j), name(n))] = ("solid", ops[(j, n)]) if (j, n) in ops else ("dashed", None)
    return out


def test_slider_shows_the_history_at_every_visited_step(stepper, history):
    M = len(history.decisions)
    assert M == 36
    sources = {}
    for i in [0, 1, 2, 5, 17, 35, 36, 3]:
        stepper.slider.value = i
        # The count: the full space at step 0, then the one recorded with decision i - 1.
        count = ONE_CELL**2 if i == 0 else history.decisions[i - 1].valid_architectures
        assert stepper.count_text.startswith(f"{count:,} (") and f"{float(count):.4e}" in stepper.count_text
        # The queue: its first line is decision i, about to be made.
        if i < M:
            d = history.decisions[i]
            first = stepper.queue_lines[0]
            if d.kind == "edge":
                assert first.startswith(f"{d.cell_type} edge {d.edge[0]}->{d.edge[1]}: {d.choice} ("), (i, first)
            else:
                assert first.startswith(f"{d.cell_type} node {d.node} ("), (i, first)
            assert 1 <= len(stepper.queue_lines) <= 5
        else:
            assert stepper.queue_lines == []
        # The DAGs: decided edges solid with their op, undecided dashed, dropped ones absent.
        assert set(stepper.dot_sources) == {"normal", "reduce"}
        for ct, src in stepper.dot_sources.items():
            drawn = dot_edges(src)
            want = expected_edges(history, i, ct)
            assert set(drawn) == set(want), (i, ct)
            for key, (style, op) in want.items():
                assert drawn[key]["style"] == style, (i, ct, key)
                if op is not None:
                    assert drawn[key]["label"].split("\\n")[0] == op, (i, ct, key)
        # The page shows all of it: two inline SVGs, the count, the queue, t/T.
        page = html.unescape(stepper.view.value)
        assert page.count("<svg") == 3 and stepper.count_text in page  # two cells and the M_t curve
        assert all(line in page for line in stepper.queue_lines)
        if i < M:
            t = history.decisions[i].iteration
            assert f"iteration {t} of T = {T} (t/T = {t / T:.3f})" in page
        sources[i] = dict(stepper.dot_sources)
    # The decision made between steps i and i + 1 changes its own cell type's DAG there.
    d = history.decisions[1]
    assert sources[2][d.cell_type] != sources[1][d.cell_type]
    assert sources[36] != sources[0]


def test_the_decision_just_made_appears_solid_in_its_cell(stepper, history):
    for i, d in enumerate(history.decisions[:8], start=1):
        stepper.slider.value = i
        if d.kind == "edge":
            drawn = dot_edges(stepper.dot_sources[d.cell_type])[(name(d.edge[0]), name(d.edge[1]))]
            assert drawn["style"] == "solid" and drawn["label"].split("\\n")[0] == d.choice


def test_steps_are_rendered_once_and_then_come_from_the_cache(stepper, monkeypatch):
    stepper.slider.value = 4
    page4, src4 = stepper.view.value, stepper.dot_sources
    stepper.slider.value = 5

    def no_rendering(step):
        raise AssertionError(f"step {step.step} rendered again")

    monkeypatch.setattr(stepper, "_render", no_rendering)
    stepper.slider.value = 4
    assert stepper.view.value == page4 and stepper.dot_sources == src4


def test_play_runs_over_all_steps_and_is_linked_to_the_slider(stepper, history):
    M = len(history.decisions)
    assert (stepper.play.min, stepper.play.max) == (stepper.slider.min, stepper.slider.max) == (0, M)
    link = stepper.link
    # A jslink (a LinkModel in the browser): the browser moves the slider as Play ticks.
    assert isinstance(link, widgets.widget_link.Link) and link._model_name == "LinkModel"
    assert link.source == (stepper.play, "value") and link.target == (stepper.slider, "value")


def test_show_stepper_gives_one_box_with_the_controls_and_the_view(history):
    box = show_stepper(history)
    assert isinstance(box, widgets.VBox)
    controls, view = box.children
    play, slider = controls.children
    assert isinstance(play, widgets.Play) and isinstance(slider, widgets.IntSlider) and isinstance(view, widgets.HTML)
    assert slider.max == 36 and "<svg" in view.value


def test_the_stepper_marks_each_decision_against_a_planted_cell(run_dir, history):
    """A planted cell built from the history's own final choices: every judged decision is right; planting
    another op kind on one decided edge makes exactly that decision wrong."""
    from sdas_lib.core.genotype import Genotype
    from sdas_lib.core.recovery import decision_correct

    ops = {(d.cell_type, d.edge): d.choice for d in history.decisions if d.kind == "edge"}
    kept = {(d.cell_type, d.node): d.choice for d in history.decisions if d.kind == "node"}
    cells = {ct: [[(ops[(ct, (j, i))], j) for j in kept[(ct, i)]] for i in IMAGE_SPACE.node_ids]
             for ct in IMAGE_SPACE.cell_type_names}
    planted = Genotype.from_cells("o2d", cells)
    s = Stepper(run_dir, planted=planted)
    s.slider.value = len(history.decisions)
    assert len(s.marks) == len(history.decisions) and False not in [m for _, m in s.marks]
    assert sum(m is True for _, m in s.marks) >= 2 * 4 * 2  # every node and every kept edge
    assert "against the planted cell" in s.view.value and "wrong" in s.view.value
    # another kind on the first kept normal edge
    first = cells["normal"][0][0]
    other = "max_pool_3x3" if first[0].startswith(("sep", "dil")) else "sep_conv_3x3"  # another kind
    cells["normal"][0][0] = (other, first[1])
    s2 = Stepper(run_dir, planted=Genotype.from_cells("o2d", cells))
    s2.slider.value = len(history.decisions)
    wrong = [text for text, m in s2.marks if m is False]
    assert len(wrong) == 1 and f"edge {first[1]}->2" in wrong[0]
    assert Stepper(run_dir).marks == [] and "planted" not in Stepper(run_dir).view.value


# -- the parts closer to Fig. 7 -----------------------------------------------------------------


def first_node_decision_with_drops(history):
    """(step after it, decision): the first node decision that drops edges (a node with > k predecessors)."""
    for i, d in enumerate(history.decisions, start=1):
        if d.kind == "node" and len(history.space.incoming(d.node)) > history.space.k:
            return i, d
    raise AssertionError("the history has no node decision that drops an edge")


def test_each_step_shows_its_epoch_and_the_m_t_cursor_at_its_iteration(stepper, history):
    assert history.epochs == EPOCHS
    for i in [0, 1, 7, 20, 36]:
        stepper.slider.value = i
        t = stepper.steps[i].iteration
        assert t == (history.decisions[i].iteration if i < 36 else history.decisions[-1].iteration)
        epoch = math.ceil(t / (T // EPOCHS))
        assert stepper.epoch_text == f"epoch {epoch} of {EPOCHS}" and stepper.epoch_text in html.unescape(stepper.view.value)
        assert stepper.cursor_t == t and f'data-t="{t}"' in stepper.curve_svg
        m_t = sum(d.iteration <= t for d in history.decisions)  # M_t, read from the decisions themselves
        assert f'data-m="{m_t}"' in stepper.curve_svg and stepper.curve_svg in stepper.view.value


def test_a_history_without_epochs_loads_and_says_its_epoch_is_unknown(run_dir):
    doc = json.loads((run_dir / "decisions.json").read_text())
    del doc["epochs"]  # as decisions.json files written before epochs were recorded
    s = Stepper(History.from_dict(doc))
    s.slider.value = 3
    assert "unknown" in s.epoch_text and s.epoch_text in html.unescape(s.view.value)
    assert "data-t=" in s.curve_svg  # the curve needs no epochs


def test_per_cell_counts_multiply_to_the_total(stepper, history):
    for i in [0, 1, 9, 18, 36]:
        stepper.slider.value = i
        state = DiscretizationState.from_history(history.space, history.decisions[:i])
        want = {ct: count_cell_architectures(state, ct) for ct in ("normal", "reduce")}
        assert stepper.cell_counts == want
        assert math.prod(want.values()) == stepper.steps[i].valid_architectures
        page = html.unescape(stepper.view.value)
        assert f"normal cell {want['normal']:,}" in page and f"reduce cell {want['reduce']:,}" in page
    stepper.slider.value = 0
    assert stepper.cell_counts == {"normal": ONE_CELL, "reduce": ONE_CELL}


def test_the_highlighted_item_is_the_decision_just_made(stepper, history):
    stepper.slider.value = 0
    assert stepper.highlighted is None and "=red" not in "".join(stepper.dot_sources.values())
    for i in [1, 2, 5, 19, 36]:
        stepper.slider.value = i
        d = history.decisions[i - 1]
        assert stepper.highlighted == d
        assert d.describe() in html.unescape(stepper.view.value)
        src = stepper.dot_sources[d.cell_type]
        if d.kind == "edge":
            drawn = dot_edges(src)[(name(d.edge[0]), name(d.edge[1]))]
            assert drawn["color"] == "red" and drawn["label"].split("\\n")[0] == d.choice
            assert sum(a.get("color") == "red" for a in dot_edges(src).values()) == 1
        else:
            assert re.search(rf'^\s*"?{re.escape(name(d.node))}"? \[color=red', src, re.M)
        other = "reduce" if d.cell_type == "normal" else "normal"
        assert "=red" not in stepper.dot_sources[other]


def test_edges_a_node_decision_drops_are_faded_at_its_step_and_gone_after(stepper, history):
    i, d = first_node_decision_with_drops(history)
    dropped = [(j, d.node) for j, n in history.space.edges if n == d.node and j not in d.choice]
    assert dropped
    stepper.slider.value = i
    assert stepper.faded_edges[d.cell_type] == dropped
    drawn = dot_edges(stepper.dot_sources[d.cell_type])
    for j, n in dropped:
        a = drawn[(name(j), name(n))]
        assert a["style"] == "dotted" and a["label"].startswith("dropped") and a["color"] == "gray70"
    stepper.slider.value = i + 1
    if history.decisions[i].kind != "node" or history.decisions[i].cell_type != d.cell_type:
        assert stepper.faded_edges[d.cell_type] == []
    drawn = dot_edges(stepper.dot_sources[d.cell_type])
    assert not any((name(j), name(n)) in drawn for j, n in dropped)
    stepper.slider.value = i - 1  # before the decision they are alive: dashed or solid, not faded
    assert all(dot_edges(stepper.dot_sources[d.cell_type])[(name(j), name(n))]["style"] != "dotted" for j, n in dropped)


def test_queue_bars_are_the_values_whose_gap_is_the_priority(stepper, history):
    for i in [0, 3, 17, 30]:
        stepper.slider.value = i
        step = stepper.steps[i]
        alpha, beta = history.arch_at(step.iteration)
        assert len(stepper.queue_bars) == len(stepper.queue_lines)
        for c, bars in zip(step.queue, stepper.queue_bars):
            values = [v for _, v in bars]
            assert values == sorted(values, reverse=True)
            if c.kind == "edge":
                assert values == sorted(softmax(alpha[c.cell_type][c.index]), reverse=True)[:3]
                gap = values[0] - values[1]
            else:
                want = sigmoid([beta[c.cell_type][e] for e in history.space.incoming(c.index)])
                assert values == sorted(want, reverse=True)
                k = history.space.k
                gap = values[k - 1] - values[k] if len(values) > k else math.inf
            assert gap == pytest.approx(c.priority) or (gap == math.inf and c.priority == math.inf)
        assert html.unescape(stepper.view.value).count("class='sdas-bar'") == sum(map(len, stepper.queue_bars))


@pytest.fixture(scope="module")
def das_and_c():
    return tuple(History.from_dict(random_walk_document(IMAGE_SPACE, T, s, seed=3, epochs=EPOCHS)) for s in ("das", "C"))


def test_compare_shows_each_side_at_the_decisions_made_by_t(das_and_c):
    das, c = das_and_c
    cmp = CompareStepper(das, c)
    assert (cmp.slider.min, cmp.slider.max) == (0, T) and cmp.link.source == (cmp.play, "value")
    for t in [0, 1, 2, 5, 11, 12, 4]:
        cmp.slider.value = t
        want = tuple(sum(d.iteration <= t for d in h.decisions) for h in (das, c))
        assert cmp.t == t and cmp.shown_steps == want
        for s, i in zip(cmp.steppers, want):
            assert s.current is s._cache[i] and s.view.value == s._cache[i].page
            assert f"step {i} of 36" in s.view.value
        assert f'data-t="{t}"' in cmp.curve_view.value
        assert all(f'data-m="{m}"' in cmp.curve_view.value for m in want)
    cmp.slider.value = 6
    assert cmp.shown_steps[0] == 0 and cmp.shown_steps[1] > 0  # C decides early, DAS only at T
    cmp.slider.value = T
    assert cmp.shown_steps == (36, 36)


def test_show_compare_gives_one_box_with_the_slider_the_curves_and_two_sides(das_and_c):
    box = show_compare(*das_and_c)
    controls, curves, sides = box.children
    assert isinstance(controls.children[1], widgets.IntSlider) and "<svg" in curves.value
    titles = [side.children[0].value for side in sides.children]
    assert "DAS seed 3" in titles[0] and "SDAS-C seed 3" in titles[1]
