"""The stability benchmark (benchmarks/stability.py): two disjoint seed sets of the course's runs, one report
each, compared claim by claim. The comparison on hand-written run folders (fast), and the whole benchmark
at the micro preset through the sweep, resumed when run again (slow)."""

import csv
import importlib.util
import json
import shutil

import pytest

from sdas_lib.core.verdicts import VERDICTS
from sdas_lib.report import compare_reports, reproduction_report, stability_summary
from sdas_lib.course import ROOT
from test_report import write_retrain, write_search


def load_benchmark():
    spec = importlib.util.spec_from_file_location("stability", ROOT / "benchmarks" / "stability.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_seed_set_is_judged_alone_and_the_reports_are_compared(tmp_path):
    stability = load_benchmark()
    runs = tmp_path / "runs"
    for schedule in ("das", "A", "B", "C"):
        for seed in range(4):
            write_search(runs / f"search-{schedule}-s{seed}", schedule, seed)
            write_retrain(runs / f"retrain-{schedule}-s{seed}", schedule, seed)
    first = stability.seed_view(runs, {0, 1}, tmp_path / "first")
    assert sorted(p.name for p in first.iterdir() if p.name.endswith("-s0") or p.name.endswith("-s1"))[:2] == [
        "retrain-A-s0", "retrain-A-s1"]
    assert not any(p.name.endswith(("-s2", "-s3")) for p in first.iterdir())
    reports = [reproduction_report(stability.seed_view(runs, s, tmp_path / name)) for name, s in
               (("a", {0, 1}), ("b", {2, 3}))]
    table = compare_reports(*reports)
    assert list(table.columns) == ["claim", "verdict_first", "verdict_second", "differs", "flipped", "mde_first", "mde_second"]
    assert set(table["verdict_first"]) <= set(VERDICTS) and len(table) == len(reports[0])
    s = stability_summary(table)
    assert s["flipped"] == [] and 0 < s["conclusive"] <= s["tested"]
    assert s["share_conclusive"] == s["conclusive"] / s["tested"]
    assert s["differs"] == list(table.loc[table["differs"], "claim"])
    table.to_csv(tmp_path / "t.csv", index=False)  # as notebook 07 reads it back: strings
    import pandas as pd

    assert stability_summary(pd.read_csv(tmp_path / "t.csv", dtype=str)) == s


@pytest.mark.slow
def test_the_benchmark_at_micro_runs_through_the_sweep_and_resumes(tmp_path, monkeypatch, capsys):
    stability = load_benchmark()
    monkeypatch.setenv("SDAS_CACHE", str(tmp_path / "cache"))
    runs, out = tmp_path / "runs", tmp_path / "report_stability.csv"
    args = ["--preset", "micro", "--first", "0", "1", "--second", "2", "3", "--runs-dir", str(runs), "--out", str(out),
            "--jobs", "2", "--data-root", str(tmp_path / "data")]
    rc = stability.main(args)
    printed = capsys.readouterr().out
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert {r["claim"] for r in rows} >= {"error_B", "cost_C", "video_vs_das_oadv", "row_0.1"}
    assert rc == (1 if any(r["flipped"] == "True" for r in rows) else 0)
    assert "conclusive verdicts:" in printed and "between reproduced and contradicted:" in printed
    assert (runs / "search-B-s3" / "genotype.json").is_file() and (runs / "video" / "transfer-C-oadv-s3").is_dir()
    assert (runs / "video" / "baseline-res50-3d-w16-s2" / "result.json").is_file()
    before = {p: p.stat().st_mtime_ns for p in runs.rglob("*") if p.is_file()}
    stability.main(args)  # again: every run is complete and only read
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("*") if p.is_file()} == before
    shutil.rmtree(runs / "retrain-A-s1")  # a lost run: made again, the rest reused
    stability.main(args)
    assert json.loads((runs / "retrain-A-s1" / "result.json").read_text())["seed"] == 1
