"""Is the course faster with the fused supernet? Its searches on both paths, like for like (issue 21).

The course's image searches are the tiny preset's (a weight-only warm-up, then the schedule). Before
issue 21 every search ran the per-op reference path (each mixed edge's ops one module at a time); now
they run the fused path (:mod:`sdas_lib.nets.fused`). This runs the same searches (schedules, seed,
preset) on each path, each search in a fresh process on one thread, and compares their CPU seconds:
the whole search (iterations, evaluations, decisions) and the iterations alone. CPU seconds change
little when other work shares the machine; wall seconds are recorded beside them. The searches of one
schedule and seed give the same decisions on both paths up to float rounding (tests/test_fused.py);
the CSV records each path's genotype so that a reader can see whether they differ.

Writes figures/course_search_paths.csv and prints it.

    .venv/bin/python benchmarks/course_search_paths.py                     # das and C, seed 0, tiny
    .venv/bin/python benchmarks/course_search_paths.py --schedules das A B C --jobs 2
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one_search(job: tuple[str, str, int, str]) -> dict:
    """One search in this (fresh) process on the given path; its seconds."""
    path, schedule, seed, preset_name = job
    import torch

    torch.set_num_threads(1)
    from sdas_lib.run.outputs import genotype_line
    from sdas_lib.run.presets import get_preset, override
    from sdas_lib.run.search import Searcher

    preset = override(get_preset(preset_name), threads=1)
    s = Searcher(preset, schedule, seed, progress=False, log=lambda line: None)
    s.net.set_fused(path == "fused")
    cpu, wall = time.process_time(), time.perf_counter()
    result = s.run()
    return {
        "path": path, "schedule": schedule, "seed": seed, "preset": preset_name,
        "iterations": len(s.iteration_seconds),
        "cpu_s": round(time.process_time() - cpu, 2), "wall_s": round(time.perf_counter() - wall, 2),
        "iterations_cpu_s": round(sum(row[4] for row in s.iteration_seconds), 2),
        "genotype": genotype_line(result.genotype),
    }


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schedules", nargs="+", default=["das", "C"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--jobs", type=int, default=2, help="searches at once, each in its own process")
    ap.add_argument("--out", type=Path, default=ROOT / "figures" / "course_search_paths.csv")
    args = ap.parse_args(argv)
    jobs = [(path, s, args.seed, args.preset) for s in args.schedules for path in ("reference", "fused")]
    with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1) as pool:
        rows = pool.map(one_search, jobs, chunksize=1)
    ref = {r["schedule"]: r for r in rows if r["path"] == "reference"}
    for r in rows:
        r["speedup_vs_reference"] = round(ref[r["schedule"]]["cpu_s"] / r["cpu_s"], 3)
        r["same_genotype_as_reference"] = r["genotype"] == ref[r["schedule"]]["genotype"]
    total = {p: sum(r["cpu_s"] for r in rows if r["path"] == p) for p in ("reference", "fused")}
    rows.append({"path": "all", "schedule": "+".join(args.schedules), "seed": args.seed, "preset": args.preset,
                 "cpu_s": round(total["fused"], 2), "speedup_vs_reference": round(total["reference"] / total["fused"], 3)})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        print({k: v for k, v in r.items() if k != "genotype"})
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
