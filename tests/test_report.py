"""The reproduction report reads every seed's runs, judges the paper's claims by stated tests, and refuses a
broken run folder instead of quietly calling its claims "not testable". Run folders are written by hand
here (a random-walk decision history, the files a finished search and retraining leave), so no network runs."""

import json

import pytest

from sdas_lib.core.genotype import DARTS_V2
from sdas_lib.core.history import random_walk_document
from sdas_lib.core.space import IMAGE_SPACE
from sdas_lib.core.verdicts import BY_CONSTRUCTION, CONTRADICTED, NOT_TESTABLE, REPRODUCED
from sdas_lib.errors import SdasError
from sdas_lib.report import collect_results, reproduction_report, table1_rows, verdict_counts

T = 40
ACCURACY = {"das": (0.90, 0.40), "A": (0.93, 0.93), "B": (0.94, 0.94), "C": (0.92, 0.92)}  # relaxed, discrete
SECONDS = {"das": 1.0, "A": 0.55, "B": 0.75, "C": 0.45}  # per iteration
RETRAINED = {"das": 0.80, "A": 0.85, "B": 0.86, "C": 0.84, "random": 0.70}


def write_search(folder, schedule, seed):
    folder.mkdir(parents=True)
    (folder / "decisions.json").write_text(json.dumps(random_walk_document(IMAGE_SPACE, T, schedule, seed)))
    DARTS_V2.save(folder / "genotype.json")
    (folder / "config.json").write_text(json.dumps({"dataset": "digits (synthetic)", "preset": {"name": "micro"}}))
    relaxed, discrete = ACCURACY[schedule]
    jitter = 0.002 * seed
    (folder / "metrics.csv").write_text(
        "epoch,test_acc_relaxed,test_acc_discrete,test_acc_discrete_bn_reestimated,seconds\n"
        f"1,{relaxed + jitter},{discrete - jitter},{discrete},999\n")  # 999: evaluations included, not read
    rows = "".join(f"{t},0,{SECONDS[schedule] * (1 + 0.01 * seed)},1.0\n" for t in range(1, T + 1))
    (folder / "iterations.csv").write_text(f"# cpu_count=2 threads=1\niteration,decisions_before,seconds,load_average\n{rows}")


def write_retrain(folder, schedule, seed):
    folder.mkdir(parents=True)
    result = {"params": 1000 + seed, "test_acc": RETRAINED[schedule] + 0.003 * seed, "seconds": 5.0, "dataset": "digits"}
    (folder / "result.json").write_text(json.dumps(result))


@pytest.fixture(autouse=True)
def no_committed_planted_table(monkeypatch, tmp_path):
    """The report reads figures/planted_recovery.csv by default: these tests must not depend on it."""
    import sdas_lib.report

    monkeypatch.setattr(sdas_lib.report, "PLANTED_CSV", tmp_path / "no-planted-table.csv")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for schedule in ("das", "A", "B", "C"):
        for seed in range(3):
            write_search(root / f"search-{schedule}-s{seed}", schedule, seed)
            write_retrain(root / f"retrain-{schedule}-s{seed}", schedule, seed)
    for seed in range(3):  # Table 4's random cells: a genotype and a config, no search; retrained like the rest
        (root / f"search-random-s{seed}").mkdir()
        DARTS_V2.save(root / f"search-random-s{seed}" / "genotype.json")
        (root / f"search-random-s{seed}" / "config.json").write_text(json.dumps({"schedule": "random", "seed": seed}))
        write_retrain(root / f"retrain-random-s{seed}", "random", seed)
    (root / "search-A-s7").mkdir()  # a run that has not finished yet: left out
    return root


def test_every_seed_is_read_and_search_seconds_are_the_iterations(runs):
    results = collect_results(runs)
    assert [f.name for f in results["histories"]["A"]] == ["search-A-s0", "search-A-s1", "search-A-s2"]
    assert results["search"]["das"]["search_seconds"] == pytest.approx([T * 1.0, T * 1.01, T * 1.02])
    assert len(results["retrain"]["B"]["test_acc"]) == 3 and results["datasets"] == {"digits, preset micro"}
    assert len(results["retrain"]["random"]["test_acc"]) == 3 and "random" not in results["search"]


