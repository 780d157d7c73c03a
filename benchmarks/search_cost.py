"""Search cost: SDAS against DAS on one machine, with identical settings and seed (issue 4).

Measures, in one run:
1. full searches for DAS and SDAS-A/B/C (each in a fresh process): wall time, ratio to DAS, peak
   memory (max RSS);
2. iteration cost (w step + α/β step) against the number of decisions made, and the ratio of the
   searches' iteration time to DAS's, in wall seconds and in CPU seconds (the latter barely moves when
   another process shares the cores);
3. the ideal ratio of each schedule: its per-iteration cost model integrated over the schedule,
   where every held op costs exactly what it costs alone and nothing else changes;
4. a fully decided search iteration against one training iteration of a plain network built
   from the same genotype with the same search-time ops (the physical floor);
5. the mixing overhead: the supernet's iteration before any decision against the sum of its ops
   run alone, and the profiler's share of the kernels that only the mixing needs.

Searches evaluate only after their last epoch here, so that wall time is the search itself.

Prints a table and writes figures/search_cost.csv and figures/search_cost.png.

    .venv/bin/python benchmarks/search_cost.py                   # tiny preset, seed 0
    .venv/bin/python benchmarks/search_cost.py --epochs 4 --threads 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import resource
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ("das", "A", "B", "C")
TARGETS = {"A": 0.55, "B": 0.85, "C": 0.33}
PAPER = {"A": 0.31 / 0.52, "B": 0.37 / 0.52, "C": 0.25 / 0.52}


SCHEDULED_EPOCHS = 5  # the tiny preset's T = 55 scheduled iterations (11 per epoch), without its warm-up


def make_preset(args):
    """The tiny preset's scheduled phase, evaluated only after the last epoch: wall time is then the
    search itself (the per-epoch relaxed evaluation of a mixed supernet would weigh on DAS alone). The
    weight-only warm-up is left out: every schedule pays it alike, and what the schedules change is the
    cost of the T iterations after it (the cost model's scheduled-phase ratio)."""
    from sdas_lib.run.presets import TINY

    epochs = args.epochs or SCHEDULED_EPOCHS
    return dataclasses.replace(TINY, threads=args.threads, epochs=epochs, warmup_iterations=0, eval_every=epochs)


def run_search(job):
    """One full search in this (fresh) process: wall time, per-iteration times, peak RSS."""
    schedule, seed, preset = job
    import torch

    torch.set_num_threads(preset.threads or torch.get_num_threads())
    from sdas_lib.run.search import Searcher

    s = Searcher(preset, schedule, seed, progress=False, log=lambda line: None)
    t0 = time.perf_counter()
    res = s.run()
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "schedule": schedule, "wall": wall, "peak_mb": peak_mb, "iterations": s.iteration_seconds,
        "history": [d.to_dict() for d in res.history], "genotype": res.genotype.to_dict(), "T": s.T,
        "test_acc_discrete_bn_reestimated": res.metrics[-1]["test_acc_discrete_bn_reestimated"],
    }


