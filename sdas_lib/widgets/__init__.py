"""Notebook widgets (layer ``widgets``): the discretization stepper over a saved history, and two
histories side by side on one iteration axis (:mod:`.stepper`).

Built on ``sdas_lib.core`` and ``sdas_lib.viz``: no torch, no training.
"""

from .stepper import CompareStepper, Stepper, show_compare, show_stepper

__all__ = ["Stepper", "CompareStepper", "show_stepper", "show_compare"]
