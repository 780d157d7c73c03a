"""The paper's tables from a sweep's results (:func:`sdas_lib.run.sweep.sweep`): Tables 2, 4 and 5, and
the video Tables 6 (op sets), 8 (hand-crafted baselines) and 10 (transfer).

Each function takes the sweep's DataFrame (one row per schedule and seed) and returns a DataFrame
with one row per schedule, ``mean ± std`` over the seeds, beside the paper's figures
(:mod:`sdas_lib.core.paper`). Numbers are reported as measured.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Sequence

from ..core import paper
from ..errors import SdasError

ORDER = ("das", "A", "B", "C", "random")  # "random": Table 4's random cells (no search)
NAMES = {"das": "DAS", "A": "SDAS-A", "B": "SDAS-B", "C": "SDAS-C", "random": "Random"}


def mean_std(values: Sequence[float], digits: int = 3, scale: float = 1.0) -> str:
    """'0.983 ± 0.012' over the finite values (× ``scale``); '-' when there are none. Missing values (None,
    NaN, pandas' NA of a nullable column such as ``params`` after a failed retraining) are left out."""
    v = [float(x) * scale for x in values if _present(x)]
    if not v:
        return "-"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.{digits}f} ± {sd:.{digits}f}"


def _present(x) -> bool:
    """Whether ``x`` is a number and not missing (None, NaN or pandas.NA: ``NA == NA`` is NA, no bool)."""
    import pandas as pd

    return x is not None and not bool(pd.isna(x))


def _groups(df, searched_only: bool = False):
    """(schedule, its rows) in ORDER, failed runs left out; ``searched_only`` leaves out the random cells,
    which have no search weights."""
    done = df[df["status"] != "failed"] if "status" in df else df
    order = [s for s in ORDER if not (searched_only and s == "random")]
    return [(s, done[done["schedule"] == s]) for s in order if (done["schedule"] == s).any()]


def table2(df):
    """Table 2: test accuracy with the search weights, relaxed and discrete (and BN re-estimated), with the
    mixing weights kept between them ('-' for run folders written before that column existed)."""
    import pandas as pd

    rows = []
    for s, g in _groups(df, searched_only=True):
        relaxed, discrete = paper.TABLE2.get("DARTS" if s == "das" else f"SDAS-{s}", (None, None))
        rows.append({
            "method": NAMES[s], "seeds": len(g),
            "relaxed": mean_std(g["test_acc_relaxed"]),
            "discrete, mixing weights kept": mean_std(g["test_acc_discrete_weights_kept"]) if "test_acc_discrete_weights_kept" in g else "-",
            "discrete (paper's protocol)": mean_std(g["test_acc_discrete"]),
            "discrete, BN re-estimated": mean_std(g["test_acc_discrete_bn_reestimated"]),
            "paper relaxed %": relaxed, "paper discrete %": discrete,
        })
    return pd.DataFrame(rows)


def discretization_gap_parts(df):
    """Table 2's gap split in its parts, per schedule, mean over the seeds that measured all four columns:

    - ``choice of ops`` = relaxed − discrete with the mixing weights kept: what dropping the other ops
      and edges costs while every kept op keeps its supernet weight;
    - ``weights jump to 1`` = weights kept − discrete (the paper's protocol): Eq. 1 replacing each weight
      by 1 on the same BN statistics;
    - ``BN re-estimation recovers`` = discrete with BN re-estimated − discrete: the part of that jump
      that is stale BN statistics.

    Run folders written before the fourth column have no row.
    """
    import pandas as pd

    cols = ["test_acc_relaxed", "test_acc_discrete_weights_kept", "test_acc_discrete", "test_acc_discrete_bn_reestimated"]
    rows = []
    for s, g in _groups(df, searched_only=True):
        g = g[cols].astype(float).dropna() if all(c in g for c in cols) else g.iloc[:0]
        if len(g):
            relaxed, kept, discrete, bn = (g[c].mean() for c in cols)
            rows.append({"method": NAMES[s], "seeds": len(g), "choice of ops": relaxed - kept,
                         "weights jump to 1": kept - discrete, "BN re-estimation recovers": bn - discrete})
    return pd.DataFrame(rows, columns=["method", "seeds", "choice of ops", "weights jump to 1", "BN re-estimation recovers"])


def cost_column(df) -> str:
    """The column a search's cost is compared on: ``search_cpu_seconds`` (CPU time of the search iterations,
    which a shared CPU barely changes) when every finished search recorded it, else ``search_seconds`` (wall)."""
    done = df[df["status"] != "failed"] if "status" in df else df
    cpu = done.get("search_cpu_seconds")
    return "search_cpu_seconds" if cpu is not None and len(cpu) and cpu.notna().all() else "search_seconds"


