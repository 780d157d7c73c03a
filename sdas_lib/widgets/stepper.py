"""The discretization stepper: walk a saved search's decisions one at a time, no training needed.

A ``Play`` button and an ``IntSlider`` (0..M, linked in the browser with ``jslink``) pick step i:
i decisions made, decision i next. An ``HTML`` area shows, for that step (from
:func:`sdas_lib.core.history.replay`):
- every cell type's DAG (:func:`sdas_lib.viz.dags.state_dag` with that step's α/β, inline SVG);
- the valid architectures left, exact and in scientific notation;
- the iteration of the next decision and t/T;
- the first entries of the priority queue; the first one is the decision about to be made;
- with ``planted`` (a planted-cell search, :mod:`sdas_lib.core.recovery`): every decision made so far,
  marked right or wrong against the planted cell (edges the planted cell does not keep are not judged).

Each step's page is rendered once and cached, so moving back and forth is instant.
"""

from __future__ import annotations

import html
import os

import ipywidgets as widgets

from ..core.genotype import Genotype
from ..core.history import History, ReplayStep, describe_candidate, load_history, replay
from ..core.recovery import decision_correct
from ..viz.dags import render_svg, state_dag, step_arch

QUEUE_SHOWN = 5


def count_text(n: int) -> str:
    """A count exact with thousands separators and in scientific notation: '1,076,...,600 (1.0767e+18)'."""
    return f"{n:,} ({n:.4e})"


class Stepper:
    """Widgets that replay a decision history step by step.

    Attributes (for notebooks and tests):
        history: the loaded history. steps: its M + 1 replay steps.
        play, slider: the ``Play`` and ``IntSlider`` widgets (0..M), jslinked as ``link``.
        view: the ``HTML`` widget. widget: the whole box (what a notebook cell shows).
        dot_sources: ``{cell_type: DOT source}`` of the current step. count_text: its count as text.
        queue_lines: the first entries of its priority queue, best first.
        marks: with ``planted``, the decisions made so far as ``(text, True | False | None)``: right, wrong,
            not judged (an edge the planted cell does not keep).
    """

    def __init__(self, history_or_path: History | str | os.PathLike, *, queue_shown: int = QUEUE_SHOWN, interval_ms: int = 700,
                 planted: Genotype | None = None):
        self.history = history_or_path if isinstance(history_or_path, History) else load_history(history_or_path)
        self.planted = planted
        self.marks: list[tuple[str, bool | None]] = []
        self.steps: list[ReplayStep] = list(replay(self.history))
        self.queue_shown = queue_shown
        M = len(self.steps) - 1
        self.play = widgets.Play(value=0, min=0, max=M, step=1, interval=interval_ms, description="play")
        self.slider = widgets.IntSlider(value=0, min=0, max=M, step=1, description="step", continuous_update=True)
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.view = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.play, self.slider]), self.view])
        self._cache: dict[int, tuple[str, dict[str, str], str, list[str]]] = {}
        self.dot_sources: dict[str, str] = {}
        self.count_text = ""
        self.queue_lines: list[str] = []
        self.slider.observe(self._on_value, names="value")
        self.show(0)

    # -- stepping --------------------------------------------------------------------------------
    def _on_value(self, change) -> None:
        self.show(change["new"])

    def show(self, i: int) -> None:
        """Show step ``i`` (the slider calls this; it does not move the slider)."""
        if i not in self._cache:
            self._cache[i] = self._render(self.steps[i])
        page, self.dot_sources, self.count_text, self.queue_lines = self._cache[i]
        self.marks = self._marks(i)
        self.view.value = page

    def _marks(self, i: int) -> list[tuple[str, bool | None]]:
        """The first ``i`` decisions, each with whether it agrees with the planted cell."""
        if self.planted is None:
            return []
        out = []
        for d in self.history.decisions[:i]:
            row = d.to_dict()
            what = (f"{d.cell_type} edge {d.edge[0]}->{d.edge[1]}: {d.choice}" if d.kind == "edge"
                    else f"{d.cell_type} node {d.node} keeps {', '.join(map(str, d.choice))}")
            out.append((f"iteration {d.iteration}, {what}", decision_correct(row, self.planted)))
        return out

    def _render(self, step: ReplayStep) -> tuple[str, dict[str, str], str, list[str]]:
        h = self.history
        space = h.space
        alpha, beta = step_arch(h, step)
        dots = {ct: state_dag(space, step.state, alpha, beta, ct) for ct in space.cell_type_names}
        sources = {ct: d.source for ct, d in dots.items()}
        count = count_text(step.valid_architectures)
        queue = [describe_candidate(c, space, alpha) for c in step.queue[: self.queue_shown]]

        M, T = len(self.steps) - 1, h.T
        when = f"iteration {step.iteration}" + (f" of T = {T} (t/T = {step.iteration / T:.3f})" if T else "")
        done = f"step {step.step} of {M}: {step.step} decisions made"
        done += f"; the next is made at {when}" if step.next_decision is not None else f", the last at {when}"
        cells = "".join(
            f'<div style="margin:4px 0"><b>{html.escape(ct)} cell</b><br>{render_svg(d)}</div>' for ct, d in dots.items()
        )
        if queue:
            items = "".join(
                f"<li>{'<b>next: </b>' if n == 0 else ''}{html.escape(line)}</li>" for n, line in enumerate(queue)
            )
            queue_html = f"<b>priority queue</b> (first {len(queue)} of {len(step.queue)})<ol style='margin:2px'>{items}</ol>"
        else:
            queue_html = "<b>priority queue</b>: empty, every edge and node is decided"
        page = (
            f"<div style='font-family:sans-serif'>"
            f"<div>{html.escape(done)}</div>"
            f"<div><b>valid architectures left</b>: {html.escape(count)}</div>"
            f"{queue_html}"
            f"{self._marks_html(step.step)}"
            f"<div style='max-width:100%;overflow-x:auto'>{cells}</div>"
            f"<div style='font-size:smaller;color:#555'>solid: decided edge (its op); dashed: undecided, "
            f"top ops by softmax(α) and sigmoid(β); edges a decided node dropped are not drawn</div>"
            f"</div>"
        )
        return page, sources, count, queue

    def _marks_html(self, i: int) -> str:
        marks = self._marks(i)
        if self.planted is None:
            return ""
        right, wrong = sum(m is True for _, m in marks), sum(m is False for _, m in marks)
        sign = {True: "&#10003; right", False: "&#10007; wrong", None: "not judged (edge not planted)"}
        items = "".join(f"<li>{html.escape(text)}: {sign[m]}</li>" for text, m in reversed(marks[-8:]))
        return (f"<div><b>against the planted cell</b>: {right} right, {wrong} wrong, "
                f"{len(marks) - right - wrong} not judged (latest first)<ul style='margin:2px'>{items}</ul></div>")

    def _ipython_display_(self):  # a Stepper as a cell's last value shows its widgets
        from IPython.display import display

        display(self.widget)


def show_stepper(path_or_history: History | str | os.PathLike, planted: Genotype | None = None) -> widgets.VBox:
    """The stepper's widget box for one notebook cell: ``show_stepper("runs/tiny-C")``.

    Args:
        path_or_history: a run folder, a decisions.json, or a loaded :class:`History`.
        planted: the planted genotype of a planted-cell search: marks each decision right or wrong.
    """
    return Stepper(path_or_history, planted=planted).widget


__all__ = ["Stepper", "show_stepper", "count_text"]
