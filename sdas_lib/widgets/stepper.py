"""The discretization stepper: walk a saved search's decisions one at a time, no training needed.

A ``Play`` button and an ``IntSlider`` (0..M, linked in the browser with ``jslink``) pick step i:
i decisions made, decision i next. An ``HTML`` area shows, for that step (from
:func:`sdas_lib.core.history.replay`), the way the paper's Fig. 7 reads a search:
- the iteration of the next decision, t/T and its epoch (unknown for a history written before
  decisions.json recorded epochs);
- the M_t curve of the history (decisions made by iteration t) with a cursor at that iteration
  (:func:`sdas_lib.viz.curves.decision_curve_svg`), so that C's early decisions and B's late ones show;
- the valid architectures left, exact and in scientific notation, and each cell type's count beside
  it (Fig. 7's captions count the normal cell alone; the total is their product);
- the decision just made (decision i - 1), highlighted in red in its cell's DAG; a node decision's
  dropped edges stay in view, faded and dotted, at that step only;
- every cell type's DAG (:func:`sdas_lib.viz.dags.state_dag` with that step's α/β, inline SVG);
- the first entries of the priority queue, each with bars of its softmax(α) (an edge: its top ops)
  or sigmoid(β) (a node: its incoming edges, ranked), so that a priority reads as the gap between
  two bars; the first entry is the decision about to be made;
- with ``planted`` (a planted-cell search, :mod:`sdas_lib.core.recovery`): every decision made so far,
  marked right or wrong against the planted cell (edges the planted cell does not keep are not judged).

Each step's page is rendered once and cached, so moving back and forth is instant.

:class:`CompareStepper` puts two histories (e.g. DAS and SDAS-C of one seed) side by side on a shared
iteration axis: its slider picks iteration t, and each side shows the step with the decisions made by t.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

import ipywidgets as widgets

from ..core.counting import count_cell_architectures
from ..core.discretization import Candidate, Decision, ranked, sigmoid, softmax
from ..core.genotype import Genotype
from ..core.history import History, ReplayStep, describe_candidate, load_history, replay
from ..core.opsets import op_set_info
from ..core.recovery import decision_correct
from ..viz.curves import decision_curve_svg
from ..viz.dags import HIGHLIGHT_COLOR, dropped_edges, render_svg, state_dag, step_arch

QUEUE_SHOWN = 5
BAR_PX = 160  # a bar's width at weight 1
BAR_COLOR = "#1f77b4"


def count_text(n: int) -> str:
    """A count exact with thousands separators and in scientific notation: '1,076,...,600 (1.0767e+18)'."""
    return f"{n:,} ({n:.4e})"


def epoch_text(history: History, iteration: int) -> str:
    """'epoch 3 of 10' for iteration t, or a sentence saying the history does not record epochs."""
    e = history.epoch_of(iteration)
    if e is None:
        return "epoch unknown (this decisions.json does not record the search's epochs)"
    return f"epoch {e} of {history.epochs}"


def history_label(history: History) -> str:
    """'SDAS-C seed 0' or 'DAS seed 0': a history's schedule and seed, for titles and legends."""
    s = history.meta.get("schedule")
    name = "DAS" if s == "das" else f"SDAS-{s}" if s else "search"
    seed = history.meta.get("seed")
    return name + (f" seed {seed}" if seed is not None else "")


def candidate_bars(c: Candidate, history: History, alpha, beta, top: int = 3) -> list[tuple[str, float]]:
    """The values a queue entry's priority is a gap of, as (label, value), largest first.

    An edge: softmax(α) of its ``top`` ops (priority: first minus second). A node: sigmoid(β) of
    every incoming edge (priority: rank k minus rank k + 1)."""
    space = history.space
    if c.kind == "edge":
        names = op_set_info(space.op_set).names
        w = softmax(alpha[c.cell_type][c.index])
        return [(names[o], w[o]) for o in ranked(w)[:top]]
    edges = space.incoming(c.index)
    s = sigmoid([beta[c.cell_type][e] for e in edges])
    return [(f"from {space.edges[edges[r]][0]}", s[r]) for r in ranked(s)]


def bars_html(bars: list[tuple[str, float]], k: int | None = None) -> str:
    """Horizontal bars in HTML, one per (label, value in 0..1); a rule after the k-th for a node."""
    rows = []
    for n, (label, v) in enumerate(bars):
        rule = "border-bottom:1px dashed #999;" if k is not None and n == k - 1 and len(bars) > k else ""
        rows.append(
            f"<div class='sdas-bar' style='display:flex;align-items:center;gap:6px;font-size:smaller;{rule}'>"
            f"<span style='width:9em;text-align:right'>{html.escape(label)}</span>"
            f"<span style='display:inline-block;height:8px;width:{max(v, 0.0) * BAR_PX:.1f}px;background:{BAR_COLOR}'></span>"
            f"<span>{v:.3f}</span></div>"
        )
    return "".join(rows)


