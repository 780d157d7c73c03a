"""Verdicts on the paper's claims, each from a stated statistical test over the seeds.

The reproduction report (notebook 07) states each claim of the paper that the course can test,
what the runs measured, and a verdict computed here from the numbers, never typed by hand. There
are five verdicts:

- :data:`REPRODUCED`: the test shows the claim at level :data:`ALPHA` (0.05);
- :data:`CONTRADICTED`: the test shows the opposite at the same level;
- :data:`INCONCLUSIVE`: neither: the seeds alone could make the difference measured;
- :data:`NOT_TESTABLE`: something the test needs is missing (data, scale, runs), named in the reason;
- :data:`BY_CONSTRUCTION`: true of any run, such as the space ending at one architecture; shown,
  never counted as a reproduction.

The tests:

- :func:`exceeds` ("A is larger than B"): Welch's one-sided t-test (unequal variances; against one
  fixed value, such as a limit, the one-sample t-test), reproduced when p < 0.05, contradicted when the
  one-sided test of the opposite direction has p < 0.05;
- :func:`equivalent` ("A equals B", "A matches a prediction"): two one-sided tests (TOST) against
  a margin stated in the claim: reproduced when the difference is shown to lie inside ±margin,
  contradicted when it is shown to lie outside;
- :func:`holm`: claims tested together as one family (A, B and C each against DAS) share the error
  rate: Holm's step-down correction of their p-values.

Each verdict also carries what ``measured`` prints: n, the difference of the means, the p-value and
the minimum detectable effect: the smallest true difference this n and spread would show at level
0.05 with power 0.8 (for an equivalence: the smallest margin it could establish when the true
difference is 0). A claim is only as testable as its seeds make it: few seeds or a wide spread
make that effect large, and a real but smaller difference then comes out inconclusive.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"
NOT_TESTABLE, BY_CONSTRUCTION = "not testable", "by construction"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, BY_CONSTRUCTION)
ALPHA = 0.05  # the level of every test
POWER = 0.8  # the power behind the minimum detectable effect


@dataclass(frozen=True)
class Verdict:
    """A claim's status (one of :data:`VERDICTS`), why, and the test's figures where one was run.

    Args:
        test: the test's name (``"Welch one-sided t"``, ``"TOST ±0.02"``, ``"exact"``), "" without one.
        n: the number of measurements on each side (``"3, 3"``). difference: mean of A minus mean of B.
        p: the test's p-value (Holm-adjusted inside a family). mde: the minimum detectable effect.
        p_opposite: the p-value of the opposite claim (A < B; outside the margin), which decides
            :data:`CONTRADICTED`.
    """

    status: str
    reason: str
    test: str = ""
    n: str = ""
    difference: float | None = None
    p: float | None = None
    mde: float | None = None
    p_opposite: float | None = None


def _finite(values: Sequence[float] | None) -> list[float]:
    return [float(v) for v in (values or []) if v is not None and math.isfinite(float(v))]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    v = _finite(values)
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def not_testable(reason: str) -> Verdict:
    return Verdict(NOT_TESTABLE, reason)


def by_construction(reason: str) -> Verdict:
    return Verdict(BY_CONSTRUCTION, reason)


@dataclass(frozen=True)
class _Difference:
    """mean(a) - mean(b), its standard error and Welch–Satterthwaite degrees of freedom (b may be one
    fixed value: a one-sample test)."""

    diff: float
    se: float
    df: float


def _difference(va: list[float], vb: list[float] | float) -> _Difference:
    (ma, sa) = mean_std(va)
    if isinstance(vb, list):
        mb, sb = mean_std(vb)
        qa, qb = sa**2 / len(va), sb**2 / len(vb)
        se = math.sqrt(qa + qb)
        df = (qa + qb) ** 2 / (qa**2 / (len(va) - 1) + qb**2 / (len(vb) - 1)) if se > 0 else len(va) + len(vb) - 2
    else:
        mb, se, df = float(vb), sa / math.sqrt(len(va)), len(va) - 1
    return _Difference(ma - mb, se, df)


def _p_greater(d: _Difference, shift: float = 0.0) -> float:
    """One-sided p of "true difference > shift" (Welch's t; 0 or 1 when both spreads are 0)."""
    from scipy import stats

    if d.se == 0:
        return 0.0 if d.diff > shift else 1.0
    return float(stats.t.sf((d.diff - shift) / d.se, d.df))


def _p_less(d: _Difference, shift: float = 0.0) -> float:
    from scipy import stats

    if d.se == 0:
        return 0.0 if d.diff < shift else 1.0
    return float(stats.t.cdf((d.diff - shift) / d.se, d.df))


def minimum_detectable_effect(d: _Difference, equivalence: bool = False) -> float:
    """(t_{1-α} + t_{power}) · se: the smallest true difference a one-sided test finds with probability
    :data:`POWER`; for an equivalence t_{(1+power)/2} replaces t_{power} (the smallest margin it establishes
    when the true difference is 0)."""
    from scipy import stats

    q = (1 + POWER) / 2 if equivalence else POWER
    return float((stats.t.ppf(1 - ALPHA, d.df) + stats.t.ppf(q, d.df)) * d.se)


def _status(p: float, p_opposite: float) -> str:
    return REPRODUCED if p < ALPHA else CONTRADICTED if p_opposite < ALPHA else INCONCLUSIVE


def _words(status: str, p: float, p_opposite: float) -> str:
    if status == REPRODUCED:
        return f"shown at p = {p:.3g} < {ALPHA}"
    if status == CONTRADICTED:
        return f"the opposite is shown (p = {p_opposite:.3g} < {ALPHA})"
    return f"p = {p:.3g}, opposite p = {p_opposite:.3g}: the seeds alone could make this difference"


def _too_few(va, vb, min_n: int, a_name: str, b_name: str) -> Verdict | None:
    if len(va) < min_n or len(vb) < min_n:
        return not_testable(f"needs at least {min_n} measurements of each; have {len(va)} of {a_name}, {len(vb)} of {b_name}")
    return None


def _one_value(b) -> bool:
    return b is not None and not isinstance(b, (list, tuple)) and not hasattr(b, "__len__")


def _pair(a, b, min_n: int, a_name: str, b_name: str):
    """The two sides of a claim: (difference, whether ``b`` is one fixed value, "A m ± s against B ...", "n, n"),
    or the "not testable" verdict when a side has fewer than ``min_n`` finite measurements."""
    va = _finite(a)
    one = _one_value(b)
    vb: list[float] | float = float(b) if one else _finite(b)
    if (missing := _too_few(va, [vb] * min_n if one else vb, min_n, a_name, b_name)) is not None:
        return missing
    ma, sa = mean_std(va)
    against = f"{b_name} {vb:.4g}" if one else "{} {:.4g} ± {:.2g}".format(b_name, *mean_std(vb))
    return _difference(va, vb), one, f"{a_name} {ma:.4g} ± {sa:.2g} against {against}", f"{len(va)}, {'-' if one else len(vb)}"


def exceeds(a: Sequence[float] | None, b: Sequence[float] | float | None, *, a_name: str = "A", b_name: str = "B",
            min_n: int = 2) -> Verdict:
    """Claim: ``a`` is larger than ``b`` (lists of measurements, one per seed; or ``b`` one fixed value, such as
    a limit: a one-sample test): Welch's one-sided t-test."""
    pair = _pair(a, b, min_n, a_name, b_name)
    if isinstance(pair, Verdict):
        return pair
    d, one, sides, n = pair
    p, p_opp = _p_greater(d), _p_less(d)
    status, mde = _status(p, p_opp), minimum_detectable_effect(d)
    reason = (f"{sides} (n = {n}): difference {d.diff:.3g}, minimum detectable effect {mde:.3g}; "
              f"{_words(status, p, p_opp)}")
    return Verdict(status, reason, "Welch one-sided t" if not one else "one-sample one-sided t", n, d.diff, p, mde, p_opp)


def equivalent(a: Sequence[float] | None, b: Sequence[float] | float | None, margin: float, *, a_name: str = "A",
               b_name: str = "B", min_n: int = 2) -> Verdict:
    """Claim: ``a`` equals ``b`` (a list, or one predicted value) within ±``margin``: two one-sided tests (TOST).

    Reproduced when both "difference > -margin" and "difference < margin" are shown (p, the larger of the
    two, < 0.05); contradicted when the difference is shown to lie beyond the margin on one side.
    """
    pair = _pair(a, b, min_n, a_name, b_name)
    if isinstance(pair, Verdict):
        return pair
    d, _, sides, n = pair
    p = max(_p_greater(d, -margin), _p_less(d, margin))
    p_opp = min(_p_greater(d, margin), _p_less(d, -margin))
    status, mde = _status(p, p_opp), minimum_detectable_effect(d, equivalence=True)
    reason = (f"{sides} (n = {n}): difference {d.diff:.3g}, margin ±{margin:g}, "
              f"smallest margin these seeds could establish {mde:.3g}; {_words(status, p, p_opp)}")
    return Verdict(status, reason, f"TOST ±{margin:g}", n, d.diff, p, mde, p_opp)


def holm(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Holm's step-down correction over one family of tested claims; untested ones pass unchanged.

    The i-th smallest of m p-values is multiplied by (m - i + 1), kept non-decreasing, capped at 1;
    the opposite p-values (which decide "contradicted") are corrected the same way, apart.
    """
    tested = [i for i, v in enumerate(verdicts) if v.p is not None]

    def adjusted(ps: list[float]) -> list[float]:
        m, out, running = len(ps), [0.0] * len(ps), 0.0
        for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
            running = max(running, min(1.0, (m - rank) * ps[i]))
            out[i] = running
        return out

    p = adjusted([verdicts[i].p for i in tested])
    q = adjusted([verdicts[i].p_opposite for i in tested])
    out = list(verdicts)
    for k, i in enumerate(tested):
        v = verdicts[i]
        status = _status(p[k], q[k])
        head = v.reason.rsplit("; ", 1)[0]
        out[i] = replace(v, status=status, p=p[k], p_opposite=q[k], test=f"{v.test}, Holm over {len(tested)}",
                         reason=f"{head}; {_words(status, p[k], q[k])} (Holm-adjusted over {len(tested)})")
    return out


def equals(measured, expected, *, what: str = "value", status_if_equal: str = REPRODUCED) -> Verdict:
    """Claim: ``measured`` equals ``expected`` exactly (None measured: not testable)."""
    if measured is None:
        return not_testable(f"no {what} was measured")
    shown = f"{measured:,}" if isinstance(measured, int) else repr(measured)
    if measured == expected:
        return Verdict(status_if_equal, f"{what} {shown} equals the paper's", "exact")
    return Verdict(CONTRADICTED, f"{what} {shown} differs from the paper's {expected!r}", "exact")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper that the course tests.

    Args:
        key: a short identifier. source: where the paper makes it (``"Table 2, §4"``). text: the
            paper's own words, quoted. paper: the paper's figure, as text. judge: results ->
            :class:`Verdict` (missing results give :func:`not_testable` naming what is missing and
            which notebook makes them). data: the paper's data set (``"CIFAR10"``). ours: which of our
            runs it is judged on, a key of ``report_rows``' ``measured_on`` (``"image"``, ``"video"``), or ``""``. family: claims of one
            family are corrected together (:func:`holm`); ``""`` for none.
    """

    key: str
    source: str
    text: str
    paper: str
    judge: Callable[[Mapping], Verdict]
    data: str = ""
    ours: str = ""
    family: str = ""


def _number(x: float | None) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.3g}"


def report_rows(claims: Sequence[Claim], results: Mapping, measured_on: Mapping[str, str] | None = None) -> list[dict]:
    """One row per claim: source, the paper's words and figure, the data sets (the paper's; ours with its
    scale from ``measured_on[claim.ours]``), the verdict, the test, n, difference, p, minimum detectable
    effect, the family and a sentence with the numbers; families get Holm's correction."""
    verdicts = {c.key: c.judge(results) for c in claims}
    for family in dict.fromkeys(c.family for c in claims if c.family):
        keys = [c.key for c in claims if c.family == family]
        for k, v in zip(keys, holm([verdicts[k] for k in keys])):
            verdicts[k] = v
    rows = []
    for c in claims:
        v = verdicts[c.key]
        rows.append({
            "claim": c.key, "source": c.source, "text": c.text, "paper": c.paper, "paper data": c.data,
            "measured on": (measured_on or {}).get(c.ours, "") if c.ours else "-",
            "verdict": v.status, "test": v.test, "n": v.n, "difference": _number(v.difference), "p": _number(v.p),
            "min. detectable effect": _number(v.mde), "family": c.family, "measured": v.reason,
        })
    return rows


__all__ = [
    "REPRODUCED", "CONTRADICTED", "INCONCLUSIVE", "NOT_TESTABLE", "BY_CONSTRUCTION", "VERDICTS", "ALPHA", "POWER",
    "Verdict", "Claim", "exceeds", "equivalent", "holm", "equals", "not_testable", "by_construction", "mean_std",
    "minimum_detectable_effect", "report_rows",
]