def test_the_claims_as_the_paper_states_them(runs):
    report = reproduction_report(runs).set_index("claim")
    v = report["verdict"]
    assert v["space"] == BY_CONSTRUCTION and v["space_end"] == BY_CONSTRUCTION
    assert v["row_0.1"] == CONTRADICTED and "after 3 decisions" in report.loc["row_0.1", "measured"]
    assert "after 4 decisions" in report.loc["row_0.1", "measured"]
    assert v["t2_das_gap"] == REPRODUCED and v["t2_sdas_highest"] == REPRODUCED and v["t2_sdas_equal"] == REPRODUCED
    assert all(v[f"error_{s}"] == REPRODUCED for s in "ABC") and report.loc["error_A", "family"] == "table4_vs_das"
    assert all(v[f"cost_{s}"] == REPRODUCED for s in "ABC")
    assert all(v[f"random_{s}"] == REPRODUCED for s in ("das", "A", "B", "C"))  # each beats the random cells
    assert set(report.loc[[f"random_{s}" for s in ("das", "A", "B", "C")], "family"]) == {"table4_vs_random"}
    assert v["cifar_error"] == NOT_TESTABLE and v["table9"] == NOT_TESTABLE and v["video_vs_das_oadv"] == NOT_TESTABLE
    row = report.loc["error_B"]
    assert row["n"] == "3, 3" and float(row["p"]) < 0.05 and float(row["min. detectable effect"]) > 0
    assert row["paper data"] == "CIFAR10" and row["measured on"] == "digits, preset micro"
    assert "\"" in row["text"]  # the paper's words, quoted
    assert sum(verdict_counts(report.reset_index()).values()) == len(report)


def test_table1_rows_set_every_seed_beside_the_paper(runs):
    rows = table1_rows(collect_results(runs))
    assert list(rows.columns) == ["t/T", "paper", "search-A-s0", "search-A-s1", "search-A-s2"]
    assert rows.iloc[-1]["search-A-s0"] == "1 (36 decisions)"


def test_a_broken_run_folder_is_an_error_naming_it(runs, tmp_path):
    import shutil

    broken = tmp_path / "runs"
    shutil.copytree(runs, broken)
    (broken / "search-C-s1" / "metrics.csv").write_text("epoch\n")  # finished (genotype.json) but unreadable
    with pytest.raises(SdasError, match="search-C-s1.*cannot be read.*remove that folder"):
        collect_results(broken)


def test_searched_cells_that_do_not_beat_random_ones_are_not_reproduced(runs, tmp_path):
    import shutil

    worse = tmp_path / "runs"
    shutil.copytree(runs, worse)
    for seed in range(3):  # random cells as good as SDAS-B's
        result = json.loads((worse / f"retrain-random-s{seed}" / "result.json").read_text())
        (worse / f"retrain-random-s{seed}" / "result.json").write_text(json.dumps({**result, "test_acc": 0.90 + 0.003 * seed}))
    v = reproduction_report(worse).set_index("claim")["verdict"]
    assert not any(v[f"random_{s}"] == REPRODUCED for s in ("das", "A", "B", "C"))


def test_the_report_reads_only_the_seeds_it_is_given(tmp_path):
    """A runs folder can hold more seeds than the course ran (benchmarks/stability.py adds some): with
    ``seeds`` only those runs are read."""
    from sdas_lib.report import _run_folders

    for name in ("search-A-s0", "search-A-s1", "retrain-A-s3", "search-C-o3d-s3", "baseline-res50-2d-s1", "notes"):
        (tmp_path / name).mkdir()
    assert [f.name for f in _run_folders(tmp_path, [0, 1])] == ["baseline-res50-2d-s1", "search-A-s0", "search-A-s1"]
    assert len(_run_folders(tmp_path)) == 5 and _run_folders(tmp_path / "missing", [0]) == []


def test_search_cost_is_judged_on_cpu_seconds_when_every_run_recorded_them(runs, tmp_path):
    """Wall seconds grow when another process shares the cores; the CPU seconds of the iterations barely do.
    Here SDAS-C's wall clock says it was slower than DAS (it shared the machine), its CPU time that it was faster."""
    import shutil

    shared = tmp_path / "runs"
    shutil.copytree(runs, shared)
    for schedule in ("das", "A", "B", "C"):
        for seed in range(3):
            wall = {"das": 1.0, "A": 0.55, "B": 0.75, "C": 3.0}[schedule] * (1 + 0.01 * seed)
            cpu = SECONDS[schedule] * (1 + 0.01 * seed)
            rows = "".join(f"{t},0,{wall},4.0,{cpu}\n" for t in range(1, T + 1))
            (shared / f"search-{schedule}-s{seed}" / "iterations.csv").write_text(
                f"# cpu_count=2 threads=1\niteration,decisions_before,seconds,load_average,cpu_seconds\n{rows}")
    report = reproduction_report(shared).set_index("claim")
    assert report.loc["cost_C", "verdict"] == REPRODUCED and "CPU seconds" in report.loc["cost_C", "measured"]
    (shared / "search-C-s2" / "iterations.csv").write_text(  # one run from before the column: wall seconds for all
        "# cpu_count=2 threads=1\niteration,decisions_before,seconds,load_average\n" + "1,0,120.0,4.0\n")
    report = reproduction_report(shared).set_index("claim")
    assert report.loc["cost_C", "verdict"] == CONTRADICTED and "wall seconds" in report.loc["cost_C", "measured"]


