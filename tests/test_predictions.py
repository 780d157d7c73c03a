"""A finished run's predictions: the confusion matrices behind Tables 2, 4 and 6, read from its folder."""

import csv
import json

import pytest

from sdas_lib.errors import SdasError
from sdas_lib.run.predictions import Predictions, retrain_predictions, search_predictions


def test_predictions_count_the_classes_and_fill_the_matrix():
    p = Predictions((0, 0, 1, 2), (0, 2, 2, 2), ("a", "b", "c"), "toy", "net")
    assert p.accuracy == 0.5
    assert p.confusion_matrix().tolist() == [[1, 0, 1], [0, 0, 1], [0, 0, 1]]
    assert p.predicted_classes() == {"c": 3, "a": 1}


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(SdasError, match="not a search run folder"):
        search_predictions(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(SdasError, match="not a retraining's config.json"):
        retrain_predictions(tmp_path)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A micro DAS search and its retraining, through the sweep."""
    import dataclasses

    from sdas_lib.run.presets import TRAIN_PRESETS, get_preset
    from sdas_lib.run.sweep import sweep

    tmp = tmp_path_factory.mktemp("pred")
    train = dataclasses.replace(get_preset("micro", TRAIN_PRESETS), data_root=str(tmp / "data"))
    sweep(["das"], [0], tmp / "runs", preset="micro", retrain=True, train_preset=train, jobs=1,
          overrides={"data_root": str(tmp / "data")}, progress=False)
    return tmp / "runs"


def last_metrics(folder):
    with open(folder / "metrics.csv") as f:
        return list(csv.DictReader(f))[-1]


@pytest.mark.slow
def test_search_predictions_are_the_networks_table2_tested(finished):
    folder = finished / "search-das-s0"
    row = last_metrics(folder)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    plain = search_predictions(folder)
    assert plain.accuracy == pytest.approx(float(row["test_acc_discrete"]), abs=1e-9)
    assert len(plain.y_true) == len(plain.y_pred) and plain.confusion_matrix().sum() == len(plain.y_true)
    bn = search_predictions(folder, reestimate_bn=True)
    assert bn.accuracy == pytest.approx(float(row["test_acc_discrete_bn_reestimated"]), abs=1e-9)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before  # reads, writes nothing


@pytest.mark.slow
def test_retrain_predictions_are_the_retrained_networks(finished):
    folder = finished / "retrain-das-s0"
    result = json.loads((folder / "result.json").read_text())
    pred = retrain_predictions(folder)
    assert pred.accuracy == pytest.approx(result["test_acc"], abs=1e-9)
    assert len(pred.class_names) == 10


@pytest.mark.slow
def test_an_unfinished_search_is_refused_with_the_fix(finished, tmp_path):
    import shutil

    import torch

    folder = tmp_path / "search"
    shutil.copytree(finished / "search-das-s0", folder)
    ckpt = torch.load(folder / "checkpoint.pt", weights_only=False)
    ckpt["finished"] = False
    torch.save(ckpt, folder / "checkpoint.pt")
    (folder / "checkpoint.prev.pt").unlink(missing_ok=True)
    with pytest.raises(SdasError, match="has not finished.*--resume"):
        search_predictions(folder)
