"""The fused supernet path against the per-op reference: one all-mixed tiny DAS iteration (issue 21).

One iteration is what the search loop runs (:class:`~sdas_lib.run.search.Searcher`): a w step (SGD on
L_train with α/β as constants) and an α/β step (Adam on L_val, gradients for α/β only, the weights as
constants), on the tiny preset's network and batch (random inputs of the data's shape), nothing
decided. Both paths run on one copy of the weights each, alternately (reference, fused, reference,
...), on one thread, and the medians are compared: the machine may be shared, and alternating spreads
any load over both paths alike.

Per op set it records the reference and fused times and their ratio; the useful FLOPs of an iteration
(the reference's convolutions and matrix products, forward and backward, from
``torch.utils.flop_counter``) and the FLOPs the fused path executes (zero taps of the embedded kernels
included); the achieved GFLOP/s of each path (its counted FLOPs over its median time); and each path's
peak memory (the rise of the peak resident set (VmHWM) over its first two iterations, each path in a fresh
process; on a GPU, the peak of ``torch.cuda.max_memory_allocated`` over one iteration above what it holds
before).

Memory formats: by default every op set is timed twice, first in the format the searches run in
(``channels_last``: the tiny presets set ``channels_last``, so the network and its inputs are NHWC, or
NTHWC for video, as :meth:`RunLoop.model_to_device` places them), then in contiguous NCHW/NCTHW. The
CSV's ``memory_format`` column says which (``channels_last_3d`` for the video nets). Ratios from
different formats are not comparable with each other; the channels-last rows are the searches' gain.

Op sets: O2D (the image tiny preset) and video O2D, O3D and Oadv (the video tiny preset: 4 frames of
16×16). The video op sets search fused (:mod:`sdas_lib.nets.fused_video`); an op set outside
:data:`sdas_lib.nets.fused.FUSED_OP_SETS` would have its fused form timed as ``fused_unverified``.

With ``--profile`` it also prints the fused iteration's top operators (``torch.profiler``) and writes
them beside the CSV (figures/supernet_iteration_profile.txt).

Writes figures/supernet_iteration.csv and prints a table.

    .venv/bin/python benchmarks/supernet_iteration.py                  # all four op sets, 15 rounds
    .venv/bin/python benchmarks/supernet_iteration.py --rounds 5 --op-sets o2d --profile
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(op_set: str, fused: bool, device: str, seed: int = 0, channels_last: bool = True):
    """The tiny preset's all-mixed supernet, its two optimizers and two batches (w-train, α/β-val), in the
    memory format the search runs them in (:func:`sdas_lib.run.loop.memory_format_for`: channels-last when
    the preset and ``channels_last`` both ask for it, as the tiny presets do; else contiguous NCHW/NCTHW)."""
    import torch

    from sdas_lib.nets.fused import FUSED_OP_SETS
    from sdas_lib.nets.supernet import SearchNetwork
    from sdas_lib.run.loop import memory_format_for
    from sdas_lib.run.presets import TINY, VIDEO_SEARCH_PRESETS
    from sdas_lib.run.search import search_layout, search_space

    video = op_set.startswith("video")
    p = dataclasses.replace(VIDEO_SEARCH_PRESETS["tiny"] if video else TINY, op_set=op_set)
    torch.manual_seed(seed)
    space = search_space(p)
    net = SearchNetwork(space, search_layout(p), p.C1, p.C2, 10, 3, fused=False).to(device)
    if fused and op_set in FUSED_OP_SETS:
        net.set_fused(True)
    elif fused:  # an op set not in FUSED_OP_SETS: fused for timing only, not verified against the reference
        net.fused = True
        for cell in net.cells:
            cell.fused = True
    shape = (3, p.clip_len, p.resolution, p.resolution) if video else (3, p.resolution, p.resolution)
    fmt = memory_format_for(1 + len(shape), p.channels_last and channels_last)
    net = net.to(memory_format=fmt)  # as RunLoop.model_to_device does
    g = torch.Generator().manual_seed(seed)
    batches = [(torch.randn(p.batch_size, *shape, generator=g).to(device, memory_format=fmt),
                torch.randint(0, 10, (p.batch_size,), generator=g).to(device)) for _ in range(2)]
    w_opt = torch.optim.SGD(net.weights(), lr=p.w_lr, momentum=p.w_momentum, weight_decay=p.w_weight_decay)
    a_opt = torch.optim.Adam(net.arch.parameters(), lr=p.arch_lr, betas=(p.arch_beta1, p.arch_beta2))
    return net, w_opt, a_opt, batches, p


def iteration(net, w_opt, a_opt, batches, grad_clip: float) -> None:
    """One w step and one α/β step, as :meth:`Searcher.w_step` and :meth:`Searcher.arch_step` do them."""
    import torch
    import torch.nn.functional as F

    (xw, yw), (xa, ya) = batches
    net.train()
    loss = F.cross_entropy(net(xw, detach_arch=True), yw)
    w_opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(w_opt.param_groups[0]["params"], grad_clip)
    w_opt.step()
    weights = net.weights()
    for w in weights:
        w.requires_grad_(False)
    try:
        loss = F.cross_entropy(net(xa), ya)
    finally:
        for w in weights:
            w.requires_grad_(True)
    params = list(net.arch.parameters())
    grads = torch.autograd.grad(loss, params)
    a_opt.zero_grad(set_to_none=True)
    for p, g in zip(params, grads):
        p.grad = g
    a_opt.step()


def counted_flops(setup) -> int:
    """Convolution and matrix-product FLOPs of one iteration, forward and backward."""
    from torch.utils.flop_counter import FlopCounterMode

    net, w_opt, a_opt, batches, p = setup
    with FlopCounterMode(display=False) as counter:
        iteration(net, w_opt, a_opt, batches, p.grad_clip)
    return counter.get_total_flops()


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB. VmHWM is the peak resident set
    of this program alone: ``ru_maxrss`` would also carry the parent's peak across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status: peak memory is measured on Linux only")


def peak_memory_child(op_set: str, fused: bool, device: str, channels_last: bool) -> None:
    """In a fresh process: the rise in peak memory over the first two iterations after building, in MiB."""
    import torch

    torch.set_num_threads(1)
    net, w_opt, a_opt, batches, p = build(op_set, fused, device, channels_last=channels_last)
    if device.startswith("cuda"):
        iteration(net, w_opt, a_opt, batches, p.grad_clip)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        iteration(net, w_opt, a_opt, batches, p.grad_clip)
        torch.cuda.synchronize()
        rise = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        before = _status_kib("VmRSS")
        for _ in range(2):  # the second also holds the optimizers' state
            iteration(net, w_opt, a_opt, batches, p.grad_clip)
        rise = (_status_kib("VmHWM") - before) / 1024
    print(json.dumps({"peak_mib": rise}))


def peak_memory(op_set: str, fused: bool, device: str, channels_last: bool) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--peak-memory-child", op_set, str(int(fused)), device, str(int(channels_last))],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(op_set: str, rounds: int, device: str, channels_last: bool = True) -> list[dict]:
    """Alternate the paths ``rounds`` times after one warm-up each; median seconds per path."""
    import torch

    from sdas_lib.nets.fused import FUSED_OP_SETS
    from sdas_lib.run.loop import memory_format_for

    paths = {"reference": False, "fused" if op_set in FUSED_OP_SETS else "fused_unverified": True}

    def setup(name):
        return build(op_set, paths[name], device, channels_last=channels_last)

    setups = {name: setup(name) for name in paths}

    def run(name):
        net, w_opt, a_opt, batches, p = setups[name]
        sync(device)
        tick = time.perf_counter()
        iteration(net, w_opt, a_opt, batches, p.grad_clip)
        sync(device)
        return time.perf_counter() - tick

    times = {name: [] for name in paths}
    for name in paths:
        run(name)  # warm-up
    for _ in range(rounds):
        for name in paths:
            times[name].append(run(name))
    flops = {name: counted_flops(setup(name)) for name in paths}
    ref = statistics.median(times["reference"])
    _, _, _, batches, p = setups["reference"]
    fmt = {torch.channels_last: "channels_last", torch.channels_last_3d: "channels_last_3d"}.get(
        memory_format_for(batches[0][0].dim(), p.channels_last and channels_last), "contiguous")
    rows = []
    for name in paths:
        t = statistics.median(times[name])
        rows.append({
            "op_set": op_set, "path": name, "memory_format": fmt, "device": device, "rounds": rounds,
            "median_s": round(t, 4), "min_s": round(min(times[name]), 4), "max_s": round(max(times[name]), 4),
            "speedup_vs_reference": round(ref / t, 3),
            "useful_gflop": round(flops["reference"] / 1e9, 3), "executed_gflop": round(flops[name] / 1e9, 3),
            "achieved_gflops": round(flops[name] / 1e9 / t, 2),
            "peak_mib": round(peak_memory(op_set, paths[name], device, channels_last), 1),
        })
    return rows


def profile(op_set: str, device: str) -> str:
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile

    net, w_opt, a_opt, batches, p = build(op_set, True, device)
    iteration(net, w_opt, a_opt, batches, p.grad_clip)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        iteration(net, w_opt, a_opt, batches, p.grad_clip)
    n_calls = sum(e.count for e in prof.key_averages())
    text = (f"fused {op_set} iteration (the searches' memory format): {n_calls} profiled operator calls; top operators by self CPU time:\n"
            + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    print("\n" + text)
    return text


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    op_sets = ["o2d", "video_o2d", "video_o3d", "video_oadv"]
    ap.add_argument("--op-sets", nargs="+", default=op_sets, choices=op_sets, help="op sets to measure")
    ap.add_argument("--rounds", type=int, default=15, help="iterations per path, alternating")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="print the fused iteration's top operators")
    ap.add_argument("--out", type=Path, default=ROOT / "figures" / "supernet_iteration.csv")
    ap.add_argument("--memory-formats", nargs="+", default=["channels_last", "contiguous"],
                    choices=["channels_last", "contiguous"],
                    help="channels_last: the format the searches run in (channels_last_3d for video); contiguous: NCHW")
    ap.add_argument("--peak-memory-child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peak_memory_child:
        op_set, fused, device, channels_last = args.peak_memory_child
        return peak_memory_child(op_set, bool(int(fused)), device, bool(int(channels_last)))

    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for fmt in args.memory_formats:
        for op_set in args.op_sets:
            rows += measure(op_set, args.rounds, args.device, channels_last=fmt == "channels_last")
    print(f"{'op set':10} {'path':16} {'format':16} {'median s':>9} {'ratio':>6} {'useful GF':>10} {'exec GF':>8} {'GFLOP/s':>8} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['op_set']:10} {r['path']:16} {r['memory_format']:16} {r['median_s']:9.3f} {r['speedup_vs_reference']:6.2f} {r['useful_gflop']:10.2f} "
              f"{r['executed_gflop']:8.2f} {r['achieved_gflops']:8.2f} {str(r['peak_mib']):>9}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.out}")
    if args.profile:
        import datetime
        import platform

        tables = [profile(op_set, args.device) for op_set in args.op_sets]
        head = (f"# benchmarks/supernet_iteration.py --profile, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} "
                f"UTC, {platform.processor() or platform.machine()}, {args.threads} thread(s), device {args.device}\n")
        path = args.out.with_name(args.out.stem + "_profile.txt")
        path.write_text(head + "\n\n".join(tables) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
