"""Figures of a search: schedules (Fig. 4), valid architectures left, α/β heatmaps, accuracies.

Each function takes data and returns a :class:`~sdas_lib.viz.figure.NotebookFigure` (a matplotlib
Figure) built without pyplot, so it works under any backend (Agg included) and never opens a window.
A notebook shows the returned figure as a picture, whether or not pyplot was used first; pass
``path`` to also write it to a file (the only I/O here). Every schedule has one colour in every
figure (:data:`~sdas_lib.viz.figure.SCHEDULE_COLOURS`).
"""

from __future__ import annotations

import math
import os
import statistics
from typing import Any, Mapping, Sequence

from matplotlib.figure import Figure

from .figure import DPI, new_figure, schedule_colour

from ..core.discretization import as_lists, sigmoid, softmax
from ..core.history import History
from ..core.opsets import op_set_info
from ..core.schedule import schedule_curve
from ..core.space import SearchSpace
from .dags import _cell_rows, node_name
from ..errors import SdasError

TABLE2_COLUMNS = {
    "test_acc_relaxed": "relaxed",
    "test_acc_discrete_weights_kept": "discrete, mixing weights kept",
    "test_acc_discrete": "discrete (paper: same BN statistics)",
    "test_acc_discrete_bn_reestimated": "discrete, BN re-estimated",
}


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=DPI)
    return fig


def _number(v: Any) -> float:
    """A metrics.csv or table cell as a float: numbers pass, strings are parsed; '', None, NaN and pandas.NA
    (a nullable column's missing value, e.g. a failed retraining's params) are NaN."""
    if v is None or isinstance(v, str) and v == "":
        return math.nan
    if not isinstance(v, str):
        import pandas as pd

        if pd.isna(v):
            return math.nan
    return float(v)


def schedule_label(name: str) -> str:
    """'A' -> 'SDAS-A', 'das' -> 'DAS', 'random' -> 'Random' (Table 4's random cells)."""
    key = str(name).lower()
    return {"das": "DAS", "random": "Random"}.get(key, f"SDAS-{name}")


def plot_schedules(
    T: int, M: int, names: Sequence[str] = ("A", "B", "C"), *, path: str | os.PathLike | None = None
) -> Figure:
    """Fig. 4: decisions made so far, M_t, against t/T for each schedule, as a step plot.

    Args:
        T: iterations of the search. M: decisions in all (36 for the image space). names: schedules.
    """
    fig = new_figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    x = [t / T for t in range(T + 1)]
    for name in names:
        ax.step(x, schedule_curve(name, T, M), where="post", label=name, color=schedule_colour(name))
    ax.set(xlabel="t / T", ylabel="decisions made, $M_t$", title=f"Schedules (T={T}, M={M})", xlim=(0, 1), ylim=(0, M * 1.03))
    ax.legend(title="schedule")
    return _finish(fig, path)


def plot_counts(history: History, *, path: str | os.PathLike | None = None) -> Figure:
    """Valid architectures left after each decision against t/T (log scale): one point per decision.

    Args:
        history: a loaded decision history (its recorded counts are plotted as they are).
    """
    T = history.T
    fig = new_figure(figsize=(5.5, 3.5))
    ax = fig.add_subplot()
    x = [d.iteration / T if T else d.iteration for d in history.decisions]
    y = [d.valid_architectures for d in history.decisions]
    schedule = history.meta.get("schedule")
    ax.plot(x, y, "o-", drawstyle="steps-post", markersize=4, label=schedule_label(schedule) if schedule else "run",
            color=schedule_colour(schedule) if schedule else None)
    ax.set_yscale("log")
    ax.set(xlabel="t / T" if T else "iteration", ylabel="valid architectures left", title="Valid architectures after each decision")
    ax.legend()
    return _finish(fig, path)