def search_cost_table(folders):
    """Notebook 03: one search per schedule (``{schedule: run folder}``, DAS first), the cost model's ratio to
    DAS (:func:`~sdas_lib.core.history.history_cost_ratios`: the scheduled phase, and the whole search with its
    warm-up) beside the measured wall and CPU seconds of its iterations and their ratios to the first row's,
    with the median 1-minute load during the search and the machine's cores (a load above them: it shared the
    CPU, which stretches the wall seconds, not the CPU seconds)."""
    import pandas as pd

    from ..core.history import history_cost_ratios, load_history
    from .search import read_iteration_times

    rows = []
    for s, folder in folders.items():
        times, cpus = read_iteration_times(folder)
        ratios = history_cost_ratios(load_history(folder))
        rows.append({
            "schedule": s, "model: scheduled phase": round(ratios["scheduled"], 3),
            "model: whole search": round(ratios["whole"], 3),
            "measured seconds": round(sum(r["seconds"] for r in times), 1),
            "measured CPU seconds": round(sum(r["cpu_seconds"] for r in times), 1),
            "median load": sorted(r["load_average"] for r in times)[len(times) // 2], "cores": cpus,
        })
    cost = pd.DataFrame(rows)
    for measured, ratio in (("measured seconds", "measured / first"), ("measured CPU seconds", "CPU / first")):
        cost[ratio] = (cost[measured] / cost.loc[0, measured]).round(3)
    return cost.rename(columns={"measured / first": f"measured / {cost.loc[0, 'schedule']}",
                                "CPU / first": f"CPU / {cost.loc[0, 'schedule']}"})


def table4(df):
    """Table 4: retrained test error (%), parameters and search cost per schedule, mean ± std; the cost
    against DAS on :func:`cost_column`."""
    import pandas as pd

    cost = cost_column(df)
    das = df[(df["schedule"] == "das") & (df.get("status", "done") != "failed")][cost]
    das_mean = statistics.mean(das) if len(das) else float("nan")
    rows = []
    for s, g in _groups(df):
        searched = s != "random"  # the random cells: no search, the paper's row has no std and no cost
        p = paper.TABLE4[s] if searched else paper.TABLE4_RANDOM
        rows.append({
            "method": NAMES[s], "seeds": len(g),
            "test error %": mean_std(1 - g["test_acc"], 2, 100) if "test_acc" in g else "-",
            "params": mean_std(g["params"], 0) if "params" in g else "-",
            "search seconds": mean_std(g["search_seconds"], 0),
            "search CPU seconds": mean_std(g[cost], 0) if cost == "search_cpu_seconds" else "-",
            "cost / DAS": f"{statistics.mean(g[cost]) / das_mean:.2f}" if das_mean == das_mean else "-",
            "paper error %": f"{p['error']} ± {p['error_std']}" if searched else f"{p['error']}",
            "paper params (M)": p["params_m"],
            "paper cost / DAS": f"{paper.search_cost_ratio(s):.2f}" if searched else "-",
        })
    return pd.DataFrame(rows)


def imagenet_mobile_sizes(genotype_files: Sequence) -> list[dict]:
    """Parameters and mult-adds of each genotype (a genotype.json path or a :class:`Genotype`) in the
    ImageNet mobile network (K=4, C1=24, C2=192, 224×224)."""
    from ..core.genotype import Genotype
    from ..nets.complexity import count_mult_adds, count_parameters
    from ..nets.evalnet import build_network, get_network

    import torch

    spec = get_network("imagenet")
    out = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one 224×224 forward per network: on a shared CPU more threads only spin-wait
    try:
        for path in genotype_files:
            g = path if isinstance(path, Genotype) else Genotype.load(path, cell_types=spec.cell_types, k=None)
            net = build_network("imagenet", g, K=spec.K, C1=spec.C1, C2=spec.C2, num_classes=1000, auxiliary=False)
            out.append({"genotype": str(path), "params": count_parameters(net),
                        "mult_adds": count_mult_adds(net, spec.input_shape(spec.resolution))})
    finally:
        torch.set_num_threads(threads)
    return out


def table5(df, reference=None):
    """Table 5's size columns: the found cells at ImageNet-mobile size (params, mult-adds in M), beside
    DARTS_V2 (``reference``: its sizes as :func:`imagenet_mobile_sizes` gives them) and the paper."""
    import pandas as pd

    rows = []
    for s, g in _groups(df, searched_only=True):
        sizes = imagenet_mobile_sizes([Path(f) / "genotype.json" for f in g["folder"]])
        p = paper.TABLE5[s] if s in paper.TABLE5 else {}
        rows.append({
            "method": NAMES[s], "seeds": len(g),
            "params (M)": mean_std([r["params"] / 1e6 for r in sizes], 2),
            "mult-adds (M)": mean_std([r["mult_adds"] / 1e6 for r in sizes], 0),
            "paper params (M)": p.get("params_m"), "paper mult-adds (M)": p.get("mult_adds_m"),
        })
    if reference is not None:
        p = paper.TABLE5["DARTS"]
        rows.append({"method": "DARTS_V2 (reference)", "seeds": "-", "params (M)": f"{reference['params'] / 1e6:.2f}",
                     "mult-adds (M)": f"{reference['mult_adds'] / 1e6:.0f}", "paper params (M)": p["params_m"],
                     "paper mult-adds (M)": p["mult_adds_m"]})
    return pd.DataFrame(rows)


# -- video ---------------------------------------------------------------------------------------

OP_SET_ORDER = ("video_o2d", "video_o3d", "video_oadv")
OP_SET_NAMES = {"video_o2d": "O2D", "video_o3d": "O3D", "video_oadv": "Oadv"}


def table6(df):
    """Table 6: each op set searched by each schedule: search seconds and cost against DAS on the same
    op set (on :func:`cost_column`), then the found cells retrained from scratch (the sweep's retrain columns): params and test
    error; and the error of the derived cells with the search weights (BN re-estimated) beside it.
    Mean ± std over seeds."""
    import pandas as pd

    done = df[df["status"] != "failed"] if "status" in df else df
    rows = []
    for op in [o for o in OP_SET_ORDER if (done["op_set"] == o).any()]:
        of_op = done[done["op_set"] == op]
        cost = cost_column(of_op)
        das = of_op[of_op["schedule"] == "das"][cost]
        das_mean = statistics.mean(das) if len(das) else float("nan")
        for s, g in _groups(of_op):
            p = paper.TABLE6.get((s, op), {})
            retrained = g[g["retrain_status"] != "failed"] if "retrain_status" in g else g.iloc[:0]
            rows.append({
                "method": NAMES[s], "ops": OP_SET_NAMES[op], "seeds": len(g),
                "search seconds": mean_std(g["search_seconds"], 0),
                "search CPU seconds": mean_std(g[cost], 0) if cost == "search_cpu_seconds" else "-",
                "cost / DAS": f"{statistics.mean(g[cost]) / das_mean:.2f}" if das_mean == das_mean else "-",
                "params": mean_std(retrained["params"], 0) if len(retrained) else "-",
                "error % (retrained)": mean_std(1 - retrained["test_acc"], 2, 100) if len(retrained) else "-",
                "error % (search weights)": mean_std(1 - g["test_acc_discrete_bn_reestimated"], 2, 100),
                "paper GPU days": p.get("gpu_days"), "paper params (M)": p.get("params_m"),
                "paper error %": f"{p['error']} ± {p['error_std']}" if p else None,
            })
    return pd.DataFrame(rows)


def transfer_table(df, baselines=None):
    """Table 10 (and Table 8's columns) at the course's scale: cells retrained on other labels than they
    were searched on (the sweep's retrain columns), beside hand-crafted baselines (:func:`~sdas_lib.run.sweep.train_baselines`):
    params and test error %, mean ± std over seeds."""
    import pandas as pd

    if "retrain_status" not in df:
        raise SdasError("transfer_table needs a sweep with retrain=True (its retrain columns)")
    done = df[(df["status"] != "failed") & (df["retrain_status"] != "failed")]
    rows = []
    for op in [o for o in OP_SET_ORDER if (done["op_set"] == o).any()]:
        for s, g in _groups(done[done["op_set"] == op]):
            rows.append({"network": f"{NAMES[s]} cells ({OP_SET_NAMES[op]})", "seeds": len(g),
                         "params": mean_std(g["params"], 0), "test error %": mean_std(1 - g["test_acc"], 2, 100)})
    if baselines is not None:
        ok = baselines[baselines["status"] != "failed"]
        for arch, g in ok.groupby("arch", sort=False):
            rows.append({"network": f"{arch} (width / {g['width_divisor'].iloc[0]})", "seeds": len(g),
                         "params": mean_std(g["params"], 0), "test error %": mean_std(1 - g["test_acc"], 2, 100)})
    return pd.DataFrame(rows)


# Table 8 counts mult-adds for one 16x112x112 clip (nets/baselines.py: it fits a count that ignores the
# temporal pools; ours builds them).
TABLE8_CLIP = (3, 16, 112, 112)


def table8_mult_adds(arch: str, width_divisor: int, num_classes: int = 10, clip=TABLE8_CLIP) -> int:
    """Mult-adds of a Fig. 10 baseline for one clip of Table 8's size (built on the meta device: no memory,
    no weights), to set beside Table 8's figures."""
    import torch

    from ..nets.baselines import build_baseline
    from ..nets.complexity import count_mult_adds

    with torch.device("meta"):
        model = build_baseline(arch, num_classes, width_divisor)
    return count_mult_adds(model, clip, device="meta")


def baseline_table(cells, baselines):
    """Table 8 at the course's scale: found cells retrained on the search's labels (a sweep with
    ``retrain=True``), beside hand-crafted baselines (:func:`~sdas_lib.run.sweep.train_baselines`) at each
    width, on the same labels. Mean ± std over seeds of params, mult-adds (M, one clip of the run's size),
    train accuracy % (the last epoch's: evidence a net learns) and test error %; for the baselines, their
    mult-adds at Table 8's 16x112x112 clip (G) beside Table 8's params and mult-adds (width / 4)."""
    import pandas as pd

    if "retrain_status" not in cells:
        raise SdasError("baseline_table needs a sweep with retrain=True (its retrain columns)")
    done = cells[(cells["status"] != "failed") & (cells["retrain_status"] != "failed")]

    def row(network, g, **extra):
        return {"network": network, "seeds": len(g), "params": mean_std(g["params"], 0),
                "mult-adds (M)": mean_std(g["mult_adds"], 2, 1e-6), "train acc %": mean_std(g["train_acc"], 1, 100),
                "test error %": mean_std(1 - g["test_acc"], 2, 100), **extra}

    rows = []
    for op in [o for o in OP_SET_ORDER if (done["op_set"] == o).any()]:
        for s, g in _groups(done[done["op_set"] == op]):
            rows.append(row(f"{NAMES[s]} cells ({OP_SET_NAMES[op]})", g))
    ok = baselines[baselines["status"] != "failed"]
    for (arch, width), g in ok.groupby(["arch", "width_divisor"], sort=False):
        ref = paper.TABLE8.get(arch, {})
        rows.append(row(f"{arch} (width / {width})", g, **{
            "mult-adds at 16x112x112 (G)": f"{table8_mult_adds(arch, int(width)) / 1e9:.3f}",
            "paper params (M)": ref.get("params_m", "-") if width == 4 else "-",
            "paper mult-adds (G)": ref.get("mult_adds_g", "-") if width == 4 else "-"}))
    return pd.DataFrame(rows).fillna("-")


def table7(sizes):
    """Table 7 at the course's scale: the same cells retrained at each network size (K, C1, C2) of
    :func:`~sdas_lib.run.sweep.sweep_sizes`: params and test error %, mean ± std over seeds, beside
    Table 7's rows (K = 2; C1, C2 at 1/2, 3/4 and 1 of the default, matched by rank)."""
    import pandas as pd

    done = sizes[(sizes["status"] != "failed") & (sizes["retrain_status"] != "failed")]
    rows = []
    for (label, k, c1, c2), g in done.groupby(["size", "K", "C1", "C2"], sort=False):
        rows.append({"K": k, "C1": c1, "C2": c2, "seeds": len(g), "params": mean_std(g["params"], 0),
                     "test error %": mean_std(1 - g["test_acc"], 2, 100), "_size": (k, c1, c2)})
    rows.sort(key=lambda r: r.pop("_size"))  # Table 7's order: more cells, then wider
    widths = paper.TABLE7[:3]  # Table 7's first three rows: C1 and C2 at 1/2, 3/4 and 1 of the largest, one K
    if len(rows) != len(widths):  # matched by rank only when the sizes are three widths, as those rows
        return pd.DataFrame(rows)
    for r, ref in zip(rows, widths):
        r["paper K, C1, C2"] = f"{ref['K']}, {ref['C1']}, {ref['C2']}"
        r["paper params (M)"], r["paper error %"] = ref["params_m"], ref["error"]
    return pd.DataFrame(rows)


__all__ = [
    "baseline_table", "table7", "table8_mult_adds", "TABLE8_CLIP",
    "table2", "discretization_gap_parts", "cost_column", "search_cost_table", "table4", "table5", "imagenet_mobile_sizes", "mean_std", "table6", "transfer_table",
    "OP_SET_ORDER", "OP_SET_NAMES",
]
