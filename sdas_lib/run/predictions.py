"""What a finished run's network predicts on the test set: the confusion matrices behind Tables 2, 4 and 6.

Table 2's discrete column tests the derived genotype on the search weights and the supernet's
BatchNorm statistics. A finished search's checkpoint holds exactly that network: every decision is
made and nothing was trained or re-estimated after the last one (for DAS, every decision came at
t = T). Its predictions show *how* a discrete network fails, e.g. one class predicted for every
input, which on a balanced test set scores 1 / classes. A finished retraining's checkpoint holds the
network whose error Tables 4 and 6 report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import SdasError
from .checkpoints import load_checkpoint_file
from .inputs import clips_per_test_sample, iterate_test_set, score_test_batch
from .presets import SearchPreset, TrainPreset, VideoSearchPreset, VideoTrainPreset
from .search import Searcher
from .train import Trainer


@dataclass(frozen=True)
class Predictions:
    """Test-set labels and predictions of one network.

    Attributes:
        y_true, y_pred: one class index per test sample. class_names: one name per class.
        dataset: the data set's description, as the run recorded it. network: what was tested.
    """

    y_true: tuple[int, ...]
    y_pred: tuple[int, ...]
    class_names: tuple[str, ...]
    dataset: str
    network: str

    @property
    def accuracy(self) -> float:
        return sum(a == b for a, b in zip(self.y_true, self.y_pred)) / max(len(self.y_true), 1)

    def confusion_matrix(self):
        """(classes, classes) counts, row = true class, column = predicted (scikit-learn's convention)."""
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.y_true, self.y_pred, labels=list(range(len(self.class_names))))

    def predicted_classes(self) -> dict[str, int]:
        """How many test samples each class was predicted for (classes never predicted are left out)."""
        counts: dict[str, int] = {}
        for p in self.y_pred:
            counts[self.class_names[p]] = counts.get(self.class_names[p], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _finished_run(folder: Path, what: str, keys: tuple[str, ...], loop_cls) -> tuple[dict, dict]:
    """(config.json, checkpoint) of a finished run folder of the kind ``loop_cls`` writes."""
    path = folder / "config.json"
    if not path.is_file():
        raise SdasError(f"{str(folder)!r} is not a {what} run folder (no config.json); pass the folder a {what} wrote")
    try:
        cfg = json.loads(path.read_text())
        for key in keys:
            cfg[key]
    except (ValueError, KeyError, TypeError) as err:
        raise SdasError(f"{str(path)!r} is not a {what}'s config.json ({type(err).__name__}: {err})") from None
    ckpt, _, _ = load_checkpoint_file(folder, loop_cls.CHECKPOINT_FORMAT, loop_cls.CHECKPOINT_VERSION)
    if not ckpt.get("finished"):
        raise SdasError(
            f"the {what} in {str(folder)!r} has not finished; run it to the end first (the same command with --resume)"
        )
    return cfg, ckpt


def _predict(net: torch.nn.Module, data, prepare, network: str) -> Predictions:
    """Predictions of ``net`` (eval mode) on ``data``'s whole test set, in order."""
    net.eval()
    multi_clip = clips_per_test_sample(data) > 1
    y_true: list[int] = []
    y_pred: list[int] = []
    for x, y in iterate_test_set(data, 256, 0):
        scores, _ = score_test_batch(net, x, multi_clip, prepare)
        y_pred += scores.argmax(1).tolist()
        y_true += y.tolist()
    names = getattr(data, "class_names", None) or tuple(str(c) for c in range(data.num_classes))
    return Predictions(tuple(y_true), tuple(y_pred), tuple(names), data.description, network)


@torch.no_grad()
def search_predictions(
    folder: str | os.PathLike, device: str | torch.device = "cpu", reestimate_bn: bool = False
) -> Predictions:
    """The test-set predictions of a finished search's discrete network, with its search weights and
    BatchNorm statistics (Table 2's ``test_acc_discrete``). Reads the run folder; writes nothing.

    Args:
        folder: a finished search's run folder (config.json and checkpoint.pt).
        device: where to compute.
        reestimate_bn: re-estimate the BN statistics first, as Table 2's ``test_acc_discrete_bn_reestimated``
            does (on the same fixed w-train batches).
    """
    cfg, ckpt = _finished_run(Path(folder), "search", ("preset", "schedule", "seed"), Searcher)
    cls = VideoSearchPreset if cfg.get("task") == "video" else SearchPreset
    searcher = Searcher(cls(**cfg["preset"]), cfg["schedule"], cfg["seed"], device=device, progress=False, log=lambda line: None)
    searcher.load_model_state(ckpt)
    if not searcher.state.complete:
        raise SdasError(f"the checkpoint in {str(folder)!r} is finished but not fully decided; run the search again with --force")
    net = searcher.reestimate_batchnorm(searcher.net) if reestimate_bn else searcher.net
    what = "discrete network, search weights" + (", BN re-estimated" if reestimate_bn else "")
    return _predict(net, searcher.data, searcher.input_to_device, what)


@torch.no_grad()
def retrain_predictions(folder: str | os.PathLike, device: str | torch.device = "cpu") -> Predictions:
    """The test-set predictions of a finished retraining (``train`` or the sweep's ``retrain-*`` folders),
    the network whose error Tables 4 and 6 report. Reads the run folder; writes nothing.

    Args:
        folder: a finished retraining's run folder (config.json, genotype.json and checkpoint.pt).
        device: where to compute.
    """
    folder = Path(folder)
    cfg, ckpt = _finished_run(folder, "retraining", ("preset", "seed", "genotype"), Trainer)
    cls = VideoTrainPreset if cfg.get("task") == "video" else TrainPreset
    trainer = Trainer(cls(**cfg["preset"]), folder / "genotype.json", cfg["seed"], device=device, progress=False,
                      log=lambda line: None)
    trainer.load_model_state(ckpt)
    return _predict(trainer.net, trainer.data, trainer.input_to_device, "retrained network")


__all__ = ["Predictions", "search_predictions", "retrain_predictions"]
