"""The paper's published numbers, as data, for the course to set beside what it measures.

Transcribed from ``shared/paper/sdas-paper.md`` (a PDF conversion; its figures are missing):
Table 1 (search space of SDAS-A over t/T), the surviving Fig. 7 captions, Table 2, and the DAS/SDAS
rows of Tables 4 and 5. Rows 0.7–0.9 of Table 1 print negative exponents in our copy; the count
can only fall, so they are read as 3.00e6, 3.19e4 and 5.64e2 (NOTES.md).
"""

from __future__ import annotations

# Table 1: SDAS-A on CIFAR10, valid architectures (normal and reduction cell) at t/T.
TABLE1_SDAS_A: dict[float, float] = {
    0.0: 1.07e18, 0.1: 9.90e16, 0.2: 4.81e14, 0.3: 4.44e13, 0.4: 2.56e11, 0.5: 2.49e10,
    0.6: 1.13e9, 0.7: 3.00e6, 0.8: 3.19e4, 0.9: 5.64e2, 1.0: 1.0,
}
TABLE1_NOTE = (
    "row 0.1 (9.90e16) needs 4 decisions, while schedule A's floor gives floor(36 x 0.1) = 3; rows 0.7-0.9 "
    "print negative exponents in our copy (a conversion error: the count can only fall)"
)

# Fig. 7 captions that survive: the normal cell of SDAS-A on CIFAR10 (50 epochs), by epoch.
FIG7_NORMAL_CELL: dict[int, float] = {0: 1.03e9, 30: 4.56e3, 40: 4.56e3, 50: 1.0}
FIG7_EPOCHS = 50

# Table 2: CIFAR10 test accuracy with the parameters learnt during search (%).
TABLE2: dict[str, tuple[float | None, float | None]] = {
    "DARTS": (87.67, 54.66), "SNAS": (88.54, 90.67), "SDAS-A": (92.02, None),  # SDAS-A's discrete entry is missing
}

# Table 4: CIFAR10, test error % (mean ± std over 4 runs), params (M), search cost (GPU days).
TABLE4: dict[str, dict[str, float | None]] = {
    "das": {"error": 2.93, "error_std": 0.08, "params_m": 2.7, "gpu_days": 0.52},
    "A": {"error": 2.81, "error_std": 0.07, "params_m": 2.9, "gpu_days": 0.31},
    "B": {"error": 2.74, "error_std": 0.11, "params_m": 3.2, "gpu_days": 0.37},
    "C": {"error": 2.84, "error_std": 0.12, "params_m": 3.9, "gpu_days": 0.25},
}

# Table 5: ImageNet mobile setting, top-1/top-5 error %, params (M), mult-adds (M).
TABLE5: dict[str, dict[str, float]] = {
    "DARTS": {"top1": 26.9, "top5": 9.0, "params_m": 4.9, "mult_adds_m": 595},
    "A": {"top1": 27.0, "top5": 9.1, "params_m": 4.6, "mult_adds_m": 531},
    "B": {"top1": 26.6, "top5": 8.7, "params_m": 4.4, "mult_adds_m": 510},
    "C": {"top1": 26.7, "top5": 8.8, "params_m": 4.5, "mult_adds_m": 511},
}


def search_cost_ratio(schedule: str) -> float:
    """Table 4's search cost of a schedule relative to DAS (0.31 / 0.52 for A)."""
    return TABLE4[schedule]["gpu_days"] / TABLE4["das"]["gpu_days"]


__all__ = [
    "TABLE1_SDAS_A", "TABLE1_NOTE", "FIG7_NORMAL_CELL", "FIG7_EPOCHS", "TABLE2", "TABLE4", "TABLE5", "search_cost_ratio",
]
