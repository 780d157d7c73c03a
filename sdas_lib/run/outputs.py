"""What a finished run folder says: the readers of a search's and a retraining's outputs.

The sweep's table (:mod:`sdas_lib.run.sweep`) and the reproduction report (:mod:`sdas_lib.report`) read
run folders through these, so that both report the same numbers. A search's ``search_seconds`` is the
time of its search iterations (w step, α/β step and decisions: the sum of ``iterations.csv``), without
the evaluations and checkpoint writes, which cost DAS's unpruned supernet more; ``search_cpu_seconds``
is the same iterations' CPU time (core-seconds of the search's process), which another process sharing
the cores barely changes: the report judges search cost on it (NaN for folders written before it).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ..core.genotype import Genotype
from ..errors import SdasError

# The last epoch's accuracies a search reports (metrics.csv columns, Table 2's four). Run folders
# written before "discrete, mixing weights kept" existed lack its column: it reads as NaN.
SEARCH_ACCURACIES = (
    "test_acc_relaxed", "test_acc_discrete_weights_kept", "test_acc_discrete", "test_acc_discrete_bn_reestimated",
)


def genotype_line(genotype: Genotype) -> str:
    """A genotype on one line: ``normal: n2=... | concat 2,3,4,5 / reduce: ...``."""
    return " / ".join(f"{name}: {cell}" for name, cell in genotype.cells)


def _last_row(path: Path) -> dict[str, str]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SdasError(f"{str(path)!r} has no epoch rows")
    return rows[-1]


def search_seconds(folder: str | os.PathLike, column: str = "seconds") -> float:
    """The seconds of a finished search's iterations (the sum of its iterations.csv), evaluations apart.

    Args:
        column: ``"seconds"`` (wall) or ``"cpu_seconds"`` (CPU time; NaN for files written before it existed).
    """
    from .search import read_iteration_times

    rows, _ = read_iteration_times(folder)
    return sum(r[column] for r in rows)


def first_decision_train_acc(folder: str | os.PathLike) -> float:
    """The supernet's w-train accuracy at a search's first decision (decisions.json's ``first_decision``);
    NaN for a folder written before it was recorded, or without a decisions.json."""
    path = Path(folder) / "decisions.json"
    if not path.is_file():
        return float("nan")
    record = json.loads(path.read_text()).get("first_decision") or {}
    value = record.get("train_acc")
    return float("nan") if value is None else float(value)


def search_outputs(folder: str | os.PathLike) -> dict:
    """What a finished search folder says: genotype, iteration seconds, the last epoch's test accuracies,
    the last epoch's w-train accuracy (``train_acc``) and the one at the first decision
    (``first_decision_train_acc``, NaN in older folders), data set and preset name."""
    folder = Path(folder)
    last = _last_row(folder / "metrics.csv")
    config = json.loads((folder / "config.json").read_text())
    return {
        "genotype": genotype_line(Genotype.load(folder / "genotype.json")),
        "search_seconds": search_seconds(folder), "search_cpu_seconds": search_seconds(folder, "cpu_seconds"),
        **{k: float(last.get(k) or "nan") for k in SEARCH_ACCURACIES},
        "train_acc": float(last.get("train_acc") or "nan"),
        "first_decision_train_acc": first_decision_train_acc(folder),
        "dataset": config["dataset"], "preset_name": config["preset"]["name"],
    }


def random_cell_outputs(folder: str | os.PathLike) -> dict:
    """What a random-cell folder of a sweep says (Table 4's random control): its genotype, no search
    (zero search seconds, no search accuracies) and the preset it was drawn for."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    return {
        "genotype": genotype_line(Genotype.load(folder / "genotype.json")),
        "search_seconds": 0.0, "search_cpu_seconds": 0.0, **dict.fromkeys(SEARCH_ACCURACIES, float("nan")),
        "train_acc": float("nan"), "first_decision_train_acc": float("nan"),
        "dataset": "", "preset_name": config["preset"]["name"],
    }


def retrain_outputs(folder: str | os.PathLike) -> dict:
    """What a finished retraining folder says (its result.json): params, test accuracy, seconds, data set, and
    ``train_acc`` (the last epoch's running train accuracy) and ``mult_adds``.

    Folders written before result.json held ``train_acc`` give the last row of their metrics.csv; NaN where
    neither has it (as ``mult_adds`` of a result.json without it).
    """
    folder = Path(folder)
    result = json.loads((folder / "result.json").read_text())
    train_acc = result.get("train_acc")
    if train_acc is None and (folder / "metrics.csv").is_file():
        train_acc = _last_row(folder / "metrics.csv").get("train_acc")
    return {
        "params": int(result["params"]), "test_acc": float(result["test_acc"]),
        "retrain_seconds": float(result["seconds"]), "retrain_dataset": result["dataset"],
        "train_acc": float(train_acc) if train_acc not in (None, "") else float("nan"),
        "mult_adds": float(result.get("mult_adds", float("nan"))),
    }


def finished_outputs(folder: str | os.PathLike, search: bool) -> dict | None:
    """A run folder's outputs (:func:`search_outputs` or :func:`retrain_outputs`); None while the run does not
    exist yet or has not finished (no genotype.json / result.json). A finished folder that cannot be read
    raises :class:`SdasError` naming it."""
    folder = Path(folder)
    if not (folder / ("genotype.json" if search else "result.json")).is_file():
        return None
    try:
        return search_outputs(folder) if search else retrain_outputs(folder)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SdasError(
            f"{str(folder)!r} holds a finished run that cannot be read ({type(err).__name__}: {err}); remove that "
            f"folder and run its sweep again to remake it"
        ) from err


__all__ = ["SEARCH_ACCURACIES", "genotype_line", "search_seconds", "first_decision_train_acc", "search_outputs", "retrain_outputs", "finished_outputs"]