@dataclass
class StepPage:
    """What the stepper shows at one step (cached once rendered)."""

    page: str
    dot_sources: dict[str, str]
    count_text: str
    queue_lines: list[str]
    epoch_text: str
    cell_counts: dict[str, int]
    highlighted: Decision | None
    faded_edges: dict[str, list[tuple[int, int]]]
    cursor_t: int
    curve_svg: str
    queue_bars: list[list[tuple[str, float]]] = field(default_factory=list)


class Stepper:
    """Widgets that replay a decision history step by step.

    Attributes (for notebooks and tests):
        history: the loaded history. steps: its M + 1 replay steps.
        play, slider: the ``Play`` and ``IntSlider`` widgets (0..M), jslinked as ``link``.
        view: the ``HTML`` widget. widget: the whole box (what a notebook cell shows).
        Of the current step:
        dot_sources: ``{cell_type: DOT source}``. count_text: its count as text.
        cell_counts: ``{cell_type: count}`` (their product is the count).
        epoch_text: the epoch of its iteration ('epoch 3 of 10', or says it is unknown).
        highlighted: the decision just made (decision i - 1), or None at step 0.
        faded_edges: ``{cell_type: [(j, i), ...]}``: edges the decision just made dropped, drawn faded.
        cursor_t: the iteration the M_t curve's cursor marks. curve_svg: that curve ('' without one).
        queue_lines: the first entries of its priority queue, best first; queue_bars: each entry's
            bars as (label, value): softmax(α) for an edge, sigmoid(β) for a node.
        marks: with ``planted``, the decisions made so far as ``(text, True | False | None)``: right, wrong,
            not judged (an edge the planted cell does not keep).
    """

    def __init__(
        self, history_or_path: History | str | os.PathLike, *, queue_shown: int = QUEUE_SHOWN, interval_ms: int = 700,
        curve: bool = True, planted: Genotype | None = None,
    ):
        self.history = history_or_path if isinstance(history_or_path, History) else load_history(history_or_path)
        self.planted = planted
        self.marks: list[tuple[str, bool | None]] = []
        self.steps: list[ReplayStep] = list(replay(self.history))
        self.queue_shown = queue_shown
        self.curve = curve
        M = len(self.steps) - 1
        self.play = widgets.Play(value=0, min=0, max=M, step=1, interval=interval_ms, description="play")
        self.slider = widgets.IntSlider(value=0, min=0, max=M, step=1, description="step", continuous_update=True)
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.view = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.play, self.slider]), self.view])
        self._cache: dict[int, StepPage] = {}
        self.current: StepPage | None = None
        self.slider.observe(self._on_value, names="value")
        self.show(0)

    # -- the current step's parts, as attributes -----------------------------------------------------
    dot_sources = property(lambda self: self.current.dot_sources)
    count_text = property(lambda self: self.current.count_text)
    queue_lines = property(lambda self: self.current.queue_lines)
    queue_bars = property(lambda self: self.current.queue_bars)
    epoch_text = property(lambda self: self.current.epoch_text)
    cell_counts = property(lambda self: self.current.cell_counts)
    highlighted = property(lambda self: self.current.highlighted)
    faded_edges = property(lambda self: self.current.faded_edges)
    cursor_t = property(lambda self: self.current.cursor_t)
    curve_svg = property(lambda self: self.current.curve_svg)

    # -- stepping --------------------------------------------------------------------------------
    def _on_value(self, change) -> None:
        self.show(change["new"])

    def show(self, i: int) -> None:
        """Show step ``i`` (the slider calls this; it does not move the slider)."""
        if i not in self._cache:
            self._cache[i] = self._render(self.steps[i])
        self.current = self._cache[i]
        self.marks = self._marks(i)
        self.view.value = self.current.page

    def _marks(self, i: int) -> list[tuple[str, bool | None]]:
        """The first ``i`` decisions, each with whether it agrees with the planted cell."""
        if self.planted is None:
            return []
        out = []
        for d in self.history.decisions[:i]:
            what = (f"{d.cell_type} edge {d.edge[0]}->{d.edge[1]}: {d.choice}" if d.kind == "edge"
                    else f"{d.cell_type} node {d.node} keeps {', '.join(map(str, d.choice))}")
            out.append((f"iteration {d.iteration}, {what}", decision_correct(d.to_dict(), self.planted)))
        return out

    def _marks_html(self, i: int) -> str:
        if self.planted is None:
            return ""
        marks = self._marks(i)
        right, wrong = sum(m is True for _, m in marks), sum(m is False for _, m in marks)
        sign = {True: "&#10003; right", False: "&#10007; wrong", None: "not judged (edge not planted)"}
        items = "".join(f"<li>{html.escape(text)}: {sign[m]}</li>" for text, m in reversed(marks[-8:]))
        return (f"<div class='sdas-planted'><b>against the planted cell</b>: {right} right, {wrong} wrong, "
                f"{len(marks) - right - wrong} not judged (latest first)<ul style='margin:2px'>{items}</ul></div>")

    @property
    def T(self) -> int:
        """The iteration axis: T as recorded, else the last decision's iteration."""
        h = self.history
        return h.T or (h.decisions[-1].iteration if h.decisions else 1)

    def _render(self, step: ReplayStep) -> StepPage:
        h = self.history
        space = h.space
        alpha, beta = step_arch(h, step)
        just_made = h.decisions[step.step - 1] if step.step > 0 else None
        dots = {ct: state_dag(space, step.state, alpha, beta, ct, highlight=just_made) for ct in space.cell_type_names}
        faded = {ct: [space.edges[e] for e in dropped_edges(space, just_made, ct)] for ct in space.cell_type_names}
        count = count_text(step.valid_architectures)
        cell_counts = {ct: count_cell_architectures(step.state, ct) for ct in space.cell_type_names}
        shown = step.queue[: self.queue_shown]
        queue = [describe_candidate(c, space, alpha) for c in shown]
        bars = [candidate_bars(c, h, alpha, beta) for c in shown]
        epoch = epoch_text(h, step.iteration)
        curve = decision_curve_svg([(history_label(h), h.decision_curve())], self.T, space.total_decisions,
                                   step.iteration, epochs=h.epochs, warmup=h.warmup_iterations) if self.curve else ""

        M, T = len(self.steps) - 1, h.T
        when = f"iteration {step.iteration}" + (f" of T = {T} (t/T = {step.iteration / T:.3f})" if T else "")
        done = f"step {step.step} of {M}: {step.step} decisions made"
        done += f"; the next is made at {when}" if step.next_decision is not None else f", the last at {when}"
        made = (
            f"<div class='sdas-just-made' style='color:{HIGHLIGHT_COLOR}'><b>just made</b> (red in its cell): "
            f"{html.escape(just_made.describe())}"
            + (f"; its dropped edges are dotted: {html.escape(_edges_text(faded[just_made.cell_type]))}"
               if faded[just_made.cell_type] else "")
            + "</div>"
            if just_made is not None else "<div class='sdas-just-made'>nothing decided yet</div>"
        )
        per_cell = " × ".join(f"{html.escape(ct)} cell {n:,} ({n:.4e})" for ct, n in cell_counts.items())
        cells = "".join(
            f"<div class='sdas-cell' data-cell-type='{html.escape(ct)}' style='margin:4px 0'>"
            f"<b>{html.escape(ct)} cell</b><br>{render_svg(d)}</div>"
            for ct, d in dots.items()
        )
        if queue:
            k = space.k
            items = "".join(
                f"<li><span class='sdas-queue-line'>{'<b>next: </b>' if n == 0 else ''}{html.escape(line)}</span>"
                f"{bars_html(b, k if c.kind == 'node' else None)}</li>"
                for n, (c, line, b) in enumerate(zip(shown, queue, bars))
            )
            queue_html = (
                f"<div class='sdas-queue'><b>priority queue</b> (first {len(queue)} of {len(step.queue)}; bars: "
                f"softmax(α) of an edge's top ops, sigmoid(β) of a node's incoming edges; the priority is the gap "
                f"between the first two bars, or across a node's dashed rule)<ol style='margin:2px'>{items}</ol></div>"
            )
        else:
            queue_html = "<div class='sdas-queue'><b>priority queue</b>: empty, every edge and node is decided</div>"
        page = (
            f"<div style='font-family:sans-serif'>"
            f"<div class='sdas-step'>{html.escape(done)}</div>"
            f"<div class='sdas-epoch'>{html.escape(epoch)}</div>"
            f"<div><b>valid architectures left</b>: {html.escape(count)}</div>"
            f"<div class='sdas-counts' style='font-size:smaller'>per cell type: {per_cell} "
            f"(Fig. 7 counts the normal cell alone)</div>"
            f"{made}"
            + (f"<div class='sdas-curve'>{curve}</div>" if curve else "")
            + f"{queue_html}"
            f"{self._marks_html(step.step)}"
            f"<div style='max-width:100%;overflow-x:auto'>{cells}</div>"
            f"<div style='font-size:smaller;color:#555'>solid: decided edge (its op); dashed: undecided, "
            f"top ops by softmax(α) and sigmoid(β); red: the decision just made; dotted gray: edges its node "
            f"decision just dropped (gone at later steps)</div>"
            f"</div>"
        )
        return StepPage(page, {ct: d.source for ct, d in dots.items()}, count, queue, epoch, cell_counts, just_made,
                        faded, step.iteration, curve, bars)

    def _ipython_display_(self):  # a Stepper as a cell's last value shows its widgets
        from IPython.display import display

        display(self.widget)


