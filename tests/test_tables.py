"""Tables 2, 4 and 5 from a sweep's results: mean ± std per schedule beside the paper's figures."""

import pandas as pd
import pytest

from sdas_lib.core.genotype import DARTS_V1, DARTS_V2
from sdas_lib.run.tables import cost_column, discretization_gap_parts, mean_std, table2, table4, table5


def results(test_acc_c=(0.95, 0.96, 0.97), folders=None):
    rows = []
    for s, accs in (("das", (0.90, 0.91, 0.89)), ("A", (0.92, 0.90, 0.91)), ("C", test_acc_c)):
        for seed, acc in enumerate(accs):
            rows.append({
                "schedule": s, "seed": seed, "status": "done", "folder": (folders or {}).get(s, ""),
                "test_acc_relaxed": 0.98, "test_acc_discrete": 0.1 if s == "das" else 0.9,
                "test_acc_discrete_bn_reestimated": 0.2 if s == "das" else 0.93,
                "search_seconds": {"das": 100.0, "A": 54.0, "C": 25.0}[s] + seed, "params": 1000 + seed, "test_acc": acc,
            })
    rows.append({**rows[0], "seed": 9, "status": "failed", "test_acc": 0.0})  # failed runs are left out
    return pd.DataFrame(rows)


def test_mean_std_formats_over_finite_values():
    assert mean_std([0.9, 1.0, float("nan")]) == "0.950 ± 0.071"
    assert mean_std([0.1], 2, 100) == "10.00 ± 0.00" and mean_std([]) == "-"


def test_table2_and_table4_per_schedule():
    t2 = table2(results())
    assert list(t2["method"]) == ["DAS", "SDAS-A", "SDAS-C"] and list(t2["seeds"]) == [3, 3, 3]
    assert t2.loc[0, "discrete (paper's protocol)"] == "0.100 ± 0.000" and t2.loc[0, "paper discrete %"] == 54.66
    assert set(t2["discrete, mixing weights kept"]) == {"-"}  # a sweep written before that column
    df = results().assign(test_acc_discrete_weights_kept=0.5)
    assert table2(df).loc[0, "discrete, mixing weights kept"] == "0.500 ± 0.000"
    t4 = table4(results())
    assert t4.loc[0, "test error %"] == "10.00 ± 1.00" and t4.loc[2, "cost / DAS"] == f"{26 / 101:.2f}"
    assert t4.loc[1, "paper cost / DAS"] == f"{0.31 / 0.52:.2f}" and t4.loc[0, "params"] == "1001 ± 1"


@pytest.mark.slow
def test_table5_sizes_the_found_cells_at_imagenet_mobile_scale(tmp_path):
    folders = {}
    for s, g in (("das", DARTS_V2), ("A", DARTS_V1), ("C", DARTS_V2)):
        (tmp_path / s).mkdir()
        g.save(tmp_path / s / "genotype.json")
        folders[s] = str(tmp_path / s)
    df = results(folders=folders)
    df = df[df["seed"] == 0]
    t5 = table5(df, reference={"params": 4_718_752, "mult_adds": 530_000_000})
    assert t5.loc[0, "params (M)"] == "4.72 ± 0.00"  # DARTS_V2: 4,718,752 parameters (pinned in test_complexity)
    assert list(t5["method"]) == ["DAS", "SDAS-A", "SDAS-C", "DARTS_V2 (reference)"]
    assert t5.loc[1, "paper params (M)"] == 4.6


def test_a_failed_retraining_leaves_its_row_out_of_table4_and_the_plot(tmp_path):
    from sdas_lib.viz.plots import _number, plot_accuracy_vs_params

    df = results()
    df.loc[1, ["params", "test_acc"]] = [None, float("nan")]  # DAS seed 1's retraining failed
    df["params"] = pd.array(df["params"].tolist(), dtype="Int64")  # as the sweep's table holds it
    assert df["params"].isna().sum() == 1
    t4 = table4(df)
    assert t4.loc[0, "params"] == "1001 ± 1" and t4.loc[0, "test error %"] == "10.50 ± 0.71"  # seeds 0 and 2 alone
    assert _number(df.loc[1, "params"]) != _number(df.loc[1, "params"])  # pandas.NA reads as NaN
    points = [{"name": f"{r.schedule}-s{r.seed}", "params": r.params, "test_acc": r.test_acc} for r in df.itertuples()]
    fig = plot_accuracy_vs_params(points, path=tmp_path / "fig.png")
    assert len(fig.axes[0].texts) == len(points) - 1 and (tmp_path / "fig.png").is_file()


def test_a_search_folder_written_before_the_fourth_table2_column_stays_readable(tmp_path):
    import json

    from sdas_lib.run.outputs import search_outputs

    DARTS_V2.save(tmp_path / "genotype.json")
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "digits", "preset": {"name": "micro"}}))
    (tmp_path / "iterations.csv").write_text("# cpu_count=2 threads=1\niteration,decisions_before,seconds,load_average\n1,0,0.5,0.1\n")
    (tmp_path / "metrics.csv").write_text(
        "epoch,test_acc_relaxed,test_acc_discrete,test_acc_discrete_bn_reestimated\n1,0.5,0.25,0.75\n")
    out = search_outputs(tmp_path)
    assert out["test_acc_discrete"] == 0.25 and out["search_seconds"] == 0.5
    assert out["test_acc_discrete_weights_kept"] != out["test_acc_discrete_weights_kept"]  # NaN: not measured


