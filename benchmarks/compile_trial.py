"""torch.compile as another way to a faster supernet (issue 21): tried beside the fused path, on CPU.

One all-mixed tiny DAS iteration (the w step and the α/β step of benchmarks/supernet_iteration.py) on the
O2D supernet, eager and under ``torch.compile`` (inductor, the default mode), each path (reference and
fused) on one thread. For each it records:

- ``compile_s``: the seconds of the first two iterations (the w step's and the α/β step's graphs are
  compiled then: the α/β step holds the weights as constants, another graph);
- ``median_s``: the median seconds of ``--rounds`` iterations after them;
- ``after_decision_s``: the seconds of the first iteration after one edge is decided. A decision deletes
  ops from the network, so a compiled graph no longer matches it: a search makes 36 decisions (M) and
  would recompile after each, unless the decisions were batched.

Each trial runs in a fresh process, stopped after ``--budget`` wall seconds (its row then says so and
what it had spent). Seconds are CPU seconds of that process (``time.process_time``; inductor compiles in
it, ``compile_threads = 1``, though the C++ compiler runs as its subprocess), so a shared machine changes
them little; wall seconds beside them. Writes figures/supernet_compile.csv and prints it.

    .venv/bin/python benchmarks/compile_trial.py --rounds 5 --budget 1200
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def timed(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def decide_one_edge(net, space) -> None:
    """The first decision the discretization would make from the net's α and β, applied to the net."""
    from sdas_lib.core.discretization import DiscretizationState, decide

    alpha, beta = net.arch.as_dicts()
    state = DiscretizationState(space)
    decide(state, alpha, beta, 1, 0)
    net.sync(state)


def trial(path: str, compiled: bool, rounds: int) -> dict:
    import torch

    from supernet_iteration import build, iteration

    net, w_opt, a_opt, batches, p = build("o2d", path == "fused", "cpu")
    space = net.space
    model = torch.compile(net) if compiled else net

    def step():
        iteration(model, w_opt, a_opt, batches, p.grad_clip)

    first = [timed(step) for _ in range(2)]
    steady = [timed(step) for _ in range(rounds)]
    decide_one_edge(net, space)
    after = timed(step)
    return {
        "path": path, "mode": "compiled" if compiled else "eager", "rounds": rounds,
        "compile_s": round(sum(c for c, _ in first), 2), "compile_wall_s": round(sum(w for _, w in first), 2),
        "median_s": round(statistics.median(c for c, _ in steady), 4),
        "median_wall_s": round(statistics.median(w for _, w in steady), 4),
        "after_decision_s": round(after[0], 2),
    }


def run_child(path: str, compiled: bool, rounds: int, budget: float) -> dict:
    """One trial in a fresh process, stopped after ``budget`` wall seconds: its row, or a row that says it
    did not finish and what it had spent (CPU seconds of the process and its compiler subprocesses)."""
    import json
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, __file__, "--child", path, str(int(compiled)), str(rounds)]
    tick = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, check=True, cwd=ROOT)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return {"path": path, "mode": "compiled" if compiled else "eager", "rounds": rounds,
                "status": f"not finished after {time.perf_counter() - tick:.0f} wall s ({cpu:.0f} CPU s)"}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed iterations after the first two")
    ap.add_argument("--paths", nargs="+", default=["fused", "reference"], choices=["reference", "fused"])
    ap.add_argument("--budget", type=float, default=1200, help="wall seconds a trial may take before it is stopped")
    ap.add_argument("--out", type=Path, default=ROOT / "figures" / "supernet_compile.csv")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        import json

        import torch

        torch.set_num_threads(1)
        torch._inductor.config.compile_threads = 1  # compile in this process: its CPU seconds are counted
        path, compiled, rounds = args.child[0], bool(int(args.child[1])), int(args.child[2])
        print(json.dumps({**trial(path, compiled, rounds), "status": "finished"}))
        return []
    rows = []
    for path in args.paths:
        for compiled in (False, True):
            rows.append(run_child(path, compiled, args.rounds, args.budget))
            print(rows[-1], flush=True)
    eager = {r["path"]: r["median_s"] for r in rows if r["mode"] == "eager" and "median_s" in r}
    for r in rows:
        if "median_s" in r and r["path"] in eager:
            r["speedup_vs_eager_same_path"] = round(eager[r["path"]] / r["median_s"], 3)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
