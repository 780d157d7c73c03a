"""Calibration of the tiny regime (issue 23): which settings give trained weights before the first
decision and decisions that agree across seeds, and at what cost?

A point is a named set of search preset overrides (warm-up, epochs, batch size, data set, resolution,
...). Each point is run through the sweep (:func:`sdas_lib.run.sweep.sweep`) into its own folder,
``<runs>/<point>``: every schedule and seed searched, each found cell retrained, and the seeds' random
cells retrained as the control. The sweep skips what is complete and resumes what is not, so an
interrupted calibration continues where it stopped.

For each point, one row of ``calibration.csv`` gives:
- ``search_core_seconds`` / ``retrain_core_seconds`` / ``nudge_core_seconds``: the iterations' seconds of
  every search (evaluations apart, CPU seconds as the sweep's ``search_cpu_seconds``, so a shared
  machine does not inflate them; wall seconds for folders from before that column), the wall seconds of
  every retraining (inflated where the machine was shared) and the CPU seconds of the nudged searches,
  each on one thread (so core-seconds);
- per schedule ``s``: ``first_acc_<s>``, the supernet's w-train accuracy at its first decision (mean over
  the seeds), and ``target1_<s>``, that over DAS's w-train accuracy at the end of its search (issue 23's
  target 1 asks for at least 0.8);
- ``relaxed_<s>``: the supernets' relaxed test accuracy after the search;
- ``kappa_<s>``: Fleiss' κ of the op kept on each edge across the seeds (target 2 asks for 0.2);
- ``stable_<s>`` (with ``--nudge``): the share of edges that keep their op when the first seed's α is
  nudged by N(0, 1e-6) at the start (benchmarks/tiny_decisions.py's nudge stability);
- ``error_<s>`` and ``error_sd_<s>``: the retrained test error of the found cells (and of ``random``),
  mean and standard deviation over the seeds.

It draws ``calibration.png`` from the same rows (``calibration_video.csv/png`` with ``--task video``).

    .venv/bin/python benchmarks/calibration.py                     # the default screen, into runs/calibration
    .venv/bin/python benchmarks/calibration.py --points my_points.json --only warm110-T165
    .venv/bin/python benchmarks/calibration.py --task video        # the moving digits' screen (Oadv)
    .venv/bin/python benchmarks/calibration.py --confirm           # the chosen point: 5 seeds, DAS, A, B, C
    .venv/bin/python benchmarks/calibration.py --smoke             # micro grid, a few minutes, a temporary folder

A points file is JSON: ``{"name": {"warmup_iterations": 110, "epochs": 25}, ...}``; any search preset
field can be overridden (``dataset``, ``resolution`` and ``data_root`` are given to the retraining too).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from sdas_lib.errors import SdasError  # noqa: E402

# The screen of what issue 23 leaves to try (the points it measured are not repeated), sized to about an
# hour of a 2-core machine: the tiny preset has 11 iterations per epoch at batch 64 (718 w-train images
# // 64) and 5 at batch 128, so epochs = (warm-up + T) / iterations per epoch. A warm-up iteration is a w
# step alone: cheaper than a mixed search iteration, which adds the α/β step.
DEFAULT_POINTS: dict[str, dict] = {
    "no-warmup-T55": {"warmup_iterations": 0, "epochs": 5},  # the tiny preset before issue 23: the reference
    "warm55-T55": {"warmup_iterations": 55, "epochs": 10},  # the cheapest warm-up: 5 epochs of w steps
    "warm55-T55-batch128": {"warmup_iterations": 55, "epochs": 22, "batch_size": 128},  # a larger α/β batch
    "warm110-T165": {"warmup_iterations": 110, "epochs": 25},  # a warm-up with a longer T
    "fashion28-warm55-T55": {"dataset": "fashion_mnist", "resolution": 28, "warmup_iterations": 55, "epochs": 10},
}
# --task video: the same question for the moving digits (Oadv, the tiny video preset's 11 iterations per
# epoch at batch 64: T = 44 without a warm-up).
VIDEO_POINTS: dict[str, dict] = {
    "video-no-warmup-T44": {"warmup_iterations": 0, "epochs": 4},  # the tiny video preset as it is
    "video-warm44-T44": {"warmup_iterations": 44, "epochs": 8},
}
# --confirm: issue 23's confirmation at the chosen point (the tiny image preset as it now is): 5 seeds of
# DAS, SDAS-A, B and C, each retrained, with the seeds' random cells, and the nudge stability of each.
CONFIRM_POINTS: dict[str, dict] = {"warm55-T55-5seeds": {"warmup_iterations": 55, "epochs": 10}}
CONFIRM_SCHEDULES, CONFIRM_SEEDS = ["das", "A", "B", "C"], [0, 1, 2, 3, 4]
# --smoke: the micro preset's one epoch of 7 iterations, with and without a warm-up.
SMOKE_POINTS: dict[str, dict] = {"micro": {}, "micro-warm3": {"warmup_iterations": 3}}
SHARED_WITH_RETRAINING = ("dataset", "resolution", "data_root")
POINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def read_points(path: str | None, task: str = "image") -> dict[str, dict]:
    """The points of a JSON file, checked: names usable as folder names, overrides as objects (without a
    file: the built-in screen of the task)."""
    if path is None:
        return dict(VIDEO_POINTS if task == "video" else DEFAULT_POINTS)
    try:
        points = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SdasError(f"--points {path!r} is not a readable JSON file ({err})") from None
    if not isinstance(points, dict) or not points or not all(isinstance(v, dict) for v in points.values()):
        raise SdasError(f"--points {path!r} must hold an object of named overrides, e.g. "
                        '{"warm110": {"warmup_iterations": 110, "epochs": 15}}')
    return points


def check_points(points: dict[str, dict], preset: str, task: str) -> None:
    """Every name a folder name and every override a known field that makes a valid preset (before any run)."""
    from sdas_lib.run.presets import check_search_preset, get_preset, override, search_presets

    base = get_preset(preset, search_presets(task))
    for name, changes in points.items():
        if not POINT_NAME.fullmatch(name):
            raise SdasError(f"point name {name!r} must be a folder name: letters, digits, '_', '-', '.'; rename it")
        try:
            check_search_preset(override(base, **changes))
        except SdasError as err:
            raise SdasError(f"point {name!r}: {err}") from None


def run_point(name: str, changes: dict, args, log) -> "object":
    """The sweep of one point (searches, retrainings and random cells), resumed where it stopped; its table."""
    from sdas_lib.run.presets import get_preset, override, train_presets
    from sdas_lib.run.sweep import sweep

    train = get_preset(args.train_preset, train_presets(args.task))
    train = override(train, **{k: v for k, v in changes.items() if k in SHARED_WITH_RETRAINING})
    schedules = list(args.schedules) + ["random"]
    return sweep(schedules, args.seeds, Path(args.runs) / name, preset=args.preset, retrain=True, train_preset=train,
                 jobs=args.jobs, overrides=changes, progress=False, log=log, task=args.task)


def nudge_stability(name: str, changes: dict, schedule: str, seed: int, args) -> tuple[float, float]:
    """Share of edges that keep their op when α starts at N(0, 1e-6) instead of 0 (one search, resumable),
    and that search's seconds."""
    import torch

    from sdas_lib.core.agreement import edge_ops
    from sdas_lib.core.history import load_history
    from sdas_lib.run.folders import run_state
    from sdas_lib.run.outputs import search_seconds
    from sdas_lib.run.presets import get_preset, override, search_presets
    from sdas_lib.run.search import Searcher

    torch.set_num_threads(1)
    preset = override(get_preset(args.preset, search_presets(args.task)), threads=1, **changes)
    folder = Path(args.runs) / name / f"nudged-{schedule}-s{seed}"
    state = run_state(folder, Searcher, Searcher.settings_key(preset, seed, Searcher.key_extra(schedule)))
    if state != "complete":
        searcher = Searcher(preset, schedule, seed, out_dir=folder, resume=state == "incomplete", progress=False,
                            log=lambda s: None)
        if searcher.t == 0:  # the nudge is the start; a resumed run has it in its checkpoint
            g = torch.Generator().manual_seed(10_000 + seed)
            with torch.no_grad():
                for a in searcher.net.arch.alpha.values():
                    a.add_(1e-6 * torch.randn(a.shape, generator=g))
        searcher.run()
    plain = edge_ops(load_history(Path(args.runs) / name / f"search-{schedule}-s{seed}").decisions)
    nudged = edge_ops(load_history(folder).decisions)
    return sum(plain[k] == nudged[k] for k in plain) / len(plain), search_seconds(folder, "cpu_seconds")


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.mean(values) if values else float("nan")