def plot_alpha_heatmap(
    alpha, beta, space: SearchSpace, cell_type: str, *, path: str | os.PathLike | None = None
) -> Figure:
    """softmax(α) of one cell type, one row per edge and one column per op, with sigmoid(β) as a last column.

    Args:
        alpha: ``{cell_type: (E, n_ops)}`` or this cell type's (E, n_ops); beta: ``{cell_type: (E,)}`` or (E,).
        space: the search space. cell_type: which cell type.
    """
    space.cell_type(cell_type)
    names = list(op_set_info(space.op_set).names) + ["sigmoid(β)"]
    a, b = _cell_rows(alpha, cell_type), _cell_rows(beta, cell_type)
    rows = [softmax(a[e]) + sigmoid([b[e]]) for e in range(space.n_edges)]  # (E, n_ops + 1)
    fig = new_figure(figsize=(1.0 + 0.75 * len(names), 1.0 + 0.38 * len(rows)))
    ax = fig.add_subplot()
    im = ax.imshow(rows, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right")
    ax.set_yticks(
        range(len(rows)), [f"{node_name(j, space.n_inputs)} → {node_name(i, space.n_inputs)}" for j, i in space.edges]
    )
    ax.axvline(len(names) - 1.5, color="white", linewidth=2)  # the β column is not part of the softmax
    for e, row in enumerate(rows):
        for c, v in enumerate(row):
            ax.text(c, e, f"{v:.2f}", ha="center", va="center", fontsize=7, color="black" if v > 0.6 else "white")
    ax.set_title(f"{cell_type} cell: softmax(α) per edge, and sigmoid(β)")
    fig.colorbar(im, ax=ax)
    return _finish(fig, path)


def plot_alpha_change(
    change, space: SearchSpace, cell_type: str, *, title: str = "", path: str | os.PathLike | None = None
) -> Figure:
    """How softmax(α) of one cell type moved: one row per edge, one column per op, red up and blue down
    (notebook 03: after a few α/β steps the change is far below what two decimals of softmax(α) show).

    Args:
        change: (E, n_ops) softmax(α) now minus at the start (e.g. ``AlgorithmSteps.softmax_change``).
        space: the search space. cell_type: which cell type the rows are.
    """
    space.cell_type(cell_type)
    names = list(op_set_info(space.op_set).names)
    rows = [list(map(float, r)) for r in as_lists(change)]  # (E, n_ops)
    if len(rows) != space.n_edges or any(len(r) != len(names) for r in rows):
        raise SdasError(f"change must be ({space.n_edges}, {len(names)}): one row per edge, one column per op")
    bound = max((abs(v) for r in rows for v in r), default=0.0) or 1.0
    fig = new_figure(figsize=(1.0 + 0.75 * len(names), 1.0 + 0.38 * len(rows)))
    ax = fig.add_subplot()
    im = ax.imshow(rows, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right")
    ax.set_yticks(
        range(len(rows)), [f"{node_name(j, space.n_inputs)} → {node_name(i, space.n_inputs)}" for j, i in space.edges]
    )
    for e, row in enumerate(rows):
        for c, v in enumerate(row):
            ax.text(c, e, f"{v:+.3f}", ha="center", va="center", fontsize=6.5)
    ax.set_title(title or f"{cell_type} cell: change of softmax(α) since the start")
    fig.colorbar(im, ax=ax)
    return _finish(fig, path)


def plot_accuracy_curves(
    metrics_rows: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None, *,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Accuracies per epoch from metrics.csv rows (dicts, e.g. from ``csv.DictReader``): epoch on x.

    Args:
        metrics_rows: one dict per epoch with an ``epoch`` key; values may be strings as csv reads them.
        keys: the columns to draw (default: every column whose name has ``acc`` in it). Empty or NaN
            cells (epochs not evaluated) are left out of their line.
    """
    rows = list(metrics_rows)
    if keys is None:
        keys = [k for k in (rows[0] if rows else {}) if "acc" in k]
    fig = new_figure(figsize=(6, 3.8))
    ax = fig.add_subplot()
    for key in keys:
        pts = [(_number(r["epoch"]), _number(r.get(key))) for r in rows]
        pts = [(x, y) for x, y in pts if not math.isnan(y)]
        ax.plot([x for x, _ in pts], [y for _, y in pts], "o-", markersize=3, label=key)
    ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy per epoch")
    ax.legend(fontsize=8)
    return _finish(fig, path)


def plot_relaxed_vs_discrete(
    rows: Sequence[Mapping[str, Any]], *, path: str | os.PathLike | None = None
) -> Figure:
    """Table 2: per schedule, mean ± std over rows (seeds) of the relaxed, discrete with the mixing weights
    kept, discrete and BN re-estimated test accuracies, as grouped bars (notebook 04,
    figures/table2_discretization_gap.png). Bars take their schedule's colour; the columns differ by
    shade and hatch.

    Args:
        rows: dicts with ``schedule``, ``test_acc_relaxed``, ``test_acc_discrete`` and
            ``test_acc_discrete_bn_reestimated`` (e.g. table2_discretization_gap.csv), and
            ``test_acc_discrete_weights_kept`` where measured: rows without it (older run folders) leave
            that column's bars out; schedules keep the order in which they first appear.
    """
    schedules = list(dict.fromkeys(str(r["schedule"]) for r in rows))
    fig = new_figure(figsize=(8, 3.8))
    ax = fig.add_subplot()
    columns = {c: label for c, label in TABLE2_COLUMNS.items()
               if any(not math.isnan(_number(r.get(c))) for r in rows)}
    width = 0.8 / len(columns)
    styles = [(1.0, ""), (0.7, "\\\\"), (0.5, "//"), (0.3, "..")]
    for k, (col, label) in enumerate(columns.items()):
        values = [[x for r in rows if str(r["schedule"]) == s for x in [_number(r.get(col))] if not math.isnan(x)]
                  for s in schedules]
        means = [statistics.mean(v) if v else math.nan for v in values]
        stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
        xs = [i + (k - (len(columns) - 1) / 2) * width for i in range(len(schedules))]
        alpha, hatch = styles[k % len(styles)]
        ax.bar(xs, means, width, yerr=stds, capsize=3, color=[schedule_colour(s) for s in schedules], alpha=alpha,
               hatch=hatch, edgecolor="black", linewidth=0.5, label=label)
    ax.set_xticks(range(len(schedules)), [schedule_label(s) for s in schedules])
    ax.set(ylabel="test accuracy with search weights", ylim=(0, 1.05), title="Relaxed vs discrete (Table 2)")
    ax.legend(fontsize=8, loc="upper right")
    return _finish(fig, path)


def plot_accuracy_vs_params(
    rows: Sequence[Mapping[str, Any]], *, x: str = "params", y: str = "test_acc", label: str = "name",
    chance: float | None = None, path: str | os.PathLike | None = None,
) -> Figure:
    """Test accuracy against parameters (in millions), one labelled point per row (e.g. Tables 4, 5; Fig. 11).

    Args:
        rows: dicts with a parameter count ``x``, an accuracy ``y`` and a name ``label``
            (a retrain's result.json has ``params`` and ``test_acc``); a row with a ``schedule`` key
            takes that schedule's colour, other rows are gray. Rows with a ``curve`` key (``"res50-3d"``)
            are joined, per curve, by a line through the mean accuracy at each size (Fig. 11: one
            hand-crafted network at several widths), and labelled once, in the legend. Rows whose size or
            accuracy is missing (a failed run) are left out. With sizes over 20x apart the x axis is log.
        chance: draw chance accuracy (1 / classes) as a dashed line, when given.
    """
    points = [(r, _number(r[x]) / 1e6, _number(r[y])) for r in rows]
    points = [(r, px, py) for r, px, py in points if not (math.isnan(px) or math.isnan(py))]
    fig = new_figure(figsize=(6.5, 4.2))
    ax = fig.add_subplot()
    colours = [schedule_colour(r["schedule"]) if r.get("schedule") is not None else "#7f7f7f" for r, _, _ in points]
    ax.scatter([px for _, px, _ in points], [py for _, _, py in points], c=colours, s=18)
    curves: dict[str, dict[float, list[float]]] = {}
    for r, px, py in points:
        if r.get("curve") is not None:
            curves.setdefault(str(r["curve"]), {}).setdefault(px, []).append(py)
        else:
            ax.annotate(str(r[label]), (px, py), textcoords="offset points", xytext=(4, 4), fontsize=8)
    for name, by_size in curves.items():
        xs = sorted(by_size)
        ax.plot(xs, [sum(by_size[v]) / len(by_size[v]) for v in xs], marker="s", lw=1.2, label=name)
    if chance is not None:
        ax.axhline(chance, color="#7f7f7f", ls="--", lw=1, label=f"chance ({chance:.2g})")
    xs = [px for _, px, _ in points]
    if xs and min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    if curves or chance is not None:
        ax.legend(fontsize=8)
    ax.set(xlabel="parameters (millions)", ylabel=y, title="Accuracy against size")
    return _finish(fig, path)


def plot_cost_model(
    mixing: Mapping[str, Sequence[float]], seconds: Mapping[str, Sequence[tuple[float, float]]], *,
    unit: str = "seconds", path: str | os.PathLike | None = None,
) -> Figure:
    """The cost model beside the measured cost (notebook 03, figures/fig4_cost_model.png): left, the
    fraction of edges still mixing all ops after each iteration; right, each iteration's seconds.

    Args:
        mixing: ``{schedule: fractions}``, one per iteration t = 1..T (``core.history.mixed_edge_fraction``).
        seconds: ``{schedule: [(iteration, seconds), ...]}`` from iterations.csv.
        unit: what ``seconds`` measure, for the axis: ``"seconds"`` (wall) or ``"CPU seconds"``.
    """
    fig = new_figure(figsize=(11, 3.5))
    a1, a2 = fig.subplots(1, 2)
    for s, frac in mixing.items():
        T = len(frac)
        a1.plot([t / T for t in range(1, T + 1)], frac, color=schedule_colour(s),
                label=f"{schedule_label(s)}: mean {sum(frac) / max(T, 1):.2f}")
        pts = seconds.get(s, ())
        a2.plot([t / T for t, _ in pts], [sec for _, sec in pts], lw=1, color=schedule_colour(s), label=schedule_label(s))
    a1.set(xlabel="t/T", ylabel="fraction of edges mixing", title="cost model")
    a2.set(xlabel="t/T", ylabel=f"{unit} per iteration", yscale="log", title="measured")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    return _finish(fig, path)


def plot_confusion_matrix(
    matrix, class_names: Sequence[str], *, title: str = "Confusion matrix", path: str | os.PathLike | None = None
) -> Figure:
    """A confusion matrix: row = true class, column = predicted class, each cell its count.

    Args:
        matrix: (n_classes, n_classes) counts (e.g. ``sklearn.metrics.confusion_matrix``).
        class_names: one name per class, in the matrix's order.
    """
    rows = [[int(v) for v in row] for row in matrix]
    n = len(rows)
    fig = new_figure(figsize=(1.2 + 0.45 * n, 1.0 + 0.4 * n))
    ax = fig.add_subplot()
    top = max(max(row) for row in rows) if rows else 1
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=max(top, 1))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="white" if v > 0.6 * top else "black")
    ax.set_xticks(range(n), [str(c) for c in class_names], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), [str(c) for c in class_names], fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return _finish(fig, path)


def plot_mixed_edge_fit(fit, *, path: str | os.PathLike | None = None) -> Figure:
    """softmax(α) of one mixed edge over its α/β steps (notebook 01, figures/eq2_mixed_edge.png); the
    op that made the target is drawn thick.

    Args:
        fit: an :class:`~sdas_lib.nets.relaxation.EdgeFit` (``op_names``, ``weights``, ``target_op``).
    """
    fig = new_figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    for k, name in enumerate(fit.op_names):
        ax.plot([w[k] for w in fit.weights], label=name, lw=2.5 if name == fit.target_op else 1)
    ax.set(xlabel="α/β step", ylabel="softmax(α)", title=f"target made by {fit.target_op}")
    ax.legend(fontsize=7, ncol=2)
    return _finish(fig, path)


def plot_clips(clips, titles: Sequence[str], *, path: str | os.PathLike | None = None) -> Figure:
    """Video clips as rows of frames (notebook 05: a moving-digits clip beside its time reverse).

    Args:
        clips: a sequence of clips (C, T, H, W) as tensors or arrays; the first channel is drawn in gray.
        titles: one title per clip, written left of its row.
    """
    rows = [c[0] if len(c.shape) == 4 else c for c in clips]  # (T, H, W)
    T = max(len(r) for r in rows)
    fig = new_figure(figsize=(1.3 * T + 1.5, 1.4 * len(rows)))
    axes = fig.subplots(len(rows), T, squeeze=False)
    for i, (frames, title) in enumerate(zip(rows, titles)):
        for t in range(T):
            ax = axes[i][t]
            ax.set_xticks([]), ax.set_yticks([])
            if t < len(frames):
                ax.imshow(frames[t], cmap="gray")
            if i == 0:
                ax.set_title(f"frame {t}", fontsize=8)
        axes[i][0].set_ylabel(title, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return _finish(fig, path)


__all__ = [
    "plot_schedules", "plot_counts", "plot_alpha_heatmap", "plot_alpha_change", "plot_accuracy_curves", "plot_relaxed_vs_discrete",
    "plot_accuracy_vs_params", "plot_clips", "plot_cost_model", "plot_confusion_matrix", "plot_mixed_edge_fit", "schedule_label",
]
