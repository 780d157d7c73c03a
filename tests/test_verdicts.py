"""The reproduction report's verdicts come from stated tests: Welch's one-sided t-test, TOST with a
margin, Holm's correction over a family; five verdicts. Synthetic results with known answers."""

import math

import pytest
from scipy import stats

from sdas_lib.core.verdicts import (
    BY_CONSTRUCTION, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, REPRODUCED, VERDICTS, Claim, by_construction,
    equals, equivalent, exceeds, holm, not_testable, report_rows,
)


def test_a_one_standard_deviation_difference_at_n3_is_inconclusive():
    a, b = [1.0, 2.0, 3.0], [0.0, 1.0, 2.0]  # std 1 each, means 1 apart
    v = exceeds(a, b, a_name="SDAS", b_name="DAS")
    assert v.status == INCONCLUSIVE and "the seeds alone could make this difference" in v.reason
    assert v.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)
    assert 0.1 < v.p < 0.2 and v.n == "3, 3" and v.difference == pytest.approx(1.0)
    assert v.mde > 1.0  # this n and spread could not detect a one-std effect


def test_a_large_effect_is_reproduced_and_a_reversed_one_contradicted():
    big, small = [0.95, 0.96, 0.97], [0.10, 0.11, 0.12]
    v = exceeds(big, small, a_name="SDAS", b_name="DAS")
    assert v.status == REPRODUCED and v.p < 0.05 and v.test == "Welch one-sided t"
    assert "SDAS 0.96 ± 0.01 against DAS 0.11 ± 0.01 (n = 3, 3): difference 0.85, minimum detectable effect" in v.reason
    r = exceeds(small, big)
    assert r.status == CONTRADICTED and r.p > 0.95 and r.p_opposite < 0.05 and "the opposite is shown" in r.reason


def test_the_minimum_detectable_effect_is_what_the_test_finds_with_power_08():
    a, b = [1.0, 2.0, 3.0], [0.0, 1.0, 2.0]
    v = exceeds(a, b)
    se, df = math.sqrt(2 / 3), 4.0  # equal spreads and n: Welch's df is 2(n - 1)
    assert v.mde == pytest.approx((stats.t.ppf(0.95, df) + stats.t.ppf(0.8, df)) * se)
    shifted = exceeds([x + v.mde for x in b], b)  # a true effect of exactly the MDE, spread 1, n = 3
    assert shifted.p < 0.05  # observed at its mean it is detected


def test_zero_spread_on_both_sides_decides_by_the_means():
    assert exceeds([0.9, 0.9], [0.1, 0.1]).status == REPRODUCED
    assert exceeds([0.1, 0.1], [0.1, 0.1]).status == INCONCLUSIVE


def test_an_equivalence_inside_the_margin_is_reproduced_only_with_a_small_spread():
    tight = equivalent([0.905, 0.900, 0.895], [0.900, 0.905, 0.895], 0.02, a_name="discrete", b_name="relaxed")
    assert tight.status == REPRODUCED and tight.test == "TOST ±0.02" and "margin ±0.02" in tight.reason
    wide = equivalent([0.80, 0.90, 1.00], [0.85, 0.95, 0.90], 0.02)  # the same means, a spread of 0.1
    assert wide.status == INCONCLUSIVE and wide.mde > 0.02
    far = equivalent([0.60, 0.61, 0.60], [0.90, 0.91, 0.90], 0.02)  # 0.3 apart: outside the margin, shown
    assert far.status == CONTRADICTED
    one = equivalent([0.50, 0.52, 0.51], 0.51, 0.1, a_name="ratio", b_name="the cost model's")  # against one value
    assert one.status == REPRODUCED and one.n == "3, -"


