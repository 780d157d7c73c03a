"""benchmarks/calibration.py: points checked before any run; the smoke grid runs, resumes and writes its row per point."""

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

from sdas_lib.errors import SdasError

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("calibration", ROOT / "benchmarks" / "calibration.py")
calibration = importlib.util.module_from_spec(spec)
spec.loader.exec_module(calibration)


def test_the_default_points_make_valid_tiny_presets():
    calibration.check_points(calibration.DEFAULT_POINTS, "tiny", "image")
    calibration.check_points(calibration.VIDEO_POINTS, "tiny", "video")
    assert calibration.read_points(None, "video") == calibration.VIDEO_POINTS


@pytest.mark.parametrize("points, message", [
    ({"../up": {}}, "must be a folder name"),
    ({"p": {"warmup": 3}}, "point 'p': unknown preset field 'warmup'"),
    ({"p": {"warmup_iterations": -2}}, "point 'p': --warmup_iterations must not be negative"),
])
def test_bad_points_are_refused_before_anything_runs(points, message, tmp_path):
    with pytest.raises(SdasError, match=message):
        calibration.check_points(points, "micro", "image")
    path = tmp_path / "points.json"
    path.write_text(json.dumps(points))
    with pytest.raises(SdasError, match=message):
        calibration.main(["--points", str(path), "--runs", str(tmp_path / "runs"), "--figures", str(tmp_path)])
    assert not (tmp_path / "runs").exists() and not (tmp_path / "calibration.csv").exists()


def test_a_points_file_that_is_no_object_and_an_unknown_only_are_refused(tmp_path):
    path = tmp_path / "points.json"
    path.write_text("[1, 2]")
    with pytest.raises(SdasError, match="object of named overrides"):
        calibration.main(["--points", str(path)])
    with pytest.raises(SdasError, match="no such point"):
        calibration.main(["--only", "nowhere", "--runs", str(tmp_path / "runs")])
    with pytest.raises(SdasError, match="at least 2 seeds"):
        calibration.main(["--seeds", "0", "--only", "no-warmup-T55", "--runs", str(tmp_path / "runs")])


def test_the_confirmation_point_is_the_tiny_preset_as_it_now_is_and_stays_an_image_run(tmp_path):
    from sdas_lib.run.presets import TINY, override

    (name, changes), = calibration.CONFIRM_POINTS.items()
    assert override(TINY, **changes) == TINY  # a change to the tiny preset must move the confirmation too
    assert calibration.CONFIRM_SCHEDULES == ["das", "A", "B", "C"] and len(calibration.CONFIRM_SEEDS) == 5
    for extra in (["--task", "video"], ["--smoke"]):
        with pytest.raises(SdasError, match="--confirm runs the chosen image point"):
            calibration.main(["--confirm", *extra, "--runs", str(tmp_path / "runs")])
    assert not (tmp_path / "runs").exists()


def test_a_kappa_of_exactly_zero_counts_as_measured_when_the_figure_picks_its_schedules():
    assert calibration._measured(0.0) and calibration._measured(-0.05)
    assert not calibration._measured(float("nan")) and not calibration._measured(None)


def test_rows_of_points_not_run_now_are_kept():
    old = [{"point": "a", "x": 1.0}, {"point": "b", "x": 2.0}]
    new = [{"point": "b", "x": 3.0}, {"point": "c", "x": 4.0}]
    assert calibration.merge_rows(old, new) == [{"point": "a", "x": 1.0}, {"point": "b", "x": 3.0},
                                                {"point": "c", "x": 4.0}]


@pytest.mark.slow  # several minutes on a shared 2-core machine
def test_the_smoke_grid_writes_one_row_per_point_and_resumes(tmp_path):
    args = ["--smoke", "--jobs", "1", "--runs", str(tmp_path / "runs"), "--figures", str(tmp_path)]
    rows = calibration.main(args)
    assert [r["point"] for r in rows] == list(calibration.SMOKE_POINTS)
    for r in rows:
        assert r["search_core_seconds"] > 0 and r["retrain_core_seconds"] > 0
        for s in ("das", "C"):
            assert 0 <= r[f"first_acc_{s}"] <= 1 and -1 <= r[f"kappa_{s}"] <= 1 and 0 <= r[f"stable_{s}"] <= 1
        assert r["target1_das"] == pytest.approx(1.0)  # DAS's first decision is at its end
        assert not math.isnan(r["error_random"])
    assert (tmp_path / "calibration.png").is_file()
    with open(tmp_path / "calibration.csv") as f:
        written = list(csv.DictReader(f))
    assert [w["point"] for w in written] == list(calibration.SMOKE_POINTS)
    again = calibration.main(args)  # everything complete: read, not rerun, the same numbers
    assert again == rows
