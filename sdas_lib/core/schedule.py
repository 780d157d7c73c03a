"""Discretization schedules (paper §3.2, Fig. 4): how many one-step decisions M_t by iteration t.

With T iterations and M decisions in all (t counts mini-batches, 0..T):
- A: M_t = ⌊M·t/T⌋                 (linear)
- B: M_t = ⌊M·(t/T)^4⌋             (late: most decisions near the end)
- C: M_t = ⌊M·(1 − (1 − t/T)^4)⌋   (early)
- das: 0 until t = T, then M        (the DAS/DARTS baseline: everything at once after training)

After the α/β step of iteration t the search makes M_t − (decisions so far) decisions, highest
priority first. A consequence of the floor (docs/paper_notes.md): M_t reaches M only at t = T, so the last
decision comes after the last weight step. Schedule C makes its 35th of 36 decisions at about
t/T = 0.59 and then carries one undecided node to the end.
"""

from __future__ import annotations

from typing import Callable

from ..errors import SdasError, choices

Schedule = Callable[[int, int, int], int]


def _check(t: int, T: int, M: int) -> None:
    if T <= 0:
        raise SdasError(f"a schedule needs T >= 1 iterations, got T={T}")
    if not 0 <= t <= T:
        raise SdasError(f"iteration t={t} is outside 0..T={T}")
    if M < 0:
        raise SdasError(f"a schedule needs M >= 0 decisions, got M={M}")


# Exact integer arithmetic: ⌊M·x⌋ with x a ratio of integers, never a float floor. A float with a
# small epsilon ends schedule C early at large T (at T = 19,500 it reached M at t = 19,456).


def schedule_a(t: int, T: int, M: int) -> int:
    """Schedule A: M_t = ⌊M·t/T⌋."""
    _check(t, T, M)
    return M * t // T


def schedule_b(t: int, T: int, M: int) -> int:
    """Schedule B: M_t = ⌊M·(t/T)^4⌋."""
    _check(t, T, M)
    return M * t**4 // T**4


def schedule_c(t: int, T: int, M: int) -> int:
    """Schedule C: M_t = ⌊M·(1 − (1 − t/T)^4)⌋ = ⌊M·(T^4 − (T − t)^4) / T^4⌋."""
    _check(t, T, M)
    return M * (T**4 - (T - t) ** 4) // T**4


def schedule_das(t: int, T: int, M: int) -> int:
    """DAS: nothing is decided until the last iteration, then all M decisions at once."""
    _check(t, T, M)
    return M if t == T else 0


SCHEDULES: dict[str, Schedule] = {"A": schedule_a, "B": schedule_b, "C": schedule_c, "das": schedule_das}


def get_schedule(name: str) -> Schedule:
    key = {"a": "A", "b": "B", "c": "C", "das": "das"}.get(str(name).lower())
    if key is None:
        raise SdasError(f"unknown schedule {name!r}; choose one of: {choices(SCHEDULES)}")
    return SCHEDULES[key]


def schedule_curve(name: str, T: int, M: int) -> list[int]:
    """M_t for t = 0..T, ready to plot: ``plt.step(range(T + 1), schedule_curve("C", T, 36))``."""
    f = get_schedule(name)
    return [f(t, T, M) for t in range(T + 1)]


def decisions_per_epoch(name: str, T: int, M: int, epochs: int, warmup: int = 0) -> list[int]:
    """The decisions a schedule makes in each of ``epochs`` equal epochs of W + T iterations, the first
    W = ``warmup`` of them weight-only (nothing decided; t = iteration − W on the schedule's axis)."""
    if epochs < 1 or (T + warmup) % epochs:
        raise SdasError(f"{T + warmup} iterations (W = {warmup}, T = {T}) do not split into {epochs} equal epochs")
    curve, per_epoch = schedule_curve(name, T, M), (T + warmup) // epochs
    ends = [curve[min(T, max(0, (e + 1) * per_epoch - warmup))] for e in range(epochs)]
    return [b - a for a, b in zip([0] + ends, ends)]
