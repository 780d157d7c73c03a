"""Pictures (layer ``viz``): cells as graphviz DAGs (:mod:`.dags`), the decision curve M_t as a small
inline SVG (:mod:`.curves`) and matplotlib figures (:mod:`.plots`).

Built on ``sdas_lib.core`` only: no torch, so a saved search can be drawn without training anything.
The plot functions load matplotlib on first use, so the DAGs (and the stepper widget) load without it.
"""

from importlib import import_module

from .curves import decision_curve_svg
from .dags import genotype_dag, render_svg, state_dag, step_arch, step_dag

_PLOTS = (
    "plot_schedules", "plot_counts", "plot_alpha_heatmap", "plot_alpha_change", "plot_accuracy_curves", "plot_relaxed_vs_discrete",
    "plot_accuracy_vs_params", "plot_clips", "plot_cost_model", "plot_confusion_matrix", "plot_mixed_edge_fit",
)


def __getattr__(name: str):
    if name in _PLOTS:
        return getattr(import_module(".plots", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["decision_curve_svg", "genotype_dag", "state_dag", "step_dag", "step_arch", "render_svg", *_PLOTS]