def test_the_gap_parts_add_up_to_relaxed_minus_discrete_over_the_seeds_that_measured_them():
    df = results()
    assert discretization_gap_parts(df).empty  # older folders: no fourth column, no parts
    df["test_acc_discrete_weights_kept"] = [0.5, 0.7, 0.6, 0.9, 0.9, 0.9, 0.95, 0.95, float("nan"), 0.0]
    parts = discretization_gap_parts(df).set_index("method")
    assert list(parts.index) == ["DAS", "SDAS-A", "SDAS-C"] and list(parts["seeds"]) == [3, 3, 2]
    das = parts.loc["DAS"]
    assert das["choice of ops"] == pytest.approx(0.98 - 0.6) and das["weights jump to 1"] == pytest.approx(0.6 - 0.1)
    assert das["choice of ops"] + das["weights jump to 1"] == pytest.approx(0.98 - 0.1)
    assert das["BN re-estimation recovers"] == pytest.approx(0.2 - 0.1)
    assert parts.loc["SDAS-C", "choice of ops"] == pytest.approx(0.98 - 0.95)


def test_random_cells_join_table4_but_not_table2():
    df = results()
    rand = [{"schedule": "random", "seed": seed, "status": "done", "folder": "", "test_acc_relaxed": float("nan"),
             "test_acc_discrete": float("nan"), "test_acc_discrete_bn_reestimated": float("nan"),
             "search_seconds": 0.0, "params": 900, "test_acc": acc} for seed, acc in enumerate((0.8, 0.9))]
    df = pd.concat([df, pd.DataFrame(rand)], ignore_index=True)
    assert "Random" not in set(table2(df)["method"])  # no search weights to test
    t4 = table4(df).set_index("method")
    assert t4.loc["Random", "test error %"] == "15.00 ± 7.07" and t4.loc["Random", "cost / DAS"] == "0.00"
    assert t4.loc["Random", "paper error %"] == "3.49" and t4.loc["Random", "paper cost / DAS"] == "-"


def test_the_cost_against_das_is_on_cpu_seconds_when_every_search_recorded_them():
    df = results()
    assert cost_column(df) == "search_seconds"  # a sweep written before the CPU-seconds column
    df["search_cpu_seconds"] = df["schedule"].map({"das": 50.0, "A": 40.0, "C": 10.0})
    t4 = table4(df)
    assert cost_column(df) == "search_cpu_seconds" and t4.loc[2, "cost / DAS"] == f"{10 / 50:.2f}"
    assert t4.loc[2, "search CPU seconds"] == "10 ± 0" and t4.loc[2, "search seconds"] == "26 ± 1"
    df.loc[1, "search_cpu_seconds"] = float("nan")  # one search without it: wall seconds for the whole table
    assert cost_column(df) == "search_seconds" and table4(df).loc[2, "cost / DAS"] == f"{26 / 101:.2f}"


def test_the_search_cost_table_sets_the_cost_model_beside_wall_and_cpu_seconds(tmp_path):
    import json

    from sdas_lib.core.history import history_cost_ratios, load_history, random_walk_document
    from sdas_lib.core.space import IMAGE_SPACE
    from sdas_lib.run.tables import search_cost_table

    folders = {}
    for s, (wall, cpu, load) in {"das": (2.0, 1.0, 0.5), "C": (3.0, 0.5, 4.0)}.items():  # C shared the machine
        folders[s] = tmp_path / f"search-{s}-s0"
        folders[s].mkdir()
        (folders[s] / "decisions.json").write_text(json.dumps(random_walk_document(IMAGE_SPACE, 10, s, 0)))
        rows = "".join(f"{t},0,{wall},{load},{cpu},0\n" for t in range(1, 11))
        (folders[s] / "iterations.csv").write_text(
            "# cpu_count=2 threads=1\niteration,decisions_before,seconds,load_average,cpu_seconds,warmup\n" + rows)
    cost = search_cost_table(folders).set_index("schedule")
    assert cost.loc["C", "measured / das"] == 1.5 and cost.loc["C", "CPU / das"] == 0.5  # the wall clock misleads
    assert cost.loc["C", "median load"] == 4.0 and cost.loc["C", "cores"] == 2
    want = history_cost_ratios(load_history(folders["C"]))
    assert cost.loc["C", "model: whole search"] == round(want["whole"], 3) and cost.loc["das", "model: scheduled phase"] == 1.0


def test_table7_sets_the_paper_rows_beside_three_widths_and_only_then():
    from sdas_lib.run.tables import table7

    rows = [{"size": f"K1_C{c1}_C{2 * c1}", "K": 1, "C1": c1, "C2": 2 * c1, "status": "done", "retrain_status": "done",
             "params": 1000 * c1 + seed, "test_acc": 0.5 + c1 / 100} for c1 in (16, 8, 12) for seed in range(2)]
    t7 = table7(pd.DataFrame(rows))
    assert list(t7["C1"]) == [8, 12, 16] and list(t7["paper K, C1, C2"]) == ["2, 16, 64", "2, 24, 96", "2, 32, 128"]
    two = table7(pd.DataFrame([r for r in rows if r["C1"] != 12]))
    assert list(two["C1"]) == [8, 16] and "paper K, C1, C2" not in two  # two sizes: no rank to match them by
