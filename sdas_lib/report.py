"""The reproduction report: every claim of the paper the course can test, in the paper's words, beside
what the runs measured over all seeds and a verdict from a stated test (:mod:`sdas_lib.core.verdicts`),
never typed by hand.

:func:`collect_results` reads a course's runs folder (the sweep's ``search-<schedule>-s<seed>`` and
``retrain-<schedule>-s<seed>`` folders) and its ``video`` subfolder (notebook 05's
``search-<schedule>-<op set>-s<seed>``, ``retrain-...``, ``transfer-<schedule>-<op set>-s<seed>`` and
``baseline-<arch>-w<width divisor>-s<seed>`` folders), every seed; :data:`CLAIMS` judge those results; a claim whose runs
are missing is "not testable" and names the notebook that makes them.

The families corrected together (Holm): :data:`FAMILIES`. The margins of the equivalence claims:
:data:`GAP_MARGIN` (Table 2) and :data:`RATIO_MARGIN` (search cost against the cost model); what "a
hand-crafted baseline learns" means (Table 8): :data:`LEARN_MARGIN` and :func:`baselines_learning`.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from pathlib import Path

from .core import paper
from .core.counting import count_valid_architectures
from .core.discretization import DiscretizationState
from .core.history import counts_at, history_cost_ratios, load_history
from .core.schedule import get_schedule
from .core.space import IMAGE_SPACE
from .core.verdicts import (
    CONTRADICTED, REPRODUCED, Claim, Verdict, by_construction, equivalent, exceeds, not_testable,
    report_rows,
)

SCHEDULES = ("das", "A", "B", "C")
FOLDER = re.compile(r"^(search|retrain)-(das|A|B|C|random)-s(\d+)$")  # random: Table 4's random cells
# size_K1_C8_C16: a retraining at another network size (Table 7; sweep.sweep_sizes)
VIDEO_FOLDER = re.compile(r"^(search|retrain|transfer|size_K\d+_C\d+_C\d+)-(das|A|B|C|random)-(o2d|o3d|oadv)-s(\d+)$")
# baseline-res50-3d-w4-s0 (sweep.baseline_folder_name); the older baseline-<arch>-s<seed> folders, trained on
# the fine labels at width / 4 before the widths, are not read
BASELINE_FOLDER = re.compile(r"^baseline-([a-z0-9]+-[23]d)-w(\d+)-s(\d+)$")
VIDEO_DIR = "video"  # notebook 05's runs, under the course's runs folder
OP_SETS = ("o2d", "o3d", "oadv")
OP_NAMES = {"o2d": "O2D", "o3d": "O3D", "oadv": "Oadv"}
NAMES = {"das": "DAS", "A": "SDAS-A", "B": "SDAS-B", "C": "SDAS-C", "random": "Random"}

GAP_MARGIN = 0.02  # Table 2's "converges to discrete mode": equal within 2 accuracy points
RATIO_MARGIN = 0.10  # our claim: the measured cost ratio is within ±0.10 of the cost model's
LEARN_MARGIN = 0.05  # a hand-crafted baseline learns: test accuracy shown above chance + 5 points (Table 8)
MOBILE_LIMIT = 600e6  # Table 5's mobile setting: mult-adds at 224×224
FAMILIES = {
    "table4_vs_das": "SDAS-A, B and C each against DAS (Table 4, retrained accuracy)",
    "table4_b_lowest": "SDAS-B against SDAS-A and against SDAS-C (Table 4, retrained accuracy)",
    "search_cost": "SDAS-A, B and C each faster than DAS (search seconds)",
    "table4_vs_random": "DAS, SDAS-A, B and C each against random cells (Table 4, retrained accuracy)",
    "table6_vs_random": "DAS and SDAS-C each against random cells on Oadv (retrained accuracy)",
    "table6_vs_das": "SDAS-C against DAS on O2D, O3D and Oadv (Table 6, retrained accuracy)",
    "table6_o3d": "O3D over O2D, for DAS and for SDAS-C (Table 6)",
    "table6_cost": "SDAS-C faster than DAS on O2D, O3D and Oadv (Table 6)",
    "table6_size": "SDAS-C's cells smaller than DAS's on O2D, O3D and Oadv (Table 6)",
    "table7_size": "each larger network size of SDAS-C's Oadv cells against the next smaller one (Table 7)",
    "planted_vs_das": "SDAS-A, B and C each against DAS (the planted cell recovered, edges with their op kind)",
}
# The planted-cell benchmark's table (benchmarks/planted_recovery.py); the claims judged on it are the project's
# own test of the paper's thesis, not a table of the paper.
PLANTED_CSV = Path(__file__).resolve().parents[1] / "figures" / "planted_recovery.csv"
PLANTED_LEVEL, PLANTED_MEASURE = "kind", "both"  # planted edges kept with the planted op's kind (core/recovery.py)


# -- reading the runs ------------------------------------------------------------------------------


def _finished(folder: Path, search: bool) -> dict | None:
    """A finished run folder's outputs, without its genotype; None while the run does not exist yet or has
    not finished. A finished folder that cannot be read raises :class:`~sdas_lib.errors.SdasError` naming it."""
    from .run.outputs import finished_outputs

    values = finished_outputs(folder, search)
    if values is not None:
        values.pop("genotype", None)
    return values


def _add(table: dict, key, values: dict) -> None:
    for column, v in values.items():
        table.setdefault(key, {}).setdefault(column, []).append(v)


def _run_folders(folder: Path, seeds=None) -> list[Path]:
    """The run folders (``*-s<seed>``) in ``folder``; with ``seeds``, only those of these seeds."""
    found = sorted(folder.glob("*-s*")) if folder.is_dir() else []
    if seeds is None:
        return found
    wanted = {int(s) for s in seeds}
    return [f for f in found if (m := re.search(r"-s(\d+)$", f.name)) and int(m.group(1)) in wanted]


def _scale(values: dict, dataset_key: str) -> str:
    """``"cluttered_digits, preset tiny"``: the data set's short name and, for a search, its preset (the scale)."""
    name = str(values.pop(dataset_key)).split(" (")[0]
    return f"{name}, preset {values.pop('preset_name')}" if "preset_name" in values else name


