"""The decision curve M_t as a small inline SVG with a cursor at iteration t: no matplotlib, so the
stepper can draw one per step in milliseconds.

M_t (decisions made by iteration t) is a step function: it holds between the iterations where
decisions are made and jumps there. DAS makes all M at t = T; schedule C makes most early, B late.
Each curve is given as (t, M_t) points at t = 0 and wherever it changes
(:meth:`sdas_lib.core.history.History.decision_curve`).
"""

from __future__ import annotations

import html
from typing import Sequence

CURVE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")  # one per curve, in order
CURSOR_COLOR = "#555"


def _step_path(points: Sequence[tuple[int, int]], T: int, x, y) -> str:
    """SVG path data of a step function through ``points``, held flat to t = T."""
    parts = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
    for (t0, m0), (t1, m1) in zip(points, points[1:]):
        parts.append(f"H{x(t1):.1f}V{y(m1):.1f}")
    parts.append(f"H{x(T):.1f}")
    return "".join(parts)


def decision_curve_svg(
    curves: Sequence[tuple[str, Sequence[tuple[int, int]]]], T: int, M: int, cursor: int | None = None, *,
    epochs: int | None = None, warmup: int = 0, width: int = 360, height: int = 130,
) -> str:
    """M_t against t = 0..T for one or more histories, with a vertical cursor at iteration ``cursor``.

    Args:
        curves: ``[(label, [(t, M_t), ...]), ...]``, each from ``History.decision_curve()``.
        T: the iterations of the search (the x axis). M: the decisions in all (the y axis).
        cursor: the iteration to mark (None: no cursor). The cursor line carries
            ``data-t="<cursor>"``; each curve's dot on it ``data-m="<M_t>"``, for tests.
        epochs: if given (and the iterations, warm-up included, are a multiple of it), light ticks at the
            epoch boundaries. warmup: weight-only iterations before t = 1 (the axis starts after them).
        width, height: of the SVG, in pixels.
    Returns:
        ``<svg ...>...</svg>`` text, to inline in HTML.
    """
    T, M = max(int(T), 1), max(int(M), 1)
    left, right, top, bottom = 34, 10, 8, 30
    pw, ph = width - left - right, height - top - bottom

    def x(t):
        return left + pw * t / T

    def y(m):
        return top + ph * (1 - m / M)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sdas-decision-curve" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">']
    if epochs and (T + warmup) % epochs == 0:
        for e in range(1, epochs):
            te = e * (T + warmup) // epochs - warmup  # the epoch boundary on the scheduled axis
            if te <= 0:
                continue  # inside the warm-up
            xe = x(te)
            out.append(f'<line x1="{xe:.1f}" y1="{top}" x2="{xe:.1f}" y2="{top + ph}" stroke="#eee"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    out.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{M}</text>')
    out.append(f'<text x="{left - 4}" y="{top + ph}" text-anchor="end">0</text>')
    out.append(f'<text x="{left}" y="{top + ph + 12}" text-anchor="middle">0</text>')
    out.append(f'<text x="{left + pw}" y="{top + ph + 12}" text-anchor="middle">T={T}</text>')
    axis = "iteration t" + (f" ({epochs} epoch{'s' if epochs != 1 else ''})" if epochs else "")
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 4}" text-anchor="middle">{axis}; M_t: decisions made by t</text>')
    for n, (label, points) in enumerate(curves):
        color = CURVE_COLORS[n % len(CURVE_COLORS)]
        pts = list(points) or [(0, 0)]
        out.append(f'<path d="{_step_path(pts, T, x, y)}" fill="none" stroke="{color}" stroke-width="2">'
                   f'<title>{html.escape(label)}</title></path>')
        out.append(f'<text x="{left + 4}" y="{top + 12 + 11 * n}" fill="{color}">{html.escape(label)}</text>')
    if cursor is not None:
        xc = x(min(max(int(cursor), 0), T))
        out.append(f'<line class="sdas-cursor" data-t="{int(cursor)}" x1="{xc:.1f}" y1="{top}" x2="{xc:.1f}" '
                   f'y2="{top + ph}" stroke="{CURSOR_COLOR}" stroke-dasharray="3,2"/>')
        for n, (_, points) in enumerate(curves):
            m = max([mm for t, mm in points if t <= cursor] or [0])
            out.append(f'<circle data-m="{m}" cx="{xc:.1f}" cy="{y(m):.1f}" r="3" '
                       f'fill="{CURVE_COLORS[n % len(CURVE_COLORS)]}"/>')
        out.append(f'<text x="{min(xc + 3, left + pw - 30):.1f}" y="{top + ph - 3}" fill="{CURSOR_COLOR}">t={int(cursor)}</text>')
    out.append("</svg>")
    return "".join(out)


__all__ = ["decision_curve_svg"]
