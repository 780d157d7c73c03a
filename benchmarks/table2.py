"""Table 2 at the tiny scale: the search weights tested relaxed, discrete and discrete with BN re-estimated.

For DAS and SDAS-A/B/C over several seeds (each search in its own process, one thread, several
at once), the last epoch's accuracies measured by the search itself (sdas_lib.run.search):
- ``train_acc``: the w-train accuracy of the last epoch (running, on the mixed supernet);
- ``test_acc_relaxed``: the supernet before the last iteration's decisions (for DAS: fully mixed);
- ``test_acc_discrete``: the derived genotype on the same weights and BN statistics (the paper's);
- ``test_acc_discrete_bn_reestimated``: the same with BN statistics re-estimated on w-train batches.

Writes figures/table2_benchmark.csv (one row per search) and
figures/table2_benchmark.png, and prints mean ± std per schedule.

    .venv/bin/python benchmarks/table2.py                        # tiny preset, seeds 0 1 2, 2 processes
    .venv/bin/python benchmarks/table2.py --seeds 0 1 2 3 --jobs 2
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ("das", "A", "B", "C")
COLUMNS = ("train_acc", "test_acc_relaxed", "test_acc_discrete", "test_acc_discrete_bn_reestimated")


def one_search(job: tuple[str, int]) -> dict:
    schedule, seed = job
    import dataclasses

    import torch

    from sdas_lib.run.presets import TINY
    from sdas_lib.run.search import Searcher

    torch.set_num_threads(1)
    preset = dataclasses.replace(TINY, eval_every=TINY.epochs)  # Table 2 needs the last epoch only
    t0 = time.perf_counter()
    res = Searcher(preset, schedule, seed, progress=False, log=lambda line: None).run()
    last = res.metrics[-1]
    return {"schedule": schedule, "seed": seed, **{k: last[k] for k in COLUMNS},
            "seconds": round(time.perf_counter() - t0, 1), "dataset": res.dataset.split(" (")[0],
            "genotype": str(res.genotype).replace("\n", " /")}


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=str(ROOT / "figures"))
    args = ap.parse_args()
    jobs = [(s, seed) for s in SCHEDULES for seed in args.seeds]
    jobs.sort(key=lambda j: SCHEDULES.index(j[0]))  # DAS first: the longest runs start first
    pool = mp.get_context("spawn").Pool(args.jobs)
    rows = []
    for row in pool.imap_unordered(one_search, jobs):
        rows.append(row)
        print(f"{row['schedule']:>3} seed {row['seed']}: relaxed {row['test_acc_relaxed']:.3f} discrete "
              f"{row['test_acc_discrete']:.3f} BN re-estimated {row['test_acc_discrete_bn_reestimated']:.3f} "
              f"({row['seconds']:.0f}s)", flush=True)
    pool.close()
    pool.join()
    rows.sort(key=lambda r: (SCHEDULES.index(r["schedule"]), r["seed"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "table2_benchmark.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    print(f"\nTable 2, tiny preset ({rows[0]['dataset']}), seeds {args.seeds}, mean ± std:")
    print(f"{'schedule':>8} " + " ".join(f"{c:>34}" for c in COLUMNS))
    summary = {}
    for s in SCHEDULES:
        mine = [r for r in rows if r["schedule"] == s]
        summary[s] = {c: [r[c] for r in mine] for c in COLUMNS}
        print(f"{s:>8} " + " ".join(f"{mean_std(summary[s][c]):>34}" for c in COLUMNS))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.8))
    labels = {"test_acc_relaxed": "relaxed", "test_acc_discrete": "discrete (paper: same BN statistics)",
              "test_acc_discrete_bn_reestimated": "discrete, BN re-estimated"}
    width = 0.26
    for k, (col, label) in enumerate(labels.items()):
        xs = [i + (k - 1) * width for i in range(len(SCHEDULES))]
        means = [statistics.mean(summary[s][col]) for s in SCHEDULES]
        stds = [statistics.stdev(summary[s][col]) if len(args.seeds) > 1 else 0 for s in SCHEDULES]
        ax.bar(xs, means, width, yerr=stds, capsize=3, label=label)
    ax.set_xticks(range(len(SCHEDULES)), ["DAS"] + [f"SDAS-{s}" for s in SCHEDULES[1:]])
    ax.set(ylabel="test accuracy with search weights", ylim=(0, 1.05),
           title=f"Table 2 at the tiny scale ({rows[0]['dataset']}, {len(args.seeds)} seeds)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "table2_benchmark.png", dpi=110)
    print(f"wrote {out / 'table2_benchmark.csv'} and {out / 'table2_benchmark.png'}")


if __name__ == "__main__":
    main()