def _sd(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.stdev(values) if len(values) > 1 else float("nan")


def _measured(value) -> bool:
    """A number in a calibration row (a column a point did not measure is absent or NaN)."""
    return isinstance(value, (int, float)) and not math.isnan(value)


def core_seconds(table) -> float:
    """The searches' iteration seconds on one thread: CPU seconds where every search recorded them (a
    shared machine then does not inflate the cost), wall seconds otherwise (folders from before the column)."""
    cpu = table["search_cpu_seconds"].astype(float)
    return float(cpu.sum() if not cpu.isna().any() else table["search_seconds"].astype(float).sum())


def point_row(name: str, changes: dict, table, args) -> dict:
    """The calibration row of a point from its sweep table and its run folders."""
    from sdas_lib.core.agreement import decision_kappa
    from sdas_lib.core.history import load_history
    from sdas_lib.run.outputs import search_outputs

    ok = table[table["status"] != "failed"]
    row = {"point": name, "overrides": json.dumps(changes, sort_keys=True), "seeds": len(args.seeds),
           "search_core_seconds": round(core_seconds(ok), 1),
           "retrain_core_seconds": round(float(ok["retrain_seconds"].fillna(0).sum()), 1),
           "nudge_core_seconds": 0.0}
    searched = {s: ok[ok["schedule"] == s] for s in args.schedules}
    outputs = {s: [search_outputs(f) for f in t["folder"]] for s, t in searched.items()}
    das_final = _mean([o["train_acc"] for o in outputs.get("das", [])])
    for s in args.schedules:
        first = _mean([o["first_decision_train_acc"] for o in outputs[s]])
        row[f"first_acc_{s}"] = first
        row[f"target1_{s}"] = first / das_final if das_final and not math.isnan(das_final) else float("nan")
        row[f"relaxed_{s}"] = _mean([o["test_acc_relaxed"] for o in outputs[s]])
        folders = list(searched[s]["folder"])
        row[f"kappa_{s}"] = decision_kappa([load_history(f).decisions for f in folders]) if len(folders) > 1 else float("nan")
        if args.nudge:
            row[f"stable_{s}"], seconds = nudge_stability(name, changes, s, args.seeds[0], args)
            row["nudge_core_seconds"] = round(row.get("nudge_core_seconds", 0.0) + seconds, 1)
    for s in list(args.schedules) + ["random"]:
        errors = [1 - a for a in ok[ok["schedule"] == s]["test_acc"].astype(float)]
        row[f"error_{s}"], row[f"error_sd_{s}"] = _mean(errors), _sd(errors)
    return {k: (round(v, 4) if isinstance(v, float) and not math.isnan(v) else v) for k, v in row.items()}


def read_rows(path: Path) -> list[dict]:
    """The rows of an existing calibration.csv (numbers as floats), or none."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for k, v in row.items():
            if k not in ("point", "overrides"):
                try:
                    row[k] = float(v) if v != "" else float("nan")
                except ValueError:
                    pass
    return rows


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """The old rows with those of the points measured now replaced (in place) or added (at the end)."""
    fresh = {r["point"]: r for r in new}
    merged = [fresh.pop(r["point"], r) for r in old]
    return merged + list(fresh.values())


def write_rows(rows: list[dict], path: Path) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def draw(rows: list[dict], schedules, path: Path) -> None:
    """Four panels over the points: κ (target 0.2), target 1's ratio (0.8), cost, retrained error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["point"] for r in rows]
    x = list(range(len(rows)))
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    width = 0.8 / (len(schedules) + 1)

    def bars(ax, key, with_random=False, sd=None):
        group = list(schedules) + (["random"] if with_random else [])
        for i, s in enumerate(group):
            values = [r.get(f"{key}_{s}", float("nan")) for r in rows]
            errs = [r.get(f"{sd}_{s}", float("nan")) for r in rows] if sd else None
            ax.bar([xi + (i - (len(group) - 1) / 2) * width for xi in x], values, width, yerr=errs, label=s, capsize=2)
        ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)

    ax = axes[0, 0]
    bars(ax, "kappa")
    ax.axhline(0.2, color="k", ls="--", lw=0.8, label="target 0.2")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set(ylabel="Fleiss' κ of the op per edge", title="decisions agree across seeds?")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    bars(ax, "target1")
    ax.axhline(0.8, color="k", ls="--", lw=0.8, label="target 0.8")
    ax.set(ylabel="w-train acc at 1st decision / DAS's at the end", title="weights trained before decisions?")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    bottom = [0.0] * len(rows)
    for key, label in (("search", "searches"), ("retrain", "retrainings"), ("nudge", "nudged searches")):
        minutes = [float(r.get(f"{key}_core_seconds") or 0) / 60 for r in rows]
        ax.bar(x, minutes, 0.4, bottom=bottom, label=label)
        bottom = [b + m for b, m in zip(bottom, minutes)]
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set(ylabel="core-minutes", title="cost of the point")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    bars(ax, "error", with_random=True, sd="error_sd")
    ax.set(ylabel="retrained test error (mean ± sd over seeds)", title="found against random cells")
    ax.legend(fontsize=7)
    fig.suptitle("calibration of the tiny regime (issue 23)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", help="JSON file of named preset overrides (default: the built-in screen)")
    ap.add_argument("--only", nargs="+", help="run only these points (by name)")
    ap.add_argument("--preset", default="tiny", help="search preset the overrides apply to")
    ap.add_argument("--train-preset", default="tiny", help="retraining preset of the found and random cells")
    ap.add_argument("--task", default="image", help="image or video")
    ap.add_argument("--schedules", nargs="+", help="searched schedules (random cells are added; default das C)")
    ap.add_argument("--seeds", type=int, nargs="+", help="default 0 1 2")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each")
    ap.add_argument("--nudge", action="store_true", help="also measure the nudge stability (one more search per schedule)")
    ap.add_argument("--runs", help="runs folder (default: runs/calibration; --smoke: a temporary folder)")
    ap.add_argument("--figures", help="where calibration.csv/png go (default: figures; --smoke: the runs folder)")
    ap.add_argument("--smoke", action="store_true", help="micro grid, 2 seeds, nudge on: proves the path in minutes")
    ap.add_argument("--confirm", action="store_true",
                    help="the chosen point (warm55-T55-5seeds) at seeds 0-4 with DAS, A, B and C, nudge on")
    args = ap.parse_args(argv)
    if args.confirm and (args.smoke or args.points or args.task != "image"):
        raise SdasError("--confirm runs the chosen image point; leave out --smoke, --points and --task")
    if args.confirm:
        args.schedules, args.seeds = args.schedules or CONFIRM_SCHEDULES, args.seeds or CONFIRM_SEEDS
        args.nudge = True
    args.schedules, args.seeds = args.schedules or ["das", "C"], args.seeds or [0, 1, 2]

    if args.smoke:
        args.preset, args.train_preset, args.seeds, args.nudge = "micro", "micro", [0, 1], True
        points = dict(SMOKE_POINTS)
        args.runs = args.runs or tempfile.mkdtemp(prefix="sdas-calibration-smoke-")
    else:
        points = dict(CONFIRM_POINTS) if args.confirm else read_points(args.points, args.task)
        args.runs = args.runs or str(ROOT / "runs" / "calibration")
    figures = Path(args.figures or (args.runs if args.smoke else ROOT / "figures"))
    if args.only:
        unknown = [n for n in args.only if n not in points]
        if unknown:
            raise SdasError(f"--only {unknown}: no such point; the points are: {', '.join(points)}")
        points = {n: points[n] for n in args.only}
    if len(set(args.seeds)) < 2:
        raise SdasError("Fleiss' kappa needs at least 2 seeds; pass --seeds 0 1 2")
    check_points(points, args.preset, args.task)

    stem = "calibration_video" if args.task == "video" else "calibration"
    csv_path = figures / f"{stem}.csv"
    earlier = read_rows(csv_path)  # the rows of points not run now are kept
    rows = []
    for name, changes in points.items():
        print(f"point {name}: {json.dumps(changes)}", flush=True)
        table = run_point(name, changes, args, log=lambda line: print("  " + line, flush=True))
        if (table["status"] == "failed").all():
            print(f"  point {name}: every search failed; no row", flush=True)
            continue
        rows.append(point_row(name, changes, table, args))
        write_rows(merge_rows(earlier, rows), csv_path)  # after every point: a partial calibration is readable
    if rows:
        everything = merge_rows(earlier, rows)
        drawn = [s for s in dict.fromkeys(["das", "A", "B", "C", *args.schedules])
                 if any(_measured(r.get(f"kappa_{s}")) for r in everything)]
        draw(everything, drawn, figures / f"{stem}.png")
        print(f"wrote {csv_path} and {figures / f'{stem}.png'}")
    return rows


if __name__ == "__main__":
    try:
        main()
    except SdasError as err:
        sys.exit(f"error: {err}")