def collect_planted(path: str | os.PathLike | None = None) -> dict | None:
    """The planted-cell benchmark's recovery per schedule, from its CSV (default :data:`PLANTED_CSV`):
    ``{"recovery": {schedule: [one value per teacher and seed]}, "chance": mean chance level, "scale": "..."}``;
    None when the file does not exist. A file without the benchmark's columns is an error naming it."""
    import csv

    path = Path(path) if path is not None else PLANTED_CSV
    if not path.is_file():
        return None
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["level"] == PLANTED_LEVEL]
        recovery = {}
        for r in rows:
            recovery.setdefault(r["schedule"], []).append(float(r[PLANTED_MEASURE]))
        chance = statistics.mean(float(r[f"chance_{PLANTED_MEASURE}"]) for r in rows) if rows else float("nan")
        teachers = sorted({int(r["teacher"]) for r in rows})
        T = sorted({int(r["T"]) for r in rows})
    except (KeyError, ValueError, OSError) as err:
        from .errors import SdasError

        raise SdasError(f"{str(path)!r} is not the planted-cell benchmark's table ({type(err).__name__} {err}); "
                        f"run benchmarks/planted_recovery.py again to rewrite it") from None
    scale = (f"planted cells of teachers {', '.join(map(str, teachers))} (noise labelled by a teacher network), "
             f"preset micro, T = {', '.join(map(str, T))}") if rows else ""
    return {"recovery": recovery, "chance": chance, "scale": scale}


def collect_results(runs_dir: str | os.PathLike, seeds=None, planted_csv: str | os.PathLike | None = None) -> dict:
    """What the finished runs in ``runs_dir`` measured, per schedule, over every seed (lists in seed order);
    with ``seeds``, over those seeds only (a runs folder can hold more, e.g. after benchmarks/stability.py).

    Returns ``{"search": {schedule: {column: [values]}}, "retrain": {...}, "histories": {schedule: [folders]},
    "genotypes": {schedule: [genotype.json paths]}, "datasets": set of "data set, preset P" (the scale),
    "video": ...}`` (``"video"``: :func:`collect_video_results` of the ``video`` subfolder); unfinished runs
    are left out. ``"planted"``: :func:`collect_planted` of ``planted_csv`` (default :data:`PLANTED_CSV`), or None.
    """
    out = {"search": {}, "retrain": {}, "histories": {}, "genotypes": {}, "datasets": set(),
           "video": collect_video_results(Path(runs_dir) / VIDEO_DIR, seeds), "planted": collect_planted(planted_csv)}
    for folder in _run_folders(Path(runs_dir), seeds):
        m = FOLDER.match(folder.name)
        if m and m.groups()[:2] == ("search", "random"):
            continue  # a random cell's folder: no search to read; its retraining is read below
        values = _finished(folder, m.group(1) == "search") if m else None
        if values is None:
            continue
        kind, schedule = m.group(1), m.group(2)
        if kind == "search":
            out["histories"].setdefault(schedule, []).append(folder)
            out["genotypes"].setdefault(schedule, []).append(folder / "genotype.json")
            out["datasets"].add(_scale(values, "dataset"))
        else:
            values.pop("retrain_dataset")
        _add(out[kind], schedule, values)
    return out


def _classes(result: dict) -> int | None:
    """A retraining's number of classes: result.json's ``num_classes``, or the count its data set's
    description names (``... 10 motion classes)``) in folders written before it was recorded."""
    if result.get("num_classes"):
        return int(result["num_classes"])
    found = re.findall(r"(\d+) (?:[a-z-]+ )?classes", str(result.get("dataset", "")))
    return int(found[-1]) if found else None


def collect_video_results(video_dir: str | os.PathLike, seeds=None) -> dict:
    """What notebook 05's finished runs measured: ``{"search": {(schedule, op): {column: [values]}},
    "retrain": {...}, "transfer": {...}, "baseline": {(arch, width divisor): {...}}, "sizes": {(schedule, op):
    {(K, C1, C2): {...}}}, "datasets": set, "transfer_datasets": set}`` (op: o2d, o3d, oadv; the data sets of
    the searches, and of the transfer retrainings). A baseline's columns add ``chance`` (1 / its classes);
    ``sizes`` holds every retraining on the searches' labels (``retrain-`` and ``size_...-`` folders) by the
    network size its result.json records (Table 7)."""
    import json

    out = {"search": {}, "retrain": {}, "transfer": {}, "baseline": {}, "sizes": {}, "datasets": set(),
           "transfer_datasets": set()}
    for folder in _run_folders(Path(video_dir), seeds):
        m, b = VIDEO_FOLDER.match(folder.name), BASELINE_FOLDER.match(folder.name)
        if m and m.group(1) == "search" and m.group(2) == "random":
            continue  # a random cell's folder: no search to read; its retraining is read
        if m:
            kind, key = m.group(1), (m.group(2), m.group(3))
        elif b:
            kind, key = "baseline", (b.group(1), int(b.group(2)))
        else:
            continue
        values = _finished(folder, kind == "search")
        if values is None:
            continue
        scale = _scale(values, "dataset" if kind == "search" else "retrain_dataset")
        if kind in ("search", "transfer"):  # the retrainings and baselines use the searches' data set
            out["datasets" if kind == "search" else "transfer_datasets"].add(scale)
        if kind in ("retrain", "baseline") or kind.startswith("size_"):
            result = json.loads((folder / "result.json").read_text())
            if kind == "baseline":
                classes = _classes(result)
                values["chance"] = 1 / classes if classes else float("nan")
            else:
                size = tuple(result.get(k) for k in ("K", "C1", "C2"))
                if None not in size:
                    _add(out["sizes"].setdefault(key, {}), size, values)
        if not kind.startswith("size_"):
            _add(out[kind], key, values)
    return out


