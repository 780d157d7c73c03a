"""Fashion-MNIST against the cluttered digits at the tiny scale, at 16×16 and at 28×28 (issue 22).

For each data set and resolution, with the tiny presets' networks on one thread (by default):
1. a DAS search (``presets.TINY``): the median seconds of one search iteration (w step + α/β step,
   before any decision; wall time and the process's CPU time, which hardly grows on a shared machine) and the relaxed supernet's test accuracy after the last epoch (Table 2);
2. DARTS_V2 retrained (``presets.TRAIN_TINY``): the median seconds of one training iteration (wall:
   epochs without a test pass; CPU: the iterations themselves), the whole run's wall time, and the test accuracy (Fashion-MNIST: all
   10,000 test images; the cluttered digits: their 1,800).

Each run is a fresh process (at most ``--processes`` at once; the default 1 keeps timings clean on a
shared machine). Every finished run is appended to figures/fashion_mnist_regimes.csv at once, so an
interrupted benchmark resumes where it stopped; ``--fresh`` starts the file again. Prints the table.

    .venv/bin/python benchmarks/fashion_mnist.py                       # 2 sets × 2 resolutions, seed 0
    .venv/bin/python benchmarks/fashion_mnist.py --seeds 0 1 --resolutions 16
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = (
    "dataset", "resolution", "run", "seed", "threads", "train_images", "test_images", "iterations",
    "seconds_per_iteration", "cpu_seconds_per_iteration", "wall_seconds", "test_acc", "accuracy_kind", "load_average", "description",
)


def time_iterations(loop) -> list[float]:
    """Record the CPU seconds of each of ``loop``'s training iterations (its process's, all threads):
    unlike wall time, they hardly grow when other work shares the cores."""
    cpu = []
    step = loop.train_iteration

    def timed(batch):
        t0 = time.process_time()
        out = step(batch)
        cpu.append(time.process_time() - t0)
        return out

    loop.train_iteration = timed
    return cpu


def run_one(job: tuple) -> dict:
    """One search or retraining in this (fresh) process; a CSV row."""
    dataset, resolution, kind, seed, threads, data_root = job
    import torch

    torch.set_num_threads(threads)
    from sdas_lib.run.presets import TINY, TRAIN_TINY

    row = {"dataset": dataset, "resolution": resolution, "run": kind, "seed": seed, "threads": threads}
    t0 = time.perf_counter()
    if kind == "das_search":
        from sdas_lib.run.search import Searcher

        # the regime of the committed figure: T = 55 with no warm-up (per-iteration cost is what it compares)
        preset = dataclasses.replace(TINY, dataset=dataset, resolution=resolution, data_root=data_root, threads=threads,
                                     epochs=5, warmup_iterations=0)
        s = Searcher(preset, "das", seed, progress=False, log=lambda line: None)
        cpu = time_iterations(s)
        res = s.run()
        undecided = [sec for _, n_done, sec, *_ in s.iteration_seconds if n_done == 0]  # DAS decides at the end
        row.update(iterations=s.T, seconds_per_iteration=statistics.median(undecided),
                   test_acc=res.metrics[-1]["test_acc_relaxed"], accuracy_kind="relaxed supernet (Table 2)")
        data = s.data
    else:
        from sdas_lib.run.train import Trainer

        preset = dataclasses.replace(TRAIN_TINY, dataset=dataset, resolution=resolution, data_root=data_root, threads=threads)
        tr = Trainer(preset, "darts_v2", seed, progress=False, log=lambda line: None)
        cpu = time_iterations(tr)
        res = tr.run()
        # "seconds" is cumulative; an epoch without a test pass is training alone.
        per_epoch = [b["seconds"] - a["seconds"] for a, b in zip(res.metrics, res.metrics[1:])
                     if (b["epoch"] % preset.eval_every) and b["epoch"] != preset.epochs]
        iters = res.metrics[-1]["iteration"]
        row.update(iterations=iters, seconds_per_iteration=statistics.median(per_epoch) / (iters / preset.epochs),
                   test_acc=res.test_acc, accuracy_kind="DARTS_V2 retrained, test set")
        data = tr.data
    row.update(cpu_seconds_per_iteration=statistics.median(cpu), wall_seconds=time.perf_counter() - t0, train_images=len(data.train), test_images=len(data.test),
               load_average=os.getloadavg()[0], description=data.description)
    return row


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def append_row(path: Path, row: dict) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        w.writerow({c: (f"{row[c]:.6g}" if isinstance(row[c], float) else row[c]) for c in COLUMNS})


def upgrade_columns(path: Path) -> None:
    """Rewrite a CSV from before a column was added with the current columns (the new ones empty)."""
    rows = read_rows(path)
    if rows and list(rows[0]) != list(COLUMNS):
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows({c: r.get(c, "") for c in COLUMNS} for r in rows)


def print_table(rows: list[dict]) -> None:
    print(f"{'dataset':<18}{'res':>4} {'run':<12}{'seed':>5}{'train':>7}{'test':>7}{'T':>6}{'s/iter':>9}{'cpu s/it':>9}{'wall s':>9}{'acc':>8}{'load':>6}")
    for r in rows:
        print(f"{r['dataset']:<18}{r['resolution']:>4} {r['run']:<12}{r['seed']:>5}{r['train_images']:>7}{r['test_images']:>7}"
              f"{r['iterations']:>6}{float(r['seconds_per_iteration']):>9.4f}{float(r['cpu_seconds_per_iteration'] or 'nan'):>9.4f}{float(r['wall_seconds']):>9.1f}"
              f"{float(r['test_acc']):>8.4f}{float(r['load_average']):>6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["cluttered_digits", "fashion_mnist"])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[16, 28])
    ap.add_argument("--runs", nargs="+", default=["das_search", "darts_v2"], choices=["das_search", "darts_v2"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--processes", type=int, default=1, help="runs at once (at most 2 on a shared machine)")
    ap.add_argument("--data-root", default=str(ROOT / "data"))
    ap.add_argument("--out", default=str(ROOT / "figures" / "fashion_mnist_regimes.csv"))
    ap.add_argument("--fresh", action="store_true", help="discard the rows already measured")
    args = ap.parse_args()

    out = Path(args.out)
    if args.fresh and out.exists():
        out.unlink()
    upgrade_columns(out)
    done = {(r["dataset"], int(r["resolution"]), r["run"], int(r["seed"]), int(r["threads"])) for r in read_rows(out)}
    # The longest runs first (larger images, then searches), so that two processes finish together.
    jobs = [(d, res, run, s, args.threads, args.data_root) for res in sorted(args.resolutions, reverse=True)
            for run in args.runs for d in args.datasets for s in args.seeds if (d, res, run, s, args.threads) not in done]
    print(f"{len(done)} runs already in {out}; {len(jobs)} to go")
    if jobs:
        with mp.get_context("spawn").Pool(args.processes, maxtasksperchild=1) as pool:
            for row in pool.imap_unordered(run_one, jobs):
                append_row(out, row)
                print(f"done: {row['dataset']} {row['resolution']}x{row['resolution']} {row['run']} seed {row['seed']}: "
                      f"{row['seconds_per_iteration']:.4f} s/iteration, accuracy {row['test_acc']:.4f}", flush=True)
    print_table(read_rows(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