def write_planted_csv(path, das, sdas):
    """A planted-cell benchmark table by hand: 'both' per run at the kind level (and a row at the op level)."""
    lines = ["teacher,schedule,seed,level,topology,op,both,chance_topology,chance_op,chance_both,n_edges,T,genotype"]
    for schedule, values in (("das", das), *((s, sdas) for s in "ABC")):
        for seed, v in enumerate(values):
            lines.append(f"0,{schedule},{seed},kind,0.7,0.5,{v},0.64,0.43,0.3,16,8,g")
            lines.append(f"0,{schedule},{seed},op,0.7,0.5,0.99,0.64,0.14,0.1,16,8,g")  # not the judged level
    path.write_text("\n".join(lines) + "\n")


def test_the_planted_cell_claims_are_the_projects_test_judged_as_one_family(runs, tmp_path):
    csv = tmp_path / "planted_recovery.csv"
    write_planted_csv(csv, das=[0.30, 0.32, 0.31, 0.29, 0.33], sdas=[0.50, 0.52, 0.49, 0.51, 0.53])
    report = reproduction_report(runs, planted_csv=csv).set_index("claim")
    for s in "ABC":
        row = report.loc[f"planted_{s}"]
        assert row["verdict"] == REPRODUCED and row["family"] == "planted_vs_das" and "Holm over 3" in row["test"]
        assert "not a table of the paper" in row["text"] and "not a table of the paper" in row["measured"]
        assert row["paper"] == "not in the paper" and row["n"] == "5, 5"
        assert "planted cells of teachers 0" in row["measured on"]
        assert "chance (a uniform random cell) 0.3" in row["measured"]
        assert row["measured"].count("the seeds alone") + row["measured"].count("shown at p") <= 1  # Holm's words only
    write_planted_csv(csv, das=[0.50, 0.52, 0.49, 0.51, 0.53], sdas=[0.30, 0.32, 0.31, 0.29, 0.33])
    assert (reproduction_report(runs, planted_csv=csv).set_index("claim")["verdict"]["planted_B"] == CONTRADICTED)


def test_the_planted_cell_claims_are_not_testable_without_the_benchmark(runs, tmp_path):
    report = reproduction_report(runs, planted_csv=tmp_path / "absent.csv").set_index("claim")
    for s in "ABC":
        assert report.loc[f"planted_{s}", "verdict"] == NOT_TESTABLE
        assert "benchmarks/planted_recovery.py" in report.loc[f"planted_{s}", "measured"]
    bad = tmp_path / "bad.csv"
    bad.write_text("schedule,seed\ndas,0\n")
    with pytest.raises(SdasError, match="bad.csv.*planted-cell benchmark.*run benchmarks/planted_recovery.py"):
        reproduction_report(runs, planted_csv=bad)


def test_the_cost_ratios_are_judged_on_the_scheduled_iterations_after_a_warm_up(tmp_path):
    """A weight-only warm-up (a w step alone) costs less per iteration than a mixed search iteration, and
    every schedule pays it alike: the ratio to DAS is judged on the iterations after it, against the
    model's scheduled-phase ratio. Here each scheduled iteration costs exactly the model's mixing fraction
    and each warm-up iteration half a mixed one: the scheduled ratio matches the model, while the whole
    search's ratio would sit well below the model's whole-search figure (which counts the warm-up as mixed)."""
    from sdas_lib.core.history import History, mixed_edge_fraction

    W = T
    for schedule in ("das", "C"):
        for seed in range(3):
            folder = tmp_path / f"search-{schedule}-s{seed}"
            write_search(folder, schedule, seed)
            doc = {**random_walk_document(IMAGE_SPACE, T, schedule, seed), "warmup_iterations": W, "epochs": 8}
            (folder / "decisions.json").write_text(json.dumps(doc))
            fractions = mixed_edge_fraction(History.from_dict(doc))
            rows = [f"{i},0,0.5,1.0,0.5,1\n" for i in range(1, W + 1)]
            rows += [f"{W + t},0,{f},1.0,{f},0\n" for t, f in enumerate(fractions, 1)]
            (folder / "iterations.csv").write_text(
                "# cpu_count=2 threads=1\niteration,decisions_before,seconds,load_average,cpu_seconds,warmup\n" + "".join(rows))
    report = reproduction_report(tmp_path).set_index("claim")
    assert report.loc["ratio_C", "verdict"] == REPRODUCED, report.loc["ratio_C", "measured"]
    assert "scheduled iterations" in report.loc["ratio_C", "measured"]
    assert "whole search" in report.loc["ratio_C", "measured"]