def test_holm_corrects_a_family_together():
    one = exceeds([1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 2.0, 3.0, -0.9])
    p = one.p
    family = holm([one] * 3)  # three claims with the same p
    assert all(v.p == pytest.approx(min(1.0, 3 * p)) and "Holm" in v.test for v in family)
    strong = exceeds([0.95, 0.96, 0.97], [0.10, 0.11, 0.12])
    weak = exceeds([0.53, 0.57, 0.55], [0.50, 0.51, 0.52])
    assert weak.status == REPRODUCED and 0.025 < weak.p < 0.05  # alone it passes ...
    assert [v.status for v in holm([weak, weak])] == [INCONCLUSIVE, INCONCLUSIVE]  # ... not as one of two alike
    assert holm([weak, weak])[0].p == pytest.approx(2 * weak.p)
    adjusted = holm([strong, weak])  # step-down: the smallest p times 2, the next times 1
    assert [v.status for v in adjusted] == [REPRODUCED, REPRODUCED] and adjusted[1].p == pytest.approx(weak.p)
    untested = not_testable("no runs")
    assert holm([untested, strong])[0] == untested and holm([untested, strong])[1].p == pytest.approx(strong.p)


def test_too_few_measurements_are_not_testable():
    v = exceeds([0.9], [0.1, 0.2], a_name="SDAS", b_name="DAS")
    assert v.status == NOT_TESTABLE and "have 1 of SDAS, 2 of DAS" in v.reason
    assert exceeds(None, [0.1, 0.2]).status == NOT_TESTABLE
    assert exceeds([float("nan"), 0.9], [0.1, 0.2]).status == NOT_TESTABLE  # NaN is no measurement


def test_exact_values_and_by_construction():
    assert equals(1_037_664_180**2, 1_076_746_950_455_072_400, what="valid architectures").status == REPRODUCED
    assert equals(3, 4).status == CONTRADICTED and equals(None, 4).status == NOT_TESTABLE
    assert by_construction("any run ends at one").status == BY_CONSTRUCTION
    assert VERDICTS == (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, BY_CONSTRUCTION)


def test_report_rows_judge_each_claim_and_correct_families():
    good = {"a": [0.95, 0.96, 0.97], "b": [0.10, 0.11, 0.12]}
    claims = [
        Claim("gap", "Table 2", "DAS loses accuracy when discretized", "87.67% -> 54.66%",
              lambda r: exceeds(r.get("a"), r.get("b")), "CIFAR10", "image", "f"),
        Claim("gap2", "Table 2", "the same, again", "-", lambda r: exceeds(r.get("a"), r.get("b")), "CIFAR10", "image", "f"),
        Claim("cifar", "Table 4", "2.5% error on CIFAR10", "2.5%", lambda r: not_testable("needs CIFAR10 and 600 epochs")),
    ]
    rows = report_rows(claims, good, {"image": "digits (preset micro)"})
    assert [(r["claim"], r["verdict"]) for r in rows] == [("gap", REPRODUCED), ("gap2", REPRODUCED), ("cifar", NOT_TESTABLE)]
    assert rows[0]["measured on"] == "digits (preset micro)" and rows[0]["paper data"] == "CIFAR10"
    assert float(rows[0]["p"]) == pytest.approx(2 * exceeds(good["a"], good["b"]).p, rel=1e-2)  # Holm over two
    assert rows[2]["measured"] == "needs CIFAR10 and 600 epochs" and rows[2]["p"] == "" and rows[2]["measured on"] == "-"
    assert report_rows(claims, {})[0]["verdict"] == NOT_TESTABLE  # nothing measured yet


def test_against_one_fixed_value_the_test_is_one_sample():
    under = exceeds([600 - m for m in (510, 520, 531)], 0.0, a_name="limit minus mult-adds")  # Table 5's cells
    assert under.status == REPRODUCED and under.test == "one-sample one-sided t" and under.n == "3, -"
    assert under.p == pytest.approx(stats.ttest_1samp([90, 80, 69], 0.0, alternative="greater").pvalue)
    assert exceeds([600 - m for m in (640, 650, 660)], 0.0).status == CONTRADICTED
