"""Notebook widgets (layer ``widgets``): the discretization stepper over a saved history (:mod:`.stepper`).

Built on ``sdas_lib.core`` and ``sdas_lib.viz``: no torch, no training.
"""

from .stepper import Stepper, show_stepper

__all__ = ["Stepper", "show_stepper"]
