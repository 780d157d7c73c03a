"""The reproduction report's verdicts come from numbers: reproduced, not reproduced, not testable."""

import pytest

from sdas_lib.core.verdicts import (
    NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED, Claim, equals, exceeds, not_testable, report_rows, within,
)


def test_a_difference_larger_than_one_standard_deviation_is_reproduced():
    v = exceeds([0.95, 0.96, 0.97], [0.10, 0.11, 0.12], a_name="SDAS", b_name="DAS")
    assert v.status == REPRODUCED and "SDAS 0.96 ± 0.01 against DAS 0.11 ± 0.01 (n = 3, 3)" in v.reason


def test_a_difference_within_the_noise_is_not_reproduced():
    v = exceeds([0.90, 0.97, 0.83], [0.88, 0.89, 0.90])  # mean 0.9 vs 0.89, std 0.07
    assert v.status == NOT_REPRODUCED and "within one standard deviation" in v.reason
    assert exceeds([0.5, 0.6], [0.7, 0.8]).status == NOT_REPRODUCED
    assert "not larger" in exceeds([0.5, 0.6], [0.7, 0.8]).reason


def test_too_few_measurements_are_not_testable():
    v = exceeds([0.9], [0.1, 0.2], a_name="SDAS", b_name="DAS")
    assert v.status == NOT_TESTABLE and "have 1 of SDAS, 2 of DAS" in v.reason
    assert exceeds(None, [0.1, 0.2]).status == NOT_TESTABLE
    assert exceeds([float("nan"), 0.9], [0.1, 0.2]).status == NOT_TESTABLE  # NaN is no measurement


def test_exact_and_approximate_values():
    assert equals(1_037_664_180**2, 1_076_746_950_455_072_400, what="valid architectures").status == REPRODUCED
    assert equals(3, 4).status == NOT_REPRODUCED and equals(None, 4).status == NOT_TESTABLE
    assert within(0.26, 0.48, 0.2, what="cost ratio").status == NOT_REPRODUCED
    assert within(0.45, 0.48, 0.1).status == REPRODUCED
    assert within(None, 0.48, 0.1).status == NOT_TESTABLE


def test_report_rows_judge_each_claim_on_the_results():
    claims = [
        Claim("gap", "Table 2", "DAS loses accuracy when discretized", "87.67% -> 54.66%",
              lambda r: exceeds(r.get("das_relaxed"), r.get("das_discrete"))),
        Claim("cifar", "Table 4", "2.5% error on CIFAR10", "2.5%", lambda r: not_testable("needs CIFAR10 and 600 epochs")),
    ]
    rows = report_rows(claims, {"das_relaxed": [0.98, 0.98, 0.99], "das_discrete": [0.1, 0.11, 0.1]})
    assert [(r["claim"], r["verdict"]) for r in rows] == [("gap", REPRODUCED), ("cifar", NOT_TESTABLE)]
    assert rows[1]["measured"] == "needs CIFAR10 and 600 epochs" and rows[0]["source"] == "Table 2"
    assert report_rows(claims, {})[0]["verdict"] == NOT_TESTABLE  # nothing measured yet
