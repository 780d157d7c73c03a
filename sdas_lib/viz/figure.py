"""Figures that show themselves in Jupyter whether or not pyplot was ever imported.

IPython's inline backend registers its PNG formatter for :class:`matplotlib.figure.Figure` only
once pyplot has made a figure. The library builds figures without pyplot (no window, any backend),
so a notebook that never called pyplot would print ``<Figure size ... with 1 Axes>`` instead of the
picture. :class:`NotebookFigure` carries its own ``_repr_png_``, which IPython uses when no formatter
is registered for the type; where the inline formatter is registered, it draws the figure instead,
so a figure never shows twice.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

DPI = 110  # the dpi of figures written to figures/ and shown inline


class NotebookFigure(Figure):
    """A matplotlib Figure with a PNG representation of its own (Jupyter shows it as a picture)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
        return buf.getvalue()


def new_figure(**kwargs) -> NotebookFigure:
    """A figure for a library plot: ``new_figure(figsize=(5, 3))``."""
    return NotebookFigure(**kwargs)


# One colour per schedule in every figure of the course (Fig. 4, the cost model, Tables 2 and 4, ...).
SCHEDULE_COLOURS = {"das": "#555555", "A": "#1f77b4", "B": "#ff7f0e", "C": "#2ca02c", "random": "#9467bd"}


def schedule_colour(name: str) -> str:
    """The colour of a schedule ('das', 'A', 'B', 'C', 'random'; case-insensitive for DAS and random)."""
    key = str(name)
    key = key.lower() if key.lower() in ("das", "random") else key.upper()
    return SCHEDULE_COLOURS.get(key, "#7f7f7f")


__all__ = ["NotebookFigure", "new_figure", "SCHEDULE_COLOURS", "schedule_colour", "DPI"]