def _edges_text(edges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{j}->{i}" for j, i in edges)


class CompareStepper:
    """Two histories side by side on one iteration axis: a slider over t = 0..T, and each side showing
    its step with the decisions made by t (e.g. DAS beside SDAS-C of one seed).

    Attributes (for notebooks and tests):
        steppers: the two :class:`Stepper` s (their ``view`` s are shown; their own sliders are not).
        histories: their histories. T: the shared axis's end (the larger T).
        play, slider: ``Play`` and ``IntSlider`` over iteration t (0..T), jslinked as ``link``.
        t: the iteration shown. shown_steps: each side's step at t (decisions made by t).
        curve_view: ``HTML`` of both M_t curves with a cursor at t. widget: the whole box.
    """

    def __init__(
        self, left: History | str | os.PathLike, right: History | str | os.PathLike, *, queue_shown: int = 3,
        interval_ms: int = 400,
    ):
        self.steppers = tuple(Stepper(h, queue_shown=queue_shown, curve=False) for h in (left, right))
        self.histories = tuple(s.history for s in self.steppers)
        self.T = max(s.T for s in self.steppers)
        self.play = widgets.Play(value=0, min=0, max=self.T, step=max(1, self.T // 60), interval=interval_ms,
                                 description="play")
        self.slider = widgets.IntSlider(value=0, min=0, max=self.T, step=1, description="iteration t",
                                        continuous_update=True)
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.curve_view = widgets.HTML()
        self.titles = tuple(widgets.HTML(f"<b class='sdas-side-title'>{html.escape(history_label(h))}</b>")
                            for h in self.histories)
        sides = [widgets.VBox([title, s.view], layout=widgets.Layout(width="50%"))
                 for title, s in zip(self.titles, self.steppers)]
        self.widget = widgets.VBox([widgets.HBox([self.play, self.slider]), self.curve_view, widgets.HBox(sides)])
        self.t = 0
        self.shown_steps: tuple[int, ...] = ()
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.show(0)

    def show(self, t: int) -> None:
        """Show iteration ``t`` on both sides (the slider calls this; it does not move the slider)."""
        self.t = int(t)
        self.shown_steps = tuple(h.decisions_made_by(self.t) for h in self.histories)
        for s, i in zip(self.steppers, self.shown_steps):
            s.show(i)
        shapes = {(h.epochs, h.warmup_iterations, h.T) for h in self.histories}
        E, W, _ = shapes.pop() if len(shapes) == 1 else (None, 0, None)  # one epoch axis only if both share it
        curves = [(history_label(h), h.decision_curve()) for h in self.histories]
        M = max(h.space.total_decisions for h in self.histories)
        made = "; ".join(f"{history_label(h)}: {i} of {h.space.total_decisions} decisions made"
                         for h, i in zip(self.histories, self.shown_steps))
        epoch = ("before the first iteration" if self.t == 0 else epoch_text(self.histories[0], self.t) if E
                 else "the two searches' epochs differ")
        self.curve_view.value = (
            f"<div style='font-family:sans-serif'><div class='sdas-compare-t'>iteration t = {self.t} of {self.T} "
            f"({html.escape(epoch)}): {html.escape(made)}</div>"
            f"{decision_curve_svg(curves, self.T, M, self.t, epochs=E, warmup=W, width=480)}</div>"
        )

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def show_stepper(path_or_history: History | str | os.PathLike, planted: Genotype | None = None) -> widgets.VBox:
    """The stepper's widget box for one notebook cell: ``show_stepper("runs/tiny-C")``.

    Args:
        path_or_history: a run folder, a decisions.json, or a loaded :class:`History`.
        planted: the planted genotype of a planted-cell search: marks each decision right or wrong.
    """
    return Stepper(path_or_history, planted=planted).widget


def show_compare(left: History | str | os.PathLike, right: History | str | os.PathLike) -> widgets.VBox:
    """Two histories side by side on one iteration slider: ``show_compare("runs/search-das-s0", "runs/search-C-s0")``.

    Args:
        left, right: run folders, decisions.json files, or loaded :class:`History` s.
    """
    return CompareStepper(left, right).widget


__all__ = [
    "Stepper", "CompareStepper", "StepPage", "show_stepper", "show_compare", "count_text", "epoch_text",
    "history_label", "candidate_bars", "bars_html",
]
