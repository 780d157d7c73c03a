"""Does the reproduction report's verdict depend on which seeds ran? Two disjoint seed sets, one report each.

The same runs as the course (image: notebook 04's sweep, video: notebook 05's sweeps and baselines, with
exactly their settings) are made for every seed of both sets, through the sweep, into one runs folder:
pointed at ``runs/course`` after ``make run`` the seeds the course already ran are reused, and an
interrupted benchmark resumes. Each seed set's runs are then judged alone (a folder of links to its
runs), and the two reports are compared claim by claim.

Writes ``figures/report_stability.csv``: per claim, the verdict on each seed set, whether they differ,
and the minimum detectable effect of each (and, in every row, the two seed sets). Prints the claims
whose verdict differs, the share of conclusive verdicts (reproduced or contradicted, among the claims
tested by a statistical test), and whether any claim went between reproduced and contradicted (the
acceptance rule: none may).

    .venv/bin/python benchmarks/stability.py                                # tiny, seeds 0-2 against 3-5
    .venv/bin/python benchmarks/stability.py --runs-dir runs/course         # reuse make run's seeds 0-2
    .venv/bin/python benchmarks/stability.py --preset micro --first 0 1 --second 2 3 --runs-dir /tmp/s
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ("das", "A", "B", "C", "random")  # notebook 04: the searches and the random control
VIDEO_SCHEDULES = ("das", "C")
OP_SETS = ("o2d", "o3d", "oadv")
BASELINES = ("res50-2d", "res50-3d")
BASELINE_WIDTHS = (4, 8, 16)  # notebook 05's baseline_widths


def image_runs(preset: str, seeds, runs_dir, data_root, jobs: int):
    """Notebook 04's sweep: every schedule searched and retrained, and the random cells (CIFAR10 at tiny when
    it is in data_root)."""
    from sdas_lib.run.presets import TRAIN_PRESETS, get_preset
    from sdas_lib.run.sweep import sweep

    has_cifar = (Path(data_root) / "cifar-10-batches-py").is_dir()
    search_overrides = {"data_root": str(data_root)}
    train = dataclasses.replace(get_preset(preset, TRAIN_PRESETS), data_root=str(data_root))
    if has_cifar and preset == "tiny":
        search_overrides["dataset"] = "cifar10_tiny"
        train = dataclasses.replace(train, dataset="cifar10_tiny")
    return sweep(list(SCHEDULES), list(seeds), runs_dir, preset=preset, retrain=True, train_preset=train,
                 jobs=jobs, overrides=search_overrides, progress=False)


def video_runs(preset: str, seeds, runs_dir, data_root, jobs: int):
    """Notebook 05's sweeps: DAS and SDAS-C on every op set, retrained; random Oadv cells retrained; the Oadv
    cells transferred to the fine labels; SDAS-C's Oadv cells at Table 7's sizes; the hand-crafted baselines on
    the search's labels at the notebook's widths."""
    from sdas_lib.run.presets import TABLE7_WIDTH_FRACTIONS, get_preset, search_presets, train_presets
    from sdas_lib.run.sweep import sweep, sweep_sizes, train_baselines

    dataset = get_preset(preset, search_presets("video")).dataset
    fine = {"moving_digits": "moving_digits_fine", "kinetics10": "kinetics"}.get(dataset, dataset)
    overrides = {"data_root": str(data_root), "dataset": dataset}
    train = dataclasses.replace(get_preset(preset, train_presets("video")), data_root=str(data_root), dataset=dataset)
    transfer = dataclasses.replace(train, dataset=fine)
    video_dir = Path(runs_dir) / "video"
    sweep(list(VIDEO_SCHEDULES), list(seeds), video_dir, preset=preset, task="video", op_sets=list(OP_SETS), jobs=jobs,
          overrides=overrides, retrain=True, train_preset=train, progress=False)
    sweep(["random"], list(seeds), video_dir, preset=preset, task="video", op_sets=[OP_SETS[-1]], jobs=jobs,
          overrides=overrides, retrain=True, train_preset=train, progress=False)  # Table 6's random control
    sweep(list(VIDEO_SCHEDULES), list(seeds), video_dir, preset=preset, task="video", op_sets=[OP_SETS[-1]], jobs=jobs,
          overrides=overrides, retrain=True, train_preset=transfer, retrain_prefix="transfer", progress=False)
    sweep_sizes(list(seeds), video_dir, train_preset=train, fractions=TABLE7_WIDTH_FRACTIONS, preset=preset,
                overrides=overrides, jobs=jobs, progress=False)
    train_baselines(list(BASELINES), list(seeds), video_dir, train_preset=train, width_divisor=BASELINE_WIDTHS, jobs=jobs)


def seed_view(runs_dir: Path, seeds, into: Path) -> Path:
    """A folder of symbolic links to the runs of ``seeds`` only (image and video), for the report to read."""
    import re

    pattern = re.compile(r"-s(\d+)$")
    for sub in ("", "video"):
        source, target = runs_dir / sub, into / sub
        target.mkdir(parents=True, exist_ok=True)
        if not source.is_dir():
            continue
        for folder in source.iterdir():
            m = pattern.search(folder.name)
            if folder.is_dir() and m and int(m.group(1)) in seeds:
                (target / folder.name).symlink_to(folder.resolve(), target_is_directory=True)
    return into


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first", type=int, nargs="+", default=[0, 1, 2], help="the first seed set (default 0 1 2)")
    ap.add_argument("--second", type=int, nargs="+", default=[3, 4, 5], help="the second seed set (default 3 4 5)")
    ap.add_argument("--preset", default="tiny", help="the course's preset (tiny; micro for a smoke run)")
    ap.add_argument("--runs-dir", default=str(ROOT / "runs" / "stability"),
                    help="where the runs go; runs/course reuses the course's runs (default runs/stability)")
    ap.add_argument("--data-root", default=str(ROOT / "data"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="sweep worker processes")
    ap.add_argument("--out", default=str(ROOT / "figures" / "report_stability.csv"))
    args = ap.parse_args(argv)
    if set(args.first) & set(args.second):
        ap.error(f"the seed sets must be disjoint; both hold {sorted(set(args.first) & set(args.second))}")

    from sdas_lib.report import compare_reports, reproduction_report, stability_summary

    runs_dir = Path(args.runs_dir)
    seeds = list(dict.fromkeys(args.first + args.second))
    image_runs(args.preset, seeds, runs_dir, args.data_root, args.jobs)
    video_runs(args.preset, seeds, runs_dir, args.data_root, args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        # The planted-cell claims read the benchmark's own table, not these seeds' runs: left out here
        # (an absent table), so they cannot count as stable for free.
        absent = Path(tmp) / "no-planted-table.csv"
        reports = [reproduction_report(seed_view(runs_dir, set(s), Path(tmp) / name), planted_csv=absent)
                   for name, s in (("first", args.first), ("second", args.second))]
    table = compare_reports(*reports)
    table["seeds_first"], table["seeds_second"] = " ".join(map(str, args.first)), " ".join(map(str, args.second))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    s = stability_summary(table)
    print(table.to_string(index=False))
    print(f"\nseeds {args.first} against {args.second} at {args.preset}:")
    print(f"claims whose verdict differs: {', '.join(s['differs']) or 'none'}")
    print(f"conclusive verdicts: {s['conclusive']} of {s['tested']} tested ({s['share_conclusive']:.0%})")
    print(f"between reproduced and contradicted: {', '.join(s['flipped']) or 'none'}")
    print(f"wrote {args.out}")
    return 1 if s["flipped"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
