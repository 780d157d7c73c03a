"""The reproduction report: every claim of the paper the course can test, beside what the runs
measured and a verdict computed from them (:mod:`sdas_lib.core.verdicts`), never typed by hand.

:func:`collect_results` reads a course's runs folder (the sweep's ``search-<schedule>-s<seed>`` and
``retrain-<schedule>-s<seed>`` folders) and its ``video`` subfolder (notebook 05's
``search-<schedule>-<op set>-s<seed>``, ``transfer-<schedule>-<op set>-s<seed>`` and
``baseline-<arch>-s<seed>`` folders); :data:`CLAIMS` judge those results; a claim whose runs are
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
from .core.verdicts import (
    NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED, Claim, Verdict, equals, exceeds, not_testable, report_rows, within,
)

SCHEDULES = ("das", "A", "B", "C")
FOLDER = re.compile(r"^(search|retrain)-(das|A|B|C)-s(\d+)$")
VIDEO_FOLDER = re.compile(r"^(search|retrain|transfer)-(das|A|B|C)-(o2d|o3d|oadv)-s(\d+)$")
BASELINE_FOLDER = re.compile(r"^baseline-([a-z0-9]+-[23]d)-s(\d+)$")
VIDEO_DIR = "video"  # notebook 05's runs, under the course's runs folder


def _finished(folder: Path, search: bool) -> tuple[dict, str] | None:
    """A finished run folder's outputs (a search's or a retraining's, as the sweep reads them) without
    their genotype and data set, and the data set's description; None for an unfinished, half-written
    or foreign folder."""
    from .run.sweep import retrain_outputs, search_outputs

    if not (folder / ("genotype.json" if search else "result.json")).is_file():
        return None
    try:
        values = search_outputs(folder) if search else retrain_outputs(folder)
    except Exception:  # a half-written or foreign folder: not a result
        return None
    values.pop("genotype", None)
    return values, values.pop("dataset" if search else "retrain_dataset")


def _add(table: dict, key, values: dict) -> None:
    for column, v in values.items():
        table.setdefault(key, {}).setdefault(column, []).append(v)


def _run_folders(folder: Path) -> list[Path]:
    return sorted(folder.glob("*-s*")) if folder.is_dir() else []


def collect_results(runs_dir: str | os.PathLike) -> dict:
    """What the finished runs in ``runs_dir`` measured, per schedule (lists over seeds).

    Returns ``{"search": {schedule: {column: [values]}}, "retrain": {...}, "histories": {schedule: folder},
    "datasets": set of data set descriptions, "video": ...}`` (``"video"``: :func:`collect_video_results`
    of the ``video`` subfolder); unfinished runs are left out.
    """
    out = {"search": {}, "retrain": {}, "histories": {}, "datasets": set(),
           "video": collect_video_results(Path(runs_dir) / VIDEO_DIR)}
    for folder in _run_folders(Path(runs_dir)):
        m = FOLDER.match(folder.name)
        found = _finished(folder, m.group(1) == "search") if m else None
        if found is None:
            continue
        (values, dataset), kind, schedule = found, m.group(1), m.group(2)
        if kind == "search":
            out["histories"].setdefault(schedule, folder)
            out["datasets"].add(dataset)
        _add(out[kind], schedule, values)
    return out


def collect_video_results(video_dir: str | os.PathLike) -> dict:
    """What notebook 05's finished runs measured: ``{"search": {(schedule, op): {column: [values]}},
    "retrain": {...}, "transfer": {...}, "baseline": {arch: {...}}, "datasets": set}`` (op: o2d, o3d, oadv)."""
    out = {"search": {}, "retrain": {}, "transfer": {}, "baseline": {}, "datasets": set()}
    for folder in _run_folders(Path(video_dir)):
        m, b = VIDEO_FOLDER.match(folder.name), BASELINE_FOLDER.match(folder.name)
        if m:
            kind, key = m.group(1), (m.group(2), m.group(3))
        elif b:
            kind, key = "baseline", b.group(1)
        else:
            continue
        found = _finished(folder, kind == "search")
        if found is not None:
            out["datasets"].add(found[1])
            _add(out[kind], key, found[0])
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


def _video(results: dict, kind: str, key, column: str) -> list | None:
    return results["video"][kind].get(key, {}).get(column)


def _acc(results: dict, schedule: str, op: str) -> list | None:
    """Test accuracy of the found video cells retrained from scratch (Table 6's error column)."""
    return _video(results, "retrain", (schedule, op), "test_acc")


def _o3d_over_o2d(schedule: str):
    def judge(results: dict) -> Verdict:
        o3d, o2d = _acc(results, schedule, "o3d"), _acc(results, schedule, "o2d")
        if not o3d or not o2d:
            return _missing(f"retrained {'DAS' if schedule == 'das' else 'SDAS-' + schedule} video cells of O2D and O3D", "05")
        name = "DAS" if schedule == "das" else f"SDAS-{schedule}"
        return exceeds(o3d, o2d, a_name=f"{name} O3D accuracy", b_name=f"{name} O2D accuracy")

    return judge


def _video_cost(results: dict) -> Verdict:
    ops = [op for op in ("o2d", "o3d", "oadv") if _video(results, "search", ("das", op), "search_seconds")
           and _video(results, "search", ("C", op), "search_seconds")]
    if len(ops) < 3:
        return _missing(f"DAS and SDAS-C video searches on every op set (have: {', '.join(ops) or 'none'})", "05")
    verdicts = [exceeds(_video(results, "search", ("das", op), "search_seconds"),
                        _video(results, "search", ("C", op), "search_seconds"),
                        a_name=f"DAS {op} seconds", b_name=f"SDAS-C {op} seconds") for op in ops]
    statuses = {v.status for v in verdicts}
    status = NOT_REPRODUCED if NOT_REPRODUCED in statuses else (REPRODUCED if statuses == {REPRODUCED} else NOT_TESTABLE)
    return Verdict(status, "; ".join(v.reason for v in verdicts))


def _video_sdas_over_das(results: dict) -> Verdict:
    c, das = _acc(results, "C", "oadv"), _acc(results, "das", "oadv")
    if not c or not das:
        return _missing("retrained DAS and SDAS-C video cells of Oadv", "05")
    return exceeds(c, das, a_name="SDAS-C Oadv accuracy", b_name="DAS Oadv accuracy")


def _oadv_over_o3d(results: dict) -> Verdict:
    adv, o3d = _acc(results, "C", "oadv"), _acc(results, "C", "o3d")
    if not adv or not o3d:
        return _missing("retrained SDAS-C video cells of O3D and Oadv", "05")
    return exceeds(adv, o3d, a_name="SDAS-C Oadv accuracy", b_name="SDAS-C O3D accuracy")


def _transfer(results: dict) -> Verdict:
    c, das = (_video(results, "transfer", (s, "oadv"), "test_acc") for s in ("C", "das"))
    if not c or not das:
        return _missing("transfer retrainings of the DAS and SDAS-C Oadv cells", "05")
    return exceeds(c, das, a_name="SDAS-C cells, fine labels", b_name="DAS cells, fine labels")


def _over_baseline(results: dict) -> Verdict:
    c = _video(results, "transfer", ("C", "oadv"), "test_acc")
    base = results["video"]["baseline"].get("res50-3d", {}).get("test_acc")
    if not c or not base:
        return _missing("SDAS-C transfer retrainings and the res50-3d baseline", "05")
    return exceeds(c, base, a_name="SDAS-C cells", b_name="res50-3d (Fig. 10)")


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
    Claim("video_o3d_das", "Table 6", "DAS's cells searched on O3D beat those searched on O2D", "10.88% vs 11.67% error",
          _o3d_over_o2d("das")),
    Claim("video_o3d_sdas", "Table 6", "SDAS-C's cells searched on O3D beat those searched on O2D", "10.58% vs 10.93% error",
          _o3d_over_o2d("C")),
    Claim("video_cost", "Table 6", "SDAS-C searches faster than DAS on every video op set", "2.3-3.5 vs 6.8-9.9 GPU days",
          _video_cost),
    Claim("video_sdas", "Table 6", "On Oadv, SDAS-C's cells beat DAS's", "10.22% vs 11.49% error", _video_sdas_over_das),
    Claim("video_oadv", "Table 6", "With SDAS-C, Oadv beats O3D", "10.22% vs 10.58% error", _oadv_over_o3d),
    Claim("video_transfer", "Table 10", "SDAS-C's cells transfer to the larger label set better than DAS's",
          "74.2% vs 73.3% top-1 (Kinetics-400)", _transfer),
    Claim("video_baseline", "Table 8", "SDAS-C's cells beat the hand-crafted Res50-3D (here: both trained on the fine labels)",
          "10.22% vs 11.74% error (Kinetics10)",
          _over_baseline),
    Claim("video_kinetics", "Tables 6-11", "The video errors on Kinetics10 and Kinetics-400", "10.22% (SDAS-C, Oadv)",
          lambda r: not_testable("needs Kinetics and GPUs (96 epochs of 16x112x112 clips); notebook 05 runs on it with "
                                 "the data in data_root")),
)


def reproduction_report(runs_dir: str | os.PathLike):
    """A DataFrame: one row per claim with its source, the paper's figure, the verdict and the measurement."""
    import pandas as pd

    results = collect_results(runs_dir)
    return pd.DataFrame(report_rows(CLAIMS, results))


__all__ = ["CLAIMS", "collect_results", "collect_video_results", "reproduction_report"]