def measured_on(results: dict) -> dict[str, str]:
    """The data sets and scales the image and video claims were measured on, from the runs' own records."""
    video = results["video"]
    return {"image": "; ".join(sorted(results["datasets"])) or "no runs yet",
            "video": "; ".join(sorted(video["datasets"])) or "no runs yet",
            "video_transfer": "; ".join(sorted(video.get("transfer_datasets", ()))) or "no runs yet",
            "planted": (results.get("planted") or {}).get("scale") or "no benchmark yet"}


def _values(results: dict, kind: str, schedule: str, key: str) -> list | None:
    return results[kind].get(schedule, {}).get(key)


def _missing(what: str, notebook: str) -> Verdict:
    return not_testable(f"no {what} in the runs folder yet: run notebook {notebook}")


# -- Table 1 ---------------------------------------------------------------------------------------


def _table1_start(results: dict) -> Verdict:
    count = count_valid_architectures(DiscretizationState(IMAGE_SPACE))
    return by_construction(f"the DARTS space counts {count:,} = {count:.3g} valid architectures (normal and reduction "
                           f"cell), whatever a run does; the paper prints {paper.TABLE1_SDAS_A[0.0]:.3g}")


def _histories(results: dict, schedules=SCHEDULES) -> list[tuple[Path, object]]:
    return [(f, load_history(f)) for s in schedules for f in results["histories"].get(s, [])]


def _table1_end(results: dict) -> Verdict:
    runs = _histories(results)
    if not runs:
        return _missing("search", "02 or 04")
    wrong = [f.name for f, h in runs if count_valid_architectures(DiscretizationState.from_history(h.space, h.decisions)) != 1]
    if wrong:
        return Verdict(CONTRADICTED, f"{len(wrong)} of {len(runs)} searches end with more than one architecture: "
                                     f"{', '.join(wrong)}", "exact")
    return by_construction(f"every one of the {len(runs)} searches ends at 1 architecture: the schedule makes all "
                           f"M decisions by t = T, whatever α and β learn")


