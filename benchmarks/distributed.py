"""Distributed runs on this machine's CPU: one process against two under torchrun (gloo, loopback).

The same tiny search (schedule A, 2 epochs: T = 22) and the same tiny retraining (2 epochs of
DARTS_V2) run three ways, one after the other, each alone on the machine:

- 1 process, 1 torch thread (the tiny presets' setting);
- 1 process, 2 torch threads;
- ``torchrun --nproc_per_node=2``: 2 processes of 1 thread, each on half of every batch (gloo).

Printed per run: the wall time of the command (process start and data included), the search's mean
iteration time (w step + α/β step + decisions, from rank 0's iterations.csv) or the retraining's
loop time (result.json), and the speed-up over 1 process with 1 thread. Writes
figures/distributed_cpu.csv.

What two CPU processes can show: that the distributed path works and what it costs here. Two ranks
on two cores split each batch of 64 into two of 32; the small convolutions of the tiny cells cost
per call more than per image, so halving the batch does not halve the time, and every iteration
adds the gradient all-reduces and the stop-flag exchange over loopback. None of this predicts a
GPU node, where each rank has its own device and NCCL links.

    .venv/bin/python benchmarks/distributed.py
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEARCH = ["search", "--preset", "tiny", "--schedule", "A", "--seed", "0", "--epochs", "2", "--warmup_iterations", "0", "--eval_every", "2",
          "--no-progress"]
TRAIN = ["train", "--preset", "tiny", "--genotype", "darts_v2", "--seed", "0", "--epochs", "2", "--no-progress"]
WAYS = (("1 process, 1 thread", 1, 1), ("1 process, 2 threads", 1, 2), ("2 processes (torchrun), 1 thread each", 2, 1))


def command(args: list[str], out: Path, processes: int, threads: int) -> list[str]:
    run = ["-m", "sdas_lib", *args, "--threads", str(threads), "--out", str(out)]
    if processes == 1:
        return [sys.executable, *run]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *run]


def measure(kind: str, args: list[str], processes: int, threads: int, folder: Path) -> dict:
    out = folder / f"{kind}-{processes}p{threads}t"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    tick = time.perf_counter()
    r = subprocess.run(command(args, out, processes, threads), cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    if r.returncode != 0:
        raise SystemExit(f"{kind} with {processes} process(es) failed:\n{r.stderr[-2000:]}")
    if kind == "search":
        lines = (out / "iterations.csv").read_text().splitlines()[2:]
        seconds = [float(line.split(",")[2]) for line in lines]
        loop = sum(seconds) / len(seconds)
    else:
        loop = json.loads((out / "result.json").read_text())["seconds"]
    return {"run": kind, "processes": processes, "threads": threads, "wall_seconds": round(wall, 2),
            "loop_seconds": round(loop, 4)}


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, args in (("search", SEARCH), ("retrain", TRAIN)):
            for label, processes, threads in WAYS:
                row = measure(kind, args, processes, threads, Path(tmp))
                row["way"] = label
                rows.append(row)
                print(f"{kind:8s} {label:40s} wall {row['wall_seconds']:7.1f} s  "
                      f"{'iteration' if kind == 'search' else 'loop':9s} {row['loop_seconds']:.4f} s", flush=True)
    for row in rows:
        base = next(r for r in rows if r["run"] == row["run"] and r["processes"] == 1 and r["threads"] == 1)
        row["speedup"] = round(base["loop_seconds"] / row["loop_seconds"], 2)
    print(f"\ncpu_count={os.cpu_count()}; speed-up of the loop over 1 process with 1 thread:")
    for row in rows:
        print(f"  {row['run']:8s} {row['way']:40s} x{row['speedup']:.2f}")
    path = ROOT / "figures" / "distributed_cpu.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["run", "way", "processes", "threads", "wall_seconds", "loop_seconds", "speedup"])
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