def _median_time(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_costs(preset, seed: int, reps: int):
    """Each op's cost alone at its place in the supernet, the mixed iteration, the mixing share."""
    import torch

    torch.set_num_threads(preset.threads or torch.get_num_threads())
    from sdas_lib.core.discretization import DiscretizationState
    from sdas_lib.run.search import Searcher
    from sdas_lib.nets.supernet import SearchEdge
    from sdas_lib.run.loop import memory_format_for

    s = Searcher(preset, "das", seed, progress=False, log=lambda line: None)
    x, y = s.to_device(*next(s.w_batches.iterate(0)))
    xa, ya = s.to_device(*next(s.a_batches.iterate(0)))
    mf = memory_format_for(4, preset.channels_last)

    # Input shape of every edge, captured with hooks during one forward pass.
    shapes = {}
    hooks = []
    for c, cell in enumerate(s.net.cells):
        for key, edge in cell.edges.items():
            def grab(mod, inp, out, c=c, key=key):
                shapes[(c, int(key))] = tuple(inp[0].shape)
            hooks.append(edge.register_forward_hook(grab))
    s.net.train()
    fused = s.net.fused
    s.net.set_fused(False)  # the per-op reference path calls each edge module; the fused path does not
    with torch.no_grad():
        s.net(x)
    s.net.set_fused(fused)  # the searches, and the mixed iteration timed below, run the fused path
    for h in hooks:
        h.remove()

    # Cost of each op alone (fwd + bwd), with weight gradients (w step) and without (α/β step).
    cache = {}

    def op_cost(c, e, name):
        cell = s.net.cells[c]
        j = s.space.edges[e][0]
        stride = s.space.cell_type(cell.cell_type).stride if j < s.space.n_inputs else 1
        shape = shapes[(c, e)]
        key = (name, shape, stride)
        if key not in cache:
            op = SearchEdge(s.space.op_set, shape[1], stride).ops[name].to(memory_format=mf)
            inp = torch.randn(shape).to(memory_format=mf).requires_grad_(True)

            def w_mode():
                op.zero_grad(set_to_none=True)
                op(inp).sum().backward()

            def a_mode():
                torch.autograd.grad(op(inp).sum(), inp)

            cache[key] = (_median_time(w_mode, reps), _median_time(a_mode, reps))
        return cache[key]

    op_names = list(s.net.cells[0].edges["0"].ops)
    costs = {(c, e, n): op_cost(c, e, n) for c in range(len(s.net.cells)) for e in range(s.space.n_edges) for n in op_names}

    # Mixed supernet: w step and α/β step as the search runs them.
    mixed_w = _median_time(lambda: s.w_step(x, y), reps)
    mixed_a = _median_time(lambda: s.arch_step(xa, ya), reps)
    meta = (s.space, [c.cell_type for c in s.net.cells], op_names)
    empty = DiscretizationState(s.space)
    ops_w, ops_a = _held_cost(empty, {"costs": costs}, meta, 0), _held_cost(empty, {"costs": costs}, meta, 1)

    # Where the mixing time goes: the profiler's self time of the kernels that only mixing needs
    # (scaling and summing op outputs by softmax(α)·sigmoid(β), and their backward).
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(reps):
            s.w_step(x, y)
            s.arch_step(xa, ya)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    mixing = sum(e.self_cpu_time_total for e in events if e.key in MIXING_KERNELS)
    return {
        "mixed_w": mixed_w, "mixed_a": mixed_a, "ops_w": ops_w, "ops_a": ops_a,
        "mixing_share": mixing / total, "costs": costs, "op_names": op_names,
    }, meta


# Elementwise kernels that the weighted mixing of Eq. 2 adds (forward and backward); a plain
# network's node sums are ``aten::add`` too, so this errs on the side of counting too much.
MIXING_KERNELS = {
    "aten::mul", "aten::addcmul", "aten::add", "aten::sum", "aten::_softmax", "aten::sigmoid",
    "aten::_softmax_backward_data", "aten::sigmoid_backward", "aten::unbind", "aten::stack",
}


def measure_floor(preset, seed: int, genotype_dict: dict, reps: int) -> dict:
    """A fully decided search iteration against a plain network's training iteration.

    Both are built in this fresh process and timed alternately, so neither inherits the other's
    heap or a warmer cache. The decided supernet runs what the search runs: the w step and the
    α/β step, which returns at once when nothing architectural is left to learn.
    """
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(preset.threads or torch.get_num_threads())
    from sdas_lib.nets.evalnet import build_network
    from sdas_lib.run.loop import memory_format_for
    from sdas_lib.core.genotype import Genotype
    from sdas_lib.run.search import Searcher
    from sdas_lib.nets.supernet import prune_optimizer

    s = Searcher(preset, "das", seed, progress=False, log=lambda line: None)
    x, y = s.to_device(*next(s.w_batches.iterate(0)))
    xa, ya = s.to_device(*next(s.a_batches.iterate(0)))
    g = Genotype.from_dict(genotype_dict)
    s.state = _state_for_genotype(s.space, g)
    prune_optimizer(s.w_opt, s.net.sync(s.state))
    s.arch_snapshot = s.net.arch.snapshot()

    torch.manual_seed(seed)
    plain = build_network(
        "cifar", g, K=preset.K, C1=preset.C1, C2=preset.C2, num_classes=s.data.num_classes,
        auxiliary=False, search_ops=True,
    ).to(memory_format=memory_format_for(4, preset.channels_last))
    opt = torch.optim.SGD(plain.parameters(), lr=preset.w_lr, momentum=preset.w_momentum, weight_decay=preset.w_weight_decay)
    plain.train()

    def decided_iteration():
        s.w_step(x, y)
        assert s.arch_step(xa, ya) is None

    def plain_iteration():
        loss = F.cross_entropy(plain(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], preset.grad_clip)
        opt.step()

    times = {"decided": [], "plain": []}
    for f in (decided_iteration, plain_iteration):
        f()
    for _ in range(max(reps, 3) * 3):
        for name, f in (("decided", decided_iteration), ("plain", plain_iteration)):
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _state_for_genotype(space, g):
    """A complete DiscretizationState whose genotype is ``g`` (edges, then nodes)."""
    from sdas_lib.core.discretization import Decision, DiscretizationState

    state = DiscretizationState(space)
    for ct in space.cell_type_names:
        kept = {i: dict((j, op) for op, j in node) for i, node in zip(space.node_ids, g[ct].nodes)}
        for (j, i) in space.edges:
            op = kept[i].get(j, g[ct].nodes[i - space.n_inputs][0][0])
            state.apply(Decision(state.n_done, 0, ct, "edge", (j, i), i, op, 0.0, None, (), (0.0,)))
        for i in space.node_ids:
            state.apply(Decision(state.n_done, 0, ct, "node", None, i, tuple(sorted(kept[i])), 0.0, None, (), ()))
    return state


def _held_cost(state, m: dict, meta, mode: int) -> float:
    """Σ over the ops a state still holds of their cost alone (mode 0: w step, 1: α/β step)."""
    space, cell_types, op_names = meta
    total = 0.0
    for c, ct in enumerate(cell_types):
        for e in range(space.n_edges):
            if state.edge_alive(ct, e):
                col = state.edge_op(ct, e)
                total += sum(m["costs"][(c, e, n)][mode] for n in (op_names if col is None else [op_names[col]]))
    return total


def ideal_ratio(run: dict, m: dict, meta) -> float:
    """Σ_t model(state_t) / Σ_t model(nothing decided); model = fixed + held ops (w) + held ops (α/β).

    The α/β step costs nothing once no α/β is left to learn (as the search skips it).
    """
    from sdas_lib.core.discretization import Decision, DiscretizationState

    space = meta[0]

    def model(state):
        learning = any(
            len(state.edge_ops[ct]) < space.n_edges or not state.cell_complete(ct) for ct in space.cell_type_names
        )
        w = m["fixed_w"] + _held_cost(state, m, meta, 0)
        return w + ((m["fixed_w"] + _held_cost(state, m, meta, 1)) if learning else 0.0)

    history = [Decision.from_dict(d) for d in run["history"]]
    state = DiscretizationState(space)
    base = model(state)
    k = 0
    num = 0.0
    for t in range(1, run["T"] + 1):
        num += model(state)  # iteration t runs with the decisions made before it
        while k < len(history) and history[k].iteration == t:
            state.apply(history[k])
            k += 1
    return num / (base * run["T"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=0, help="0: the tiny preset's scheduled 5 (T = 55, no warm-up)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0: torch's default")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per micro-timing (median)")
    ap.add_argument("--out", default=str(ROOT / "figures"))
    args = ap.parse_args()
    preset = make_preset(args)
    ctx = mp.get_context("spawn")

    runs = {}
    for sch in SCHEDULES:  # one fresh process each, one at a time: clean timing and peak RSS
        with ctx.Pool(1) as pool:
            runs[sch] = pool.apply(run_search, ((sch, args.seed, preset),))
        print(f"search {sch:>3}: {runs[sch]['wall']:.1f}s, peak RSS {runs[sch]['peak_mb']:.0f} MB", flush=True)
    with ctx.Pool(1) as pool:
        m, meta = pool.apply(measure_costs, (preset, args.seed, args.reps))
    with ctx.Pool(1) as pool:
        m.update(pool.apply(measure_floor, (preset, args.seed, runs["das"]["genotype"], args.reps)))
    # The non-op part of a w step (stem, preprocessing, classifier, loss, optimizer), from the
    # fully decided network: its iteration minus its ops alone.
    from sdas_lib.core.genotype import Genotype

    decided_state = _state_for_genotype(meta[0], Genotype.from_dict(runs["das"]["genotype"]))
    m["fixed_w"] = max(m["decided"] - _held_cost(decided_state, m, meta, 0), 0.0)

    das = runs["das"]["wall"]
    das_its = sum(sec for _, _, sec, *_ in runs["das"]["iterations"])
    das_cpu = sum(row[4] for row in runs["das"]["iterations"])
    rows = []
    print(f"\npreset tiny ({preset.epochs} epochs, T={runs['das']['T']}), seed {args.seed}, threads {args.threads or 'default'}")
    print(f"{'schedule':>8} {'wall s':>7} {'ratio':>6} {'its':>6} {'ideal':>6} {'vs ideal':>8} {'target':>6} {'paper':>6} {'peak MB':>7} {'acc (BN)':>8}")
    for sch in SCHEDULES:
        r = runs[sch]
        ratio = r["wall"] / das
        its_ratio = sum(sec for _, _, sec, *_ in r["iterations"]) / das_its
        cpu_ratio = sum(row[4] for row in r["iterations"]) / das_cpu  # CPU seconds: robust to a shared machine
        ideal = ideal_ratio(r, m, meta)
        rows.append({
            "schedule": sch, "wall_s": round(r["wall"], 2), "ratio_to_das": round(ratio, 4),
            "iterations_ratio": round(its_ratio, 4), "iterations_cpu_ratio": round(cpu_ratio, 4),
            "ideal_ratio": round(ideal, 4), "measured_over_ideal": round(ratio / ideal, 4),
            "target": TARGETS.get(sch, ""), "paper": round(PAPER[sch], 3) if sch in PAPER else "",
            "peak_rss_mb": round(r["peak_mb"], 1), "test_acc_discrete_bn_reestimated": r["test_acc_discrete_bn_reestimated"],
        })
        print(f"{sch:>8} {r['wall']:>7.1f} {ratio:>6.3f} {its_ratio:>6.3f} {ideal:>6.3f} {ratio / ideal - 1:>+8.1%} "
              f"{TARGETS.get(sch, 1.0):>6.2f} {PAPER.get(sch, 1.0):>6.2f} {r['peak_mb']:>7.0f} {r['test_acc_discrete_bn_reestimated']:>8.3f}")

    mixed = m["mixed_w"] + m["mixed_a"]
    ops_alone = m["ops_w"] + m["ops_a"]
    overhead = mixed - ops_alone - 2 * m["fixed_w"]
    print(f"\nmixed supernet iteration: {mixed:.3f}s (w {m['mixed_w']:.3f} + α/β {m['mixed_a']:.3f})")
    print(f"  its ops run alone: {ops_alone:.3f}s (w {m['ops_w']:.3f} + α/β {m['ops_a']:.3f}); "
          f"non-op fixed cost 2 x {m['fixed_w']:.3f}s")
    print(f"  iteration - ops alone - fixed: {overhead:+.3f}s = {overhead / ops_alone:+.1%} of the ops (target <= 10%)")
    print(f"  profiler: mixing kernels take {m['mixing_share']:.1%} of the iteration's CPU time, "
          f"{m['mixing_share'] / (1 - m['mixing_share']):.1%} of the rest")
    print(f"fully decided search iteration: {m['decided']:.4f}s; plain network iteration: {m['plain']:.4f}s; "
          f"ratio {m['decided'] / m['plain']:.3f} (target <= 1.10)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import csv

    with open(out / "search_cost.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "search_cost_micro.json").write_text(json.dumps({
        "mixed_iteration_s": mixed, "ops_alone_s": ops_alone, "fixed_w_s": m["fixed_w"],
        "mixing_overhead_fraction": overhead / ops_alone, "mixing_kernel_share": m["mixing_share"],
        "decided_iteration_s": m["decided"],
        "plain_iteration_s": m["plain"], "decided_over_plain": m["decided"] / m["plain"],
    }, indent=1) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for sch in SCHEDULES:
        its = runs[sch]["iterations"]
        by_n = {}
        for _, n, sec, *_ in its:
            by_n.setdefault(n, []).append(sec)
        ns = sorted(by_n)
        a1.plot(ns, [statistics.median(by_n[n]) for n in ns], "o-", ms=3, label=sch)
    a1.axhline(m["plain"], color="k", ls=":", lw=1, label="plain network (floor)")
    a1.set(xlabel="decisions made before the iteration", ylabel="seconds per iteration (median)",
           title="iteration cost (w + α/β step)", yscale="log")
    a1.legend()
    xs = range(len(TARGETS))
    names = list(TARGETS)
    a2.bar([i - 0.27 for i in xs], [rows[SCHEDULES.index(n)]["ratio_to_das"] for n in names], 0.27, label="measured")
    a2.bar(list(xs), [rows[SCHEDULES.index(n)]["ideal_ratio"] for n in names], 0.27, label="ideal (cost model)")
    a2.bar([i + 0.27 for i in xs], [PAPER[n] for n in names], 0.27, label="paper (Table 4)")
    a2.scatter(list(xs), [TARGETS[n] for n in names], marker="_", s=600, color="k", label="target", zorder=3)
    a2.set_xticks(list(xs), [f"SDAS-{n}" for n in names])
    a2.set(ylabel="search wall time / DAS", title="search cost relative to DAS")
    a2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "search_cost.png", dpi=110)
    print(f"wrote {out / 'search_cost.csv'}, {out / 'search_cost_micro.json'} and {out / 'search_cost.png'}")


if __name__ == "__main__":
    main()