def _table1_row_01(results: dict) -> Verdict:
    M = IMAGE_SPACE.total_decisions
    T = 1000  # any T that 10 divides: ⌊M·t/T⌋ at t = T/10 is ⌊M/10⌋
    floor = get_schedule("A")(T // 10, T, M)
    counts = {}
    for k in (floor, floor + 1):
        counts[k] = [count_valid_architectures(DiscretizationState.from_history(h.space, h.decisions[:k]))
                     for _, h in _histories(results, ("A",))]
    if counts[floor]:
        seen = "; ".join(f"after {k} decisions our SDAS-A searches count {', '.join(f'{c:.3g}' for c in v)}"
                         for k, v in counts.items())
    else:
        seen = "no SDAS-A search yet to count after 3 and 4 decisions (notebook 04)"
    return Verdict(CONTRADICTED, f"schedule A makes ⌊{M}·0.1⌋ = {floor} decisions by t/T = 0.1, while the paper's "
                                 f"{paper.TABLE1_SDAS_A[0.1]:.3g} needs {floor + 1}; {seen}", "the paper's floor rule (exact)")


def table1_rows(results: dict):
    """Table 1's rows beside the counts of every SDAS-A search of the runs (no verdict: the counts depend on
    which decisions a run made, edges or nodes). A DataFrame: t/T, the paper's count, decisions and counts per seed."""
    import pandas as pd

    runs = _histories(results, ("A",))
    rows = []
    for f in sorted(paper.TABLE1_SDAS_A):
        row = {"t/T": f, "paper": f"{paper.TABLE1_SDAS_A[f]:.3g}"}
        for folder, h in runs:
            c = counts_at(h, [f])[0]
            row[folder.name] = f"{c['valid_architectures']:.3g} ({c['decisions']} decisions)"
        rows.append(row)
    return pd.DataFrame(rows)


# -- Table 2 ---------------------------------------------------------------------------------------


def _search_acc(results: dict, schedule: str, which: str) -> list | None:
    return _values(results, "search", schedule, f"test_acc_{which}")


def _t2_sdas_equal(results: dict) -> Verdict:
    discrete, relaxed = _search_acc(results, "A", "discrete"), _search_acc(results, "A", "relaxed")
    if not discrete:
        return _missing("SDAS-A search", "04")
    return equivalent(discrete, relaxed, GAP_MARGIN, a_name="SDAS-A discrete", b_name="SDAS-A relaxed")


def _t2_sdas_highest(results: dict) -> Verdict:
    sdas, das = _search_acc(results, "A", "discrete"), _search_acc(results, "das", "relaxed")
    if not sdas or not das:
        return _missing("DAS and SDAS-A searches", "04")
    return exceeds(sdas, das, a_name="SDAS-A discrete", b_name="DAS relaxed")


def _t2_das_gap(results: dict) -> Verdict:
    relaxed, discrete = _search_acc(results, "das", "relaxed"), _search_acc(results, "das", "discrete")
    if not relaxed:
        return _missing("DAS search", "04")
    return exceeds(relaxed, discrete, a_name="DAS relaxed", b_name="DAS discrete")


# -- Table 4 ---------------------------------------------------------------------------------------


def _retrained(a: str, b: str):
    def judge(results: dict) -> Verdict:
        va, vb = _values(results, "retrain", a, "test_acc"), _values(results, "retrain", b, "test_acc")
        if not va or not vb:
            return _missing(f"retrained {NAMES[a]} and {NAMES[b]} cells", "04")
        return exceeds(va, vb, a_name=f"{NAMES[a]} test accuracy", b_name=f"{NAMES[b]} test accuracy")

    return judge


def _search_cost(das: dict, mine: dict) -> tuple[list | None, list | None, str]:
    """Both sides' search cost, and its unit: CPU seconds of the search iterations when every run recorded
    them (another process on the cores barely changes them), else wall seconds (run folders written before
    iterations.csv had a ``cpu_seconds`` column)."""
    cpu_a, cpu_b = das.get("search_cpu_seconds"), mine.get("search_cpu_seconds")
    if cpu_a and cpu_b and all(math.isfinite(x) for x in (*cpu_a, *cpu_b)):
        return cpu_a, cpu_b, "CPU seconds"
    return das.get("search_seconds"), mine.get("search_seconds"), "wall seconds"


def _faster(schedule: str):
    def judge(results: dict) -> Verdict:
        das, mine, unit = _search_cost(results["search"].get("das", {}), results["search"].get(schedule, {}))
        if not das or not mine:
            return _missing(f"DAS and {NAMES[schedule]} searches", "04")
        return exceeds(das, mine, a_name=f"DAS search {unit}", b_name=f"{NAMES[schedule]} search {unit}")

    return judge


def predicted_cost_ratio(folders, phase: str = "whole") -> float:
    """The cost model's ratio to DAS (notebook 03): the mean over iterations of the fraction of edges still
    mixing, averaged over the searches in ``folders`` (a decided edge computes only its op). ``phase``:
    ``"whole"``, the whole search with a weight-only warm-up included (every edge mixes in it), as the
    measured seconds are; ``"scheduled"``, the iterations after the warm-up only."""
    return statistics.mean(history_cost_ratios(load_history(f))[phase] for f in folders)


def scheduled_seconds(folders, wall: bool = False) -> tuple[list[float], str]:
    """Each search's seconds over its scheduled iterations t = 1..T (a weight-only warm-up left out: every
    schedule pays it alike, and a warm-up iteration, a w step alone, costs less than a mixed iteration,
    which the cost model does not weigh), and their unit: CPU seconds where every folder recorded them,
    else (or with ``wall``) wall seconds."""
    from .run.search import read_iteration_times

    rows = [[r for r in read_iteration_times(f)[0] if not r["warmup"]] for f in folders]
    cpu = [sum(r["cpu_seconds"] for r in rs) for rs in rows]
    if not wall and all(math.isfinite(x) for x in cpu):
        return cpu, "CPU seconds"
    return [sum(r["seconds"] for r in rs) for rs in rows], "wall seconds"


def _ratio(schedule: str):
    def judge(results: dict) -> Verdict:
        das_folders, folders = results["histories"].get("das", []), results["histories"].get(schedule, [])
        if not das_folders or not folders:
            return _missing(f"DAS and {NAMES[schedule]} searches", "04")
        (das, unit), (mine, unit_b) = scheduled_seconds(das_folders), scheduled_seconds(folders)
        if unit != unit_b:  # one side written before iterations.csv had CPU seconds: both on wall seconds
            (das, unit), (mine, _) = scheduled_seconds(das_folders, wall=True), scheduled_seconds(folders, wall=True)
        das_mean = statistics.mean(das)
        ratios = [s / das_mean for s in mine]
        predicted = predicted_cost_ratio(folders, "scheduled")
        v = equivalent(ratios, predicted, RATIO_MARGIN, a_name=f"{NAMES[schedule]} / DAS {unit} (scheduled iterations)",
                       b_name="the cost model's")
        warmup = any(load_history(f).warmup_iterations for f in folders)
        whole = ""
        if warmup:  # the whole search beside it, shown, not judged: the warm-up, alike for all, pulls both toward 1
            das_all, mine_all, _ = _search_cost(results["search"].get("das", {}), results["search"].get(schedule, {}))
            measured = statistics.mean(mine_all) / statistics.mean(das_all) if das_all and mine_all else float("nan")
            whole = (f"; over the scheduled phase, after the weight-only warm-up; over the whole search the measured "
                     f"ratio is {measured:.2f} and the model's, the warm-up counted as mixed iterations, "
                     f"{predicted_cost_ratio(folders):.2f} (shown, not judged)")
        return Verdict(v.status, f"{v.reason}{whole}; the paper's GPU-days ratio {paper.search_cost_ratio(schedule):.2f} is "
                                 f"shown, not judged", v.test, v.n, v.difference, v.p, v.mde, v.p_opposite)

    return judge


# -- Table 5 ---------------------------------------------------------------------------------------


def _mobile(results: dict) -> Verdict:
    from .run.tables import imagenet_mobile_sizes

    files = [f for s in ("A", "B", "C") for f in results["genotypes"].get(s, [])]
    if not files:
        return _missing("SDAS search", "04")
    unique = {}  # one network per distinct genotype: seeds often find the same cells
    for f in files:
        unique.setdefault(Path(f).read_text(), []).append(f)
    sizes = [{**size, "genotype": str(f)} for size, same in zip(imagenet_mobile_sizes([fs[0] for fs in unique.values()]),
                                                                unique.values()) for f in same]
    params, madds = [r["params"] / 1e6 for r in sizes], [r["mult_adds"] / 1e6 for r in sizes]
    v = exceeds([MOBILE_LIMIT / 1e6 - m for m in madds], 0.0, a_name="the limit minus the cells' mult-adds (M)",
                b_name="zero")
    return Verdict(v.status, f"{len(sizes)} found SDAS cells at 224x224: {min(params):.2f}-{max(params):.2f}M params "
                             f"(paper 4.4-4.6M), {min(madds):.0f}-{max(madds):.0f}M mult-adds (paper 510-531M), mean "
                             f"{statistics.mean(madds):.0f}M against the {MOBILE_LIMIT / 1e6:.0f}M limit; {v.reason}",
                   v.test, v.n, v.difference, v.p, v.mde, v.p_opposite)


# -- video: Tables 6, 8 and 10 ---------------------------------------------------------------------


def _video(results: dict, kind: str, key, column: str) -> list | None:
    return results["video"][kind].get(key, {}).get(column)


def _video_compare(kind: str, column: str, a: tuple[str, str], b: tuple[str, str], what: str):
    """Claim: ``column`` of the video runs ``a`` (schedule, op) is larger than ``b``'s."""
    def judge(results: dict) -> Verdict:
        va, vb = _video(results, kind, a, column), _video(results, kind, b, column)
        if not va or not vb:
            runs = "transfer retrainings" if kind == "transfer" else f"{kind} runs"
            return _missing(f"{runs} of {NAMES[a[0]]} {OP_NAMES[a[1]]} and {NAMES[b[0]]} {OP_NAMES[b[1]]}", "05")
        return exceeds(va, vb, a_name=f"{NAMES[a[0]]} {OP_NAMES[a[1]]} {what}", b_name=f"{NAMES[b[0]]} {OP_NAMES[b[1]]} {what}")

    return judge


def _video_faster(op: str):
    """Claim: SDAS-C's video search on ``op`` costs less than DAS's (CPU seconds where recorded)."""
    def judge(results: dict) -> Verdict:
        search = results["video"]["search"]
        das, mine, unit = _search_cost(search.get(("das", op), {}), search.get(("C", op), {}))
        if not das or not mine:
            return _missing(f"search runs of DAS {OP_NAMES[op]} and SDAS-C {OP_NAMES[op]}", "05")
        return exceeds(das, mine, a_name=f"DAS {OP_NAMES[op]} search {unit}", b_name=f"SDAS-C {OP_NAMES[op]} search {unit}")

    return judge


def baselines_learning(results: dict) -> dict:
    """Which hand-crafted baselines learn: ``{(arch, width divisor): Verdict}`` of "its test accuracy exceeds
    chance (1 / classes) plus :data:`LEARN_MARGIN`", a one-sample one-sided t-test over its seeds at p < 0.05
    (:func:`exceeds`); a baseline learns where the verdict is reproduced. The margin matters: seeds of a net
    that learned nothing can agree closely on 10.2% (a test set a little off balance), and the t-test alone
    would call that learning. Train accuracy is shown beside it in notebook 05, not tested: a net can fit its
    training clips and still generalize no better than chance."""
    out = {}
    for (arch, width), v in results["video"]["baseline"].items():
        chance = [c for c in v.get("chance", []) if c == c]
        out[(arch, width)] = exceeds(v.get("test_acc"), chance[0] + LEARN_MARGIN if chance else None,
                                     a_name=f"{arch} (width / {width}) test accuracy",
                                     b_name=f"chance + {LEARN_MARGIN:g}")
    return out


def _over_baseline(results: dict) -> Verdict:
    c = _video(results, "retrain", ("C", "oadv"), "test_acc")
    bases = results["video"]["baseline"]
    if not c or not bases:
        return _missing("retrained SDAS-C Oadv cells and hand-crafted baselines", "05")
    learns = baselines_learning(results)
    learning = [k for k, v in learns.items() if v.status == REPRODUCED]
    if not learning:
        return not_testable(
            f"no hand-crafted baseline learns at this scale: none of the {len(learns)} (arch, width) has test "
            f"accuracy above chance + {LEARN_MARGIN:g} by a one-sample one-sided t-test at p < 0.05 over its seeds "
            f"({'; '.join(v.reason.split(' (n =')[0] for v in learns.values())}); beating a net that learned nothing "
            f"says nothing about hand-crafted designs")
    best = max(learning, key=lambda k: statistics.mean(bases[k]["test_acc"]))
    v = exceeds(c, bases[best]["test_acc"], a_name="SDAS-C Oadv cells", b_name=f"{best[0]} (width / {best[1]})")
    return Verdict(v.status, f"against the strongest baseline that learns ({len(learning)} of {len(learns)} do): "
                             f"{v.reason}", v.test, v.n, v.difference, v.p, v.mde, v.p_opposite)


def network_sizes_measured(results: dict, key=("C", "oadv")) -> list[tuple[tuple[int, int, int], dict]]:
    """The network sizes (K, C1, C2) at which ``key``'s cells were retrained, with their columns, smallest
    (by mean parameters) first (Table 7)."""
    sizes = results["video"].get("sizes", {}).get(key, {})
    return sorted(sizes.items(), key=lambda kv: statistics.mean(kv[1]["params"]))


TABLE7_QUOTE = ("\"the increase of K, C1 and C2 results in more parameters, but meanwhile the error rate decreases when "
                "using more cells and larger output channels\"")


def _size_step(rank: int):
    """Claim: the cells at the ``rank``-th smallest size (0: the smallest) beat those at the size before it."""
    def judge(results: dict) -> Verdict:
        sizes = network_sizes_measured(results)
        if len(sizes) <= rank:
            return _missing(f"retrainings of SDAS-C's Oadv cells at {rank + 1} network sizes (have {len(sizes)})", "05")
        (small, vs), (big, vb) = sizes[rank - 1], sizes[rank]
        name = "K{} C1={} C2={}".format
        return exceeds(vb["test_acc"], vs["test_acc"], a_name=f"{name(*big)} accuracy", b_name=f"{name(*small)} accuracy")

    return judge


# -- the planted cell (the project's test of the thesis) ------------------------------------------


def _planted(schedule: str):
    def judge(results: dict) -> Verdict:
        planted = results.get("planted")
        if planted is None:
            return not_testable("no planted-cell benchmark table (figures/planted_recovery.csv): run "
                                "benchmarks/planted_recovery.py; this is the project's test of the paper's thesis, "
                                "not a table of the paper")
        mine, das = planted["recovery"].get(schedule), planted["recovery"].get("das")
        if not mine or not das:
            return not_testable(f"the planted-cell table has no {NAMES[schedule]} or no DAS runs: run "
                                f"benchmarks/planted_recovery.py with every schedule")
        v = exceeds(mine, das, a_name=f"{NAMES[schedule]} planted cell recovered", b_name="DAS's")
        if v.p is None:  # too few runs for a test: its reason as it is
            return Verdict(v.status, f"the project's test of the paper's thesis, not a table of the paper: {v.reason}",
                           v.test, v.n, v.difference, v.p, v.mde, v.p_opposite)
        head, words = v.reason.rsplit("; ", 1)  # the words last: Holm's correction rewrites them
        return Verdict(v.status, f"the project's test of the paper's thesis, not a table of the paper: {head}; "
                                 f"chance (a uniform random cell) {planted['chance']:.3g}; {words}",
                       v.test, v.n, v.difference, v.p, v.mde, v.p_opposite)

    return judge


def _gpu_only(reason: str):
    return lambda results: not_testable(reason)


TABLE6_QUOTE = ("\"the results across three operation sets consistently indicate that the network with the architectures "
                "learnt by SDAS leads to a performance boost and search speed-up against that by DAS\"")
CLAIMS: tuple[Claim, ...] = (
    Claim("space", "Table 1", "\"the number of valid architectures\" at t/T = 0", "1.07e18", _table1_start, "CIFAR10", "image"),
    Claim("space_end", "Table 1", "the space shrinks to one architecture at t/T = 1", "1", _table1_end, "CIFAR10", "image"),
    Claim("row_0.1", "Table 1", "SDAS-A's space at t/T = 0.1", "9.90e16", _table1_row_01, "CIFAR10", "image"),
    Claim("t2_sdas_equal", "Table 2, §4",
          "\"the relaxed architecture will converge to discrete mode\" (SDAS-A: discrete equals relaxed, "
          f"margin ±{GAP_MARGIN:g})", "SDAS-A 92.02% (one entry across both columns)", _t2_sdas_equal, "CIFAR10", "image"),
    Claim("t2_sdas_highest", "Table 2, §4", "\"... discrete mode which achieves the highest accuracy\" (SDAS-A discrete "
          "above DAS relaxed)", "92.02% vs 87.67%", _t2_sdas_highest, "CIFAR10", "image"),
    Claim("t2_das_gap", "Table 2, §4", "\"the discrete architecture of DARTS achieves much lower accuracy than the "
          "relaxed one\"", "54.66% vs 87.67%", _t2_das_gap, "CIFAR10", "image"),
    *(Claim(f"error_{s}", "Table 4, §6.1", "\"utilizing a schedule in SDAS can constantly lead to a lower error rate "
            f"than onestep decision in DAS\" ({NAMES[s]})", f"{paper.TABLE4[s]['error']}% vs {paper.TABLE4['das']['error']}%",
            _retrained(s, "das"), "CIFAR10", "image", "table4_vs_das") for s in ("A", "B", "C")),
    *(Claim(f"random_{s}", "Table 4", f"the searched cells beat random ones ({NAMES[s]} against random cells, "
            "retrained)", f"{paper.TABLE4[s]['error']}% vs {paper.TABLE4_RANDOM['error']}%", _retrained(s, "random"),
            "CIFAR10", "image", "table4_vs_random") for s in ("das", "A", "B", "C")),
        *(Claim(f"b_over_{s.lower()}", "Table 4, §6.1", "\"the SDAS-B achieves the lowest error across SDASs\" "
            f"(against {NAMES[s]})", f"{paper.TABLE4['B']['error']}% vs {paper.TABLE4[s]['error']}%",
            _retrained("B", s), "CIFAR10", "image", "table4_b_lowest") for s in ("A", "C")),
    *(Claim(f"cost_{s}", "Table 4, abstract", f"\"the search by our SDAS is around 2-fold faster than DAS\" ({NAMES[s]})",
            f"{paper.TABLE4[s]['gpu_days']} vs {paper.TABLE4['das']['gpu_days']} GPU days", _faster(s), "CIFAR10",
            "image", "search_cost") for s in ("A", "B", "C")),
    *(Claim(f"ratio_{s}", "Table 4 (our claim)", f"{NAMES[s]}'s search seconds / DAS's (scheduled iterations) match the cost model's ratio "
            f"(margin ±{RATIO_MARGIN:g})", f"{paper.search_cost_ratio(s):.2f} (GPU days, not judged)", _ratio(s),
            "CIFAR10", "image") for s in ("A", "B", "C")),
    Claim("cifar_error", "Table 4", "SDAS-B's test error on CIFAR10", "2.74 ± 0.11%",
          _gpu_only("needs CIFAR10 and 600 epochs of retraining at K=6, C1=108, C2=144 (a GPU)"), "CIFAR10"),
    Claim("mobile", "Table 5, §6.2", "\"the mobile setting where the number of multiply-add operations with 224 x 224 "
          "input is restricted to be less than 600M\" (the found SDAS cells, on average)", "4.4-4.6M params, 510-531M mult-adds",
          _mobile, "ImageNet", "image"),
    Claim("imagenet", "Table 5", "SDAS-B's top-1 error on ImageNet", "26.6%",
          _gpu_only("needs ImageNet and 250 epochs on GPUs"), "ImageNet"),
    *(Claim(f"video_random_{s}", "Table 6 (control)", f"the searched cells beat random ones on Oadv ({NAMES[s]} "
            "against random cells, retrained)", "not in the paper: Table 4's control, on video",
            _video_compare("retrain", "test_acc", (s, "oadv"), ("random", "oadv"),
            "accuracy"), "Kinetics10", "video", "table6_vs_random") for s in ("das", "C")),
    *(Claim(f"video_vs_das_{op}", "Table 6, §7.1", f"{TABLE6_QUOTE} (error, {OP_NAMES[op]})",
            f"{paper.TABLE6[('C', 'video_' + op)]['error']}% vs {paper.TABLE6[('das', 'video_' + op)]['error']}% error",
            _video_compare("retrain", "test_acc", ("C", op), ("das", op), "accuracy"), "Kinetics10", "video",
            "table6_vs_das") for op in OP_SETS),
    *(Claim(f"video_cost_{op}", "Table 6, §7.1", f"{TABLE6_QUOTE} (search speed, {OP_NAMES[op]})",
            f"{paper.TABLE6[('C', 'video_' + op)]['gpu_days']} vs {paper.TABLE6[('das', 'video_' + op)]['gpu_days']} GPU days",
            _video_faster(op), "Kinetics10", "video",
            "table6_cost") for op in OP_SETS),
    *(Claim(f"video_size_{op}", "Table 6", f"SDAS-C's cells are smaller than DAS's ({OP_NAMES[op]})",
            f"{paper.TABLE6[('C', 'video_' + op)]['params_m']}M vs {paper.TABLE6[('das', 'video_' + op)]['params_m']}M",
            _video_compare("retrain", "params", ("das", op), ("C", op), "params"), "Kinetics10", "video",
            "table6_size") for op in OP_SETS),
    *(Claim(f"video_o3d_{s.lower()}", "Table 6, §7.1", "\"searching the cells on O3D operation set also exhibits better "
            f"performance than architecture optimization on O2D set by both DAS and SDAS\" ({NAMES[s]})",
            f"{paper.TABLE6[(s, 'video_o3d')]['error']}% vs {paper.TABLE6[(s, 'video_o2d')]['error']}% error",
            _video_compare("retrain", "test_acc", (s, "o3d"), (s, "o2d"), "accuracy"), "Kinetics10", "video",
            "table6_o3d") for s in ("das", "C")),
    Claim("video_das_oadv", "Table 6, §7.1", "\"DAS cannot handle the advanced operation well and achieves worse "
          "performance when switching to advanced set Oadv\" (than on O3D)", "11.49% vs 10.88% error",
          _video_compare("retrain", "test_acc", ("das", "o3d"), ("das", "oadv"), "accuracy"), "Kinetics10", "video"),
    Claim("video_oadv", "Table 6, §7.1", "\"for our SDAS, the involving of advanced operation can consistently boost up "
          "the performance\" (SDAS-C, Oadv over O3D)", "10.22% vs 10.58% error",
          _video_compare("retrain", "test_acc", ("C", "oadv"), ("C", "o3d"), "accuracy"), "Kinetics10", "video"),
    Claim("video_transfer", "Table 10, §7.3", "\"SDAS-C using the cells learnt on Kinetics10 ... outperforms "
          "architectures ... searched by DAS\" (here: retrained on the fine labels)", "74.2% vs 73.3% top-1",
          _video_compare("transfer", "test_acc", ("C", "oadv"), ("das", "oadv"), "accuracy"), "Kinetics-400",
          "video_transfer"),
    Claim("video_baseline", "Table 8, Fig. 11", "\"the cells learnt by our SDAS-C ... consistently achieve superior "
          "accuracy to that of human-invented architectures with comparable number of parameters\" (SDAS-C's Oadv "
          "cells retrained on the search's labels, against the strongest Fig. 10 ResNet baseline that learns, on the "
          "same labels; not testable where none learns)", "10.22% vs 11.74% error (Res50-3D)", _over_baseline,
          "Kinetics10", "video"),
    *(Claim(f"video_net_size_{rank}", "Table 7, §7.1", f"{TABLE7_QUOTE} (the {['', 'second', 'third'][rank]} smallest "
            "size against the one below it)", ["", "11.11% vs 12.44% error", "10.22% vs 11.11% error"][rank],
            _size_step(rank), "Kinetics10", "video", "table7_size") for rank in (1, 2)),
    Claim("video_kinetics", "Tables 6-8", "the video errors on Kinetics10", "10.22% (SDAS-C, Oadv)",
          _gpu_only("needs Kinetics and GPUs (96 epochs of 16x112x112 clips); notebook 05 runs on it with the data in "
                    "data_root"), "Kinetics10"),
    Claim("table9", "Table 9, §7.2", "\"the network with the cells learnt by SDAS-C outperforms against that by DAS\" "
          "on UCF101 and HMDB51", "2.8-3x search speed-up",
          _gpu_only("needs UCF101 and HMDB51 (loaders in sdas_lib.data.ucf_hmdb) and GPU searches; the course's "
                    "video runs use moving digits"), "UCF101, HMDB51"),
    Claim("table11", "Table 11, §7.3", "\"the increase of the number of frames/optical flow images generally leads "
          "to performance improvements\"", "74.2% -> 76.5% top-1 (16 -> 128 frames)",
          _gpu_only("needs Kinetics-400, clips of up to 128 frames and TV-L1 optical flow, none of which the course "
                    "has"), "Kinetics-400"),
    Claim("table12", "Table 12, §7.3", "\"randomly initialized SDAS-C outperforms all the networks which are trained on "
          "Kinetics400 from scratch\"", "76.5% top-1", _gpu_only("needs Kinetics-400 and the published competitors "
          "(I3D, R(2+1)D, S3D-G) trained at full scale on GPUs"), "Kinetics-400"),
    *(Claim(f"planted_{s}", "our test of §3.2's thesis", "scheduled decisions recover a planted cell better than "
            "one-step decisions, which \"may result in skewed optimization of the architecture\" "
            f"({NAMES[s]} against DAS; the share of the planted edges kept with the planted op kind). The project's "
            "test of the paper's thesis, not a table of the paper", "not in the paper", _planted(s),
            "a planted cell (ours)", "planted", "planted_vs_das") for s in ("A", "B", "C")),
)


def reproduction_report(runs_dir: str | os.PathLike, seeds=None, planted_csv: str | os.PathLike | None = None):
    """A DataFrame: one row per claim with its source, the paper's words and figure, the data sets, the verdict,
    the test (n, difference, p, minimum detectable effect, family) and the measurement in words; over the runs
    of ``seeds`` (default: every run in ``runs_dir``), and the planted-cell table ``planted_csv`` (default
    :data:`PLANTED_CSV`; its own teachers and seeds, whatever ``seeds`` says)."""
    import pandas as pd

    results = collect_results(runs_dir, seeds, planted_csv)
    return pd.DataFrame(report_rows(CLAIMS, results, measured_on(results)))


def verdict_counts(report) -> dict[str, int]:
    """How many claims got each verdict (the report's closing note)."""
    from .core.verdicts import VERDICTS

    return {v: int((report["verdict"] == v).sum()) for v in VERDICTS}


def compare_reports(first, second):
    """Two reports (of two disjoint seed sets of the same runs) claim by claim: a DataFrame with each verdict,
    whether they differ, whether they went between reproduced and contradicted, and each minimum detectable effect."""
    import pandas as pd

    a, b = first.set_index("claim"), second.set_index("claim")
    rows = []
    for claim in a.index:
        va, vb = a.loc[claim, "verdict"], b.loc[claim, "verdict"]
        rows.append({"claim": claim, "verdict_first": va, "verdict_second": vb, "differs": va != vb,
                     "flipped": {va, vb} == {REPRODUCED, CONTRADICTED},
                     "mde_first": a.loc[claim, "min. detectable effect"], "mde_second": b.loc[claim, "min. detectable effect"]})
    return pd.DataFrame(rows)


def stability_summary(table) -> dict:
    """What :func:`compare_reports` (or figures/report_stability.csv) says: the claims whose verdict differs,
    those that went between reproduced and contradicted, and the share of conclusive verdicts (reproduced or
    contradicted) among the verdicts of a statistical test, over both seed sets."""
    from .core.verdicts import INCONCLUSIVE

    verdicts = list(table["verdict_first"]) + list(table["verdict_second"])
    tested = [v for v in verdicts if v in (REPRODUCED, CONTRADICTED, INCONCLUSIVE)]
    conclusive = [v for v in tested if v != INCONCLUSIVE]
    differs = [c for c, d in zip(table["claim"], table["differs"]) if str(d) == "True"]
    flipped = [c for c, d in zip(table["claim"], table["flipped"]) if str(d) == "True"]
    return {"differs": differs, "flipped": flipped, "tested": len(tested), "conclusive": len(conclusive),
            "share_conclusive": len(conclusive) / len(tested) if tested else float("nan")}


__all__ = [
    "compare_reports", "stability_summary",
    "baselines_learning", "network_sizes_measured",
    "CLAIMS", "FAMILIES", "GAP_MARGIN", "LEARN_MARGIN", "RATIO_MARGIN", "PLANTED_CSV", "collect_planted", "collect_results", "collect_video_results", "measured_on",
    "reproduction_report", "table1_rows", "predicted_cost_ratio", "verdict_counts",
]
