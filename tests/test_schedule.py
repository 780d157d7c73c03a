import math

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
