"""Verdicts on the paper's claims: reproduced, not reproduced, or not testable at this scale.

The reproduction report (notebook 07) states each claim of the paper that the course can test,
what this run measured, and a verdict computed here from the numbers, never typed by hand:

- :func:`exceeds`: "A is larger than B" (e.g. SDAS's test accuracy beats DAS's, DAS's relaxed
  accuracy beats its discrete one). Reproduced when the difference of the means is larger than one
  standard deviation of either group (the larger one): a difference that seeds alone could make
  is not taken as one. Needs at least ``min_n`` values on each side.
- :func:`equals`: an exact value (a count, a size): reproduced when equal.
- :func:`within`: a number near the paper's: reproduced when within a relative tolerance.
- :func:`not_testable`: the claim cannot be tested here, with the reason (missing data, scale).
Each returns a :class:`Verdict` whose ``reason`` quotes the numbers.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE = "reproduced", "not reproduced", "not testable"


@dataclass(frozen=True)
class Verdict:
    """A claim's status (:data:`REPRODUCED`, :data:`NOT_REPRODUCED` or :data:`NOT_TESTABLE`) and why."""

    status: str
    reason: str


def _finite(values: Sequence[float] | None) -> list[float]:
    return [float(v) for v in (values or []) if v is not None and math.isfinite(float(v))]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    v = _finite(values)
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def not_testable(reason: str) -> Verdict:
    return Verdict(NOT_TESTABLE, reason)


def exceeds(a: Sequence[float] | None, b: Sequence[float] | None, *, a_name: str = "A", b_name: str = "B",
            min_n: int = 2) -> Verdict:
    """Claim: ``a`` is larger than ``b`` (each a list of measurements, e.g. one per seed)."""
    va, vb = _finite(a), _finite(b)
    if len(va) < min_n or len(vb) < min_n:
        return not_testable(f"needs at least {min_n} measurements of each; have {len(va)} of {a_name}, {len(vb)} of {b_name}")
    (ma, sa), (mb, sb) = mean_std(va), mean_std(vb)
    margin = max(sa, sb)
    numbers = f"{a_name} {ma:.4g} ± {sa:.2g} against {b_name} {mb:.4g} ± {sb:.2g} (n = {len(va)}, {len(vb)})"
    if ma - mb > margin:
        return Verdict(REPRODUCED, f"{numbers}: the difference {ma - mb:.3g} is larger than one standard deviation ({margin:.2g})")
    if ma > mb:
        return Verdict(NOT_REPRODUCED, f"{numbers}: larger, but by {ma - mb:.3g}, within one standard deviation ({margin:.2g})")
    return Verdict(NOT_REPRODUCED, f"{numbers}: not larger")


def equals(measured, expected, *, what: str = "value") -> Verdict:
    """Claim: ``measured`` equals ``expected`` exactly (None measured: not testable)."""
    if measured is None:
        return not_testable(f"no {what} was measured")
    if measured == expected:
        return Verdict(REPRODUCED, f"{what} {measured:,} equals the paper's" if isinstance(measured, int) else f"{what} equals the paper's")
    return Verdict(NOT_REPRODUCED, f"{what} {measured!r} differs from the paper's {expected!r}")


def within(measured: float | None, paper: float, rel_tol: float, *, what: str = "value") -> Verdict:
    """Claim: ``measured`` is within ``rel_tol`` (relative) of the paper's value."""
    if measured is None or not math.isfinite(float(measured)):
        return not_testable(f"no {what} was measured")
    off = abs(float(measured) - paper) / abs(paper) if paper else abs(float(measured))
    status = REPRODUCED if off <= rel_tol else NOT_REPRODUCED
    return Verdict(status, f"{what} {float(measured):.4g} against the paper's {paper:.4g}: {off:.1%} off (tolerance {rel_tol:.0%})")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper that the course tests.

    Args:
        key: a short identifier. source: where the paper makes it (``"Table 2"``). text: the claim.
        paper: the paper's figure, as text. judge: results -> :class:`Verdict` (missing results
            should give :func:`not_testable` naming what is missing and which notebook makes it).
    """

    key: str
    source: str
    text: str
    paper: str
    judge: Callable[[Mapping], Verdict]


def report_rows(claims: Sequence[Claim], results: Mapping) -> list[dict]:
    """One row per claim: source, claim, the paper's figure, the verdict and its reason."""
    rows = []
    for c in claims:
        v = c.judge(results)
        rows.append({"claim": c.key, "source": c.source, "text": c.text, "paper": c.paper,
                     "verdict": v.status, "measured": v.reason})
    return rows


__all__ = [
    "REPRODUCED", "NOT_REPRODUCED", "NOT_TESTABLE", "Verdict", "Claim", "exceeds", "equals", "within",
    "not_testable", "mean_std", "report_rows",
]
