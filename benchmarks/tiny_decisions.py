"""Do the tiny preset's decisions follow learned preferences? Seeds × α/β learning rates.

For each α/β learning rate it runs the tiny search with several seeds (each in its own process,
two at a time), each twice: as is, and with α's starting point nudged by N(0, 1e-6). It reports:
- stability: the share of edges that keep their op under that nudge. Decisions that follow
  learned preferences survive it; decisions made on priorities of ~1e-4 flip;
- how far each decision's priority stands above the median priority of the other candidates in
  the queue at that moment (the spread across α rows); noise decisions sit on the diagonal;
- agreement across seeds: the share of edges whose op choice matches between two seeds, against
  the agreement expected by chance from the op frequencies alone; "late" counts only the edges
  both seeds decided in the second half of the search, after α/β had time to learn.

Writes figures/tiny_decisions.png and figures/tiny_decisions.csv and prints a table.

    .venv/bin/python benchmarks/tiny_decisions.py                      # 3e-4 (paper) vs 3e-2 (tiny)
    .venv/bin/python benchmarks/tiny_decisions.py --arch-lrs 3e-2 1e-1 --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import multiprocessing as mp
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from sdas_lib.core.agreement import decision_kappa, edge_ops, pairwise_agreement  # noqa: E402 (torch-free)


def run_one(args):
    arch_lr, seed, schedule, epochs, perturb = args
    import torch

    torch.set_num_threads(1)
    from sdas_lib.run.presets import TINY
    from sdas_lib.run.search import Searcher

    # The regime its committed figure measured: the tiny preset's T = 55 with no warm-up (issue 23's
    # calibration, benchmarks/calibration.py, measures the warm-up's effect on the same questions).
    preset = dataclasses.replace(TINY, arch_lr=arch_lr, epochs=epochs or 5, warmup_iterations=0, threads=1)
    searcher = Searcher(preset, schedule, seed, progress=False, log=lambda s: None)
    if perturb:  # a float-level nudge of α's starting point (0 in Algorithm 1): N(0, 1e-6)
        g = torch.Generator().manual_seed(10_000 + seed)
        with torch.no_grad():
            for a in searcher.net.arch.alpha.values():
                a.add_(1e-6 * torch.randn(a.shape, generator=g))
    res = searcher.run()
    return arch_lr, seed, perturb, [d.to_dict() for d in res.history], res.metrics[-1]


def same_choices(h1: list[dict], h2: list[dict]) -> float:
    """Share of edges given the same op in two histories."""
    a, b = edge_ops(h1), edge_ops(h2)
    return sum(a[k] == b[k] for k in a) / len(a)


def agreement(histories: list[list[dict]], late_after: int | None = None) -> tuple[float, float]:
    """(mean pairwise share of edges with the same op, the same expected by chance): over all edges,
    Fleiss' P̄ and P̄_e (sdas_lib.core.agreement.pairwise_agreement).

    With ``late_after``, only edges that both runs decided after that iteration count.
    """
    if late_after is None:
        return pairwise_agreement(histories)
    choice = [edge_ops(h) for h in histories]
    when = [{(d["cell_type"], tuple(d["edge"])): d["iteration"] for d in h if d["kind"] == "edge"} for h in histories]
    shares = []
    for (a, wa), (b, wb) in itertools.combinations(list(zip(choice, when)), 2):
        keys = [k for k in a if late_after is None or (wa[k] > late_after and wb[k] > late_after)]
        if keys:
            shares.append(sum(a[k] == b[k] for k in keys) / len(keys))
    same = statistics.mean(shares) if shares else float("nan")
    freq = Counter(op for c in choice for op in c.values())
    total = sum(freq.values())
    chance = sum((n / total) ** 2 for n in freq.values())
    return same, chance


def summarize(everything: list, out: Path) -> None:
    """Print the table and draw figures/tiny_decisions.png from (lr, seed, perturbed, history, metrics) rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [(lr, s, h, m) for lr, s, p, h, m in everything if not p]
    perturbed = {(lr, s): h for lr, s, p, h, m in everything if p}
    lrs = sorted({lr for lr, *_ in results})
    out.mkdir(parents=True, exist_ok=True)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    rows = ["arch_lr,seed,step,kind,priority,median_other_priority"]
    stats = []
    print(f"{'arch_lr':>8} {'stable':>6} {'agree':>6} {'late':>6} {'chance':>6} {'kappa':>6} {'median prio':>11} "
          f"{'median other':>12} {'test acc':>8}")
    for lr in lrs:
        mine = [r for r in results if r[0] == lr]
        hists = [h for _, _, h, _ in mine]
        same, chance = agreement(hists)
        T = max(d["iteration"] for h in hists for d in h)
        late, _ = agreement(hists, late_after=T // 2)
        stable = statistics.mean(same_choices(h, perturbed[(lr, s)]) for _, s, h, _ in mine) if perturbed else float("nan")
        pts = [(d["median_priority"], d["priority"]) for h in hists for d in h
               if d["priority"] is not None and d["median_priority"] is not None]
        for _, seed, h, _ in mine:
            rows += [f"{lr},{seed},{d['step']},{d['kind']},{d['priority']},{d['median_priority']}" for d in h]
        xs, ys = zip(*pts)
        ax.scatter([max(x, 1e-7) for x in xs], [max(y, 1e-7) for y in ys], s=10, alpha=0.6, label=f"α/β lr {lr:g}")
        acc = statistics.mean(m["test_acc_discrete_bn_reestimated"] for *_, m in mine)
        stats.append((lr, stable, same, chance))
        print(f"{lr:>8g} {stable:>6.1%} {same:>6.1%} {late:>6.1%} {chance:>6.1%} {decision_kappa(hists):>6.3f} "
              f"{statistics.median(ys):>11.4f} "
              f"{statistics.median(xs):>12.4f} {acc:>8.3f}")
    lim = [1e-6, 1]
    ax.plot(lim, lim, "k--", lw=0.8, label="= median of the rest")
    ax.set(xscale="log", yscale="log", xlim=lim, ylim=lim, xlabel="median priority of the other candidates",
           ylabel="priority of the decision", title="how far each decision stands out")
    ax.legend(fontsize=8)
    idx = range(len(stats))
    bx.bar([i - 0.27 for i in idx], [st for _, st, _, _ in stats], 0.27, label="same op after a 1e-6 nudge of α₀")
    bx.bar(list(idx), [sa for _, _, sa, _ in stats], 0.27, label="same op across seeds")
    bx.bar([i + 0.27 for i in idx], [ch for _, _, _, ch in stats], 0.27, label="chance (op frequencies)")
    bx.set_xticks(list(idx), [f"lr {lr:g}" for lr, *_ in stats])
    bx.set(ylim=(0, 1), ylabel="share of edges", title="are the op choices reproducible?")
    bx.legend(fontsize=8)
    n_seeds = len({s for _, s, _, _ in results})
    fig.suptitle(f"tiny preset, {n_seeds} seeds: decisions at each α/β learning rate")
    fig.tight_layout()
    fig.savefig(out / "tiny_decisions.png", dpi=110)
    (out / "tiny_decisions.csv").write_text("\n".join(rows) + "\n")
    print(f"wrote {out / 'tiny_decisions.png'} and {out / 'tiny_decisions.csv'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch-lrs", type=float, nargs="+", default=[3e-4, 3e-3, 3e-2])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--schedule", default="A")
    ap.add_argument("--epochs", type=int, default=0, help="0: 5, the tiny preset's T = 55 without its warm-up")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "figures"))
    ap.add_argument("--dump", help="also write every run (histories, metrics) to this JSON file")
    ap.add_argument("--from-dump", help="skip the runs: summarize a file written by --dump")
    args = ap.parse_args()

    if args.from_dump:
        everything = [tuple(r) for r in json.loads(Path(args.from_dump).read_text())]
    else:
        jobs = [(lr, s, args.schedule, args.epochs, p) for lr in args.arch_lrs for s in args.seeds for p in (False, True)]
        with mp.get_context("spawn").Pool(args.processes) as pool:
            everything = pool.map(run_one, jobs, chunksize=1)
        if args.dump:
            Path(args.dump).write_text(json.dumps(everything))
    summarize(everything, Path(args.out))


if __name__ == "__main__":
    main()
