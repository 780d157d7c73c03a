import math
from fractions import Fraction

import pytest

from sdas_lib.errors import SdasError
from sdas_lib.core.schedule import get_schedule, schedule_curve


@pytest.mark.parametrize("M", [36, 54, 37])
def test_schedules_at_0_half_and_1(M):
    T = 200
    expect_half = {"A": M * 0.5, "B": M * 0.0625, "C": M * 0.9375}
    for name, half in expect_half.items():
        f = get_schedule(name)
        assert f(0, T, M) == 0
        assert f(T // 2, T, M) == math.floor(half)
        assert f(T, T, M) == M


def test_das_decides_everything_at_the_last_iteration_only():
    curve = schedule_curve("das", 50, 36)
    assert curve[:-1] == [0] * 50 and curve[-1] == 36


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_curves_are_monotone_and_reach_M_only_at_T(name):
    T, M = 88, 36
    curve = schedule_curve(name, T, M)
    assert all(a <= b for a, b in zip(curve, curve[1:]))
    assert curve[-1] == M and curve[-2] < M  # the floor: the last decision comes at t = T


def test_schedule_c_makes_35_decisions_by_about_059():
    T = 10_000
    first_35 = next(t for t, m in enumerate(schedule_curve("C", T, 36)) if m >= 35)
    assert abs(first_35 / T - 0.59) < 0.01


def test_schedule_errors():
    with pytest.raises(SdasError, match="unknown schedule 'D'"):
        get_schedule("D")
    with pytest.raises(SdasError, match="outside"):
        get_schedule("A")(11, 10, 36)


# -- every t against the exact formula (docs/paper_notes.md "Scheduled discretization") -----------------------


def exact(name, t, T, M):
    """⌊M_t⌋ written independently of the library: exact rationals, then math.floor."""
    x = Fraction(t, T)
    value = {
        "A": M * x,
        "B": M * x**4,
        "C": M * (1 - (1 - x) ** 4),
        "das": Fraction(M if t == T else 0),
    }[name]
    return math.floor(value)


@pytest.mark.parametrize("M", [36, 54])
@pytest.mark.parametrize("T", [88, 1_000, 19_500])
@pytest.mark.parametrize("name", ["A", "B", "C", "das"])
def test_schedule_equals_the_exact_formula_at_every_t(name, T, M):
    f = get_schedule(name)
    got = [f(t, T, M) for t in range(T + 1)]
    want = [exact(name, t, T, M) for t in range(T + 1)]
    bad = [(t, g, w) for t, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"first mismatches (t, library, exact): {bad[:5]}"
    # The floor: M_t reaches M first at t = T, so the last decision comes at the last iteration.
    assert next(t for t, m in enumerate(got) if m >= M) == T


def test_float_floor_with_epsilon_ends_schedule_c_early_but_the_library_does_not():
    """Regression: ⌊M·(1 − (1 − t/T)^4) + 1e-9⌋ in floats reached M before T at the paper's T."""
    T, M = 19_500, 36
    lib = schedule_curve("C", T, M)
    floats = [math.floor(M * (1 - (1 - t / T) ** 4) + 1e-9) for t in range(T + 1)]
    differ = [t for t in range(T + 1) if floats[t] != lib[t]]
    assert differ, "the float version was expected to disagree somewhere at T = 19,500"
    assert next(t for t, m in enumerate(floats) if m >= M) < T  # the old bug: M reached early
    assert all(lib[t] == exact("C", t, T, M) for t in differ)
    assert next(t for t, m in enumerate(lib) if m >= M) == T


def test_decisions_per_epoch_leave_the_warm_up_epochs_empty_and_sum_to_M():
    from sdas_lib.core.schedule import decisions_per_epoch

    plain = decisions_per_epoch("C", 55, 36, 5)
    warm = decisions_per_epoch("C", 55, 36, 10, warmup=55)
    assert warm[:5] == [0] * 5 and warm[5:] == plain  # the same 55 scheduled iterations, shifted by W
    assert sum(decisions_per_epoch("A", 12, 36, 4, warmup=4)) == 36
    assert decisions_per_epoch("das", 12, 36, 4, warmup=4) == [0, 0, 0, 36]
    with pytest.raises(SdasError, match="do not split into 3 equal epochs"):
        decisions_per_epoch("A", 10, 36, 3)
