"""What a run feeds its network: the data set its preset names (images or clips), and how a test
sample is scored, one image or clip, or a video's several clips averaged (§5.2).

Shared by the search (:mod:`sdas_lib.run.search`) and the retraining loop (:mod:`sdas_lib.run.train`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ..data import PAPER_CLIPS, ImageData, VideoData, iterate_dataset, load_image_data, load_video_data
from ..data.video_clips import average_clip_scores
from ..core.recovery import planted_teacher
from .planted import load_planted_data
from .presets import SearchPreset


def load_run_data(preset, cutout: int = 0) -> ImageData:
    """The data set of ``preset``: :func:`load_image_data` for an image preset (:func:`load_planted_data` for
    ``planted`` / ``planted-<teacher>``), :func:`load_video_data`
    for a video one (clips of ``clip_len`` frames at ``resolution``, ``test_clips`` per test video).

    Args:
        preset: a search or retraining preset (``preset.task`` says images or video; a
            :class:`~sdas_lib.run.presets.SearchPreset` loads a data set's search sizes, any other its retraining sizes).
        cutout: cutout side for the file-backed image sets' training transforms (0: off).
    """
    if preset.task == "video":
        sampling = dataclasses.replace(PAPER_CLIPS, test_clips=preset.test_clips)
        return load_video_data(preset.dataset, preset.data_root, preset.resolution, preset.clip_len, sampling=sampling)
    if planted_teacher(preset.dataset) is not None:  # planted-cell task: noise labelled by a teacher
        return load_planted_data(preset.dataset, preset.resolution)
    purpose = "search" if isinstance(preset, SearchPreset) else "retrain"
    return load_image_data(preset.dataset, preset.data_root, preset.resolution, cutout=cutout, purpose=purpose)


def clips_per_test_sample(data: ImageData) -> int:
    """Clips per test sample: 1 for images and single-clip video sets, ``test_clips`` otherwise."""
    return data.test_clips if isinstance(data, VideoData) else 1


def iterate_test_set(data: ImageData, max_inputs: int, num_workers: int = 0,
                     shard: tuple[int, int] = (0, 1)) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The test set in order, in batches of at most ``max_inputs`` network inputs: a multi-clip
    video's N clips count N times, and a video's clips always stay in one batch. With
    ``shard=(rank, world)``, this process's share of the samples (see :func:`iterate_dataset`)."""
    yield from iterate_dataset(data.test, max(1, max_inputs // clips_per_test_sample(data)), num_workers, shard)


def score_test_batch(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multi_clip: bool,
                prepare: Callable[[torch.Tensor], torch.Tensor] = lambda x: x) -> tuple[torch.Tensor, bool]:
    """Scores of a test batch and whether they are probabilities.

    One input per sample (images (B, C, H, W), clips (B, C, T, H, W)): the logits, ``False``.
    Several clips per video (B, N, C, T, H, W): the mean over the N clips of their softmax scores
    (:func:`~sdas_lib.data.video_clips.average_clip_scores`, the video-level prediction of §5.2), ``True``.

    Args:
        net: the network, logits (M, classes) of M inputs.
        x: the batch. multi_clip: whether a sample is a stack of clips.
        prepare: applied to the network's input (device, memory format) after the clips are unstacked.
    """
    if multi_clip:
        return average_clip_scores(lambda clips: net(prepare(clips)), x), True
    return net(prepare(x)), False


def summed_test_loss(scores: torch.Tensor, probabilities: bool, y: torch.Tensor) -> float:
    """Summed cross-entropy of a test batch: of the logits, or of the averaged clip probabilities."""
    if probabilities:
        return F.nll_loss(scores.clamp_min(1e-12).log(), y, reduction="sum").item()
    return F.cross_entropy(scores, y, reduction="sum").item()


__all__ = ["load_run_data", "clips_per_test_sample", "iterate_test_set", "score_test_batch", "summed_test_loss"]
