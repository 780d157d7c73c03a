"""The reproduction report: every claim of the paper the course can test, beside what the runs
measured and a verdict computed from them (:mod:`sdas_lib.core.verdicts`), never typed by hand.

:func:`collect_results` reads a course's runs folder (the sweep's ``search-<schedule>-s<seed>`` and
``retrain-<schedule>-s<seed>`` folders); :data:`CLAIMS` judge those results; a claim whose runs are
missing is "not testable" and names the notebook that makes them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .core import paper
from .core.counting import count_valid_architectures
from .core.discretization import DiscretizationState
from .core.history import counts_at, load_history
from .core.space import IMAGE_SPACE
from .core.verdicts import NOT_REPRODUCED, REPRODUCED, Claim, Verdict, equals, exceeds, not_testable, report_rows, within

SCHEDULES = ("das", "A", "B", "C")
FOLDER = re.compile(r"^(search|retrain)-(das|A|B|C)-s(\d+)$")


def collect_results(runs_dir: str | os.PathLike) -> dict:
    """What the finished runs in ``runs_dir`` measured, per schedule (lists over seeds).

    Returns ``{"search": {schedule: {column: [values]}}, "retrain": {...}, "histories": {schedule: folder},
    "datasets": set of data set descriptions}``; unfinished runs are left out.
    """
    from .run.sweep import retrain_outputs, search_outputs

    out = {"search": {}, "retrain": {}, "histories": {}, "datasets": set()}
    for folder in sorted(Path(runs_dir).glob("*-s*")) if Path(runs_dir).is_dir() else []:
        m = FOLDER.match(folder.name)
        if not m:
            continue
        kind, schedule, seed = m.group(1), m.group(2), int(m.group(3))
        try:
            if kind == "search" and (folder / "genotype.json").is_file():
                values = search_outputs(folder)
                out["histories"].setdefault(schedule, folder)
                out["datasets"].add(values.pop("dataset"))
                values.pop("genotype")
            elif kind == "retrain" and (folder / "result.json").is_file():
                values = retrain_outputs(folder)
                values.pop("retrain_dataset")
            else:
                continue
        except Exception:  # a half-written or foreign folder: not a result
            continue
        for key, v in values.items():
            out[kind].setdefault(schedule, {}).setdefault(key, []).append(v)
    return out


def _values(results: dict, kind: str, schedule: str, key: str) -> list | None:
    return results[kind].get(schedule, {}).get(key)


def _missing(what: str, notebook: str) -> Verdict:
    return not_testable(f"no {what} in the runs folder yet: run notebook {notebook}")


def _table1_start(results: dict) -> Verdict:
    return within(count_valid_architectures(DiscretizationState(IMAGE_SPACE)), 1.07e18, 0.01,
                  what="valid architectures, normal and reduction cell")


def _table1_end(results: dict) -> Verdict:
    folder = results["histories"].get("A")
    if folder is None:
        return _missing("SDAS-A search", "02 or 04")
    counts = [d.valid_architectures for d in load_history(folder).decisions]
    if any(a < b for a, b in zip(counts, counts[1:])):
        return Verdict(NOT_REPRODUCED, "the count rose during the search")
    return equals(counts[-1], 1, what="valid architectures after the last decision")


def _table1_row(fraction: float) -> "callable":
    def judge(results: dict) -> Verdict:
        folder = results["histories"].get("A")
        if folder is None:
            return _missing("SDAS-A search", "02 or 04")
        row = counts_at(load_history(folder), [fraction])[0]
        v = within(row["valid_architectures"], paper.TABLE1_SDAS_A[fraction], 0.5, what=f"count at t/T = {fraction}")
        note = f" ({row['decisions']} decisions made by then; {paper.TABLE1_NOTE.split(';')[0]})" if fraction == 0.1 else ""
        return Verdict(v.status, v.reason + note)

    return judge


def _gap_das(results: dict) -> Verdict:
    relaxed, discrete = (_values(results, "search", "das", k) for k in ("test_acc_relaxed", "test_acc_discrete"))
    if not relaxed:
        return _missing("DAS search", "04")
    return exceeds(relaxed, discrete, a_name="DAS relaxed", b_name="DAS discrete")


def _gap_sdas(results: dict) -> Verdict:
    das = _values(results, "search", "das", "test_acc_discrete")
    sdas = _values(results, "search", "A", "test_acc_discrete")
    if not das or not sdas:
        return _missing("DAS and SDAS-A searches", "04")
    return exceeds(sdas, das, a_name="SDAS-A discrete", b_name="DAS discrete")


def _cost(schedule: str):
    def judge(results: dict) -> Verdict:
        das, mine = (_values(results, "search", s, "search_seconds") for s in ("das", schedule))
        if not das or not mine:
            return _missing(f"DAS and SDAS-{schedule} searches", "04")
        faster = exceeds(das, mine, a_name="DAS seconds", b_name=f"SDAS-{schedule} seconds")
        ratio = sum(mine) / len(mine) / (sum(das) / len(das))
        v = within(ratio, paper.search_cost_ratio(schedule), 0.25, what=f"SDAS-{schedule} cost / DAS")
        status = faster.status if faster.status != REPRODUCED else v.status  # both must hold
        return Verdict(status, f"{faster.reason}; {v.reason}")

    return judge


def _error(results: dict) -> Verdict:
    groups = {s: _values(results, "retrain", s, "test_acc") for s in SCHEDULES}
    if not groups["das"] or not any(groups[s] for s in ("A", "B", "C")):
        return _missing("retrained DAS and SDAS cells", "04")
    best = max((s for s in ("A", "B", "C") if groups[s]), key=lambda s: sum(groups[s]) / len(groups[s]))
    v = exceeds(groups[best], groups["das"], a_name=f"SDAS-{best} test accuracy", b_name="DAS test accuracy")
    return Verdict(v.status, f"best schedule SDAS-{best}: {v.reason}")


def _b_lowest(results: dict) -> Verdict:
    groups = {s: _values(results, "retrain", s, "test_acc") for s in ("A", "B", "C")}
    if not all(groups.values()):
        return _missing("retrained SDAS-A, B and C cells", "04")
    rival = max(("A", "C"), key=lambda s: sum(groups[s]) / len(groups[s]))
    return exceeds(groups["B"], groups[rival], a_name="SDAS-B test accuracy", b_name=f"SDAS-{rival} (the better rival)")


def _mobile(results: dict) -> Verdict:
    from .run.tables import imagenet_mobile_sizes

    folders = [Path(results["histories"][s]) / "genotype.json" for s in SCHEDULES if s in results["histories"]]
    if not folders:
        return _missing("search", "04")
    sizes = imagenet_mobile_sizes(folders)
    worst = max(r["mult_adds"] for r in sizes)
    status = REPRODUCED if worst < 600e6 else NOT_REPRODUCED
    return Verdict(status, f"largest of {len(sizes)} found cells: {worst / 1e6:.0f}M mult-adds at 224x224 (limit 600M); "
                           f"params {min(r['params'] for r in sizes) / 1e6:.2f}-{max(r['params'] for r in sizes) / 1e6:.2f}M")


CLAIMS: tuple[Claim, ...] = (
    Claim("space", "Table 1", "The DARTS space holds about 1.07e18 valid architectures", "1.07e18", _table1_start),
    Claim("space_end", "Table 1", "Scheduled decisions shrink the space to one architecture at t = T", "1", _table1_end),
    Claim("row_0.1", "Table 1", "SDAS-A's space at t/T = 0.1", "9.90e16", _table1_row(0.1)),
    Claim("row_0.5", "Table 1", "SDAS-A's space at t/T = 0.5", "2.49e10", _table1_row(0.5)),
    Claim("gap_das", "Table 2", "DAS's discrete network is much worse than its relaxed one (search weights)",
          "87.67% -> 54.66%", _gap_das),
    Claim("gap_sdas", "Table 2", "SDAS's discrete network keeps more accuracy than DAS's", "SDAS-A relaxed 92.02%", _gap_sdas),
    Claim("cost_A", "Table 4", "SDAS-A searches faster than DAS, at about 0.60 of its cost", "0.31 / 0.52 GPU days", _cost("A")),
    Claim("cost_B", "Table 4", "SDAS-B searches faster than DAS, at about 0.71 of its cost", "0.37 / 0.52 GPU days", _cost("B")),
    Claim("cost_C", "Table 4", "SDAS-C searches faster than DAS, at about 0.48 of its cost", "0.25 / 0.52 GPU days", _cost("C")),
    Claim("error", "Table 4", "The best SDAS schedule's cells retrain to a lower error than DAS's", "2.74% vs 2.93%", _error),
    Claim("b_best", "Table 4", "SDAS-B gives the lowest error of the three schedules", "2.74% (A 2.81, C 2.84)", _b_lowest),
    Claim("cifar_error", "Table 4", "SDAS-B reaches 2.74% test error on CIFAR10", "2.74 ± 0.11%",
          lambda r: not_testable("needs CIFAR10 and 600 epochs of retraining at K=6, C1=108, C2=144 (a GPU)")),
    Claim("mobile", "Table 5", "The found cells fit the mobile setting (< 600M mult-adds at 224x224)", "510-531M", _mobile),
    Claim("imagenet", "Table 5", "SDAS-B reaches 26.6% top-1 error on ImageNet", "26.6%",
          lambda r: not_testable("needs ImageNet and 250 epochs on GPUs")),
    Claim("video", "Tables 6-10", "Video claims (O3D over O2D, Kinetics10, transfer)", "see the paper",
          lambda r: not_testable("the video notebook (05) comes with the video issue")),
)


def reproduction_report(runs_dir: str | os.PathLike):
    """A DataFrame: one row per claim with its source, the paper's figure, the verdict and the measurement."""
    import pandas as pd

    results = collect_results(runs_dir)
    return pd.DataFrame(report_rows(CLAIMS, results))


__all__ = ["CLAIMS", "collect_results", "reproduction_report"]
