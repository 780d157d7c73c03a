"""What a network needs to know about a data set, and which data set a run actually used."""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

from torch.utils.data import Dataset, TensorDataset

if TYPE_CHECKING:
    from .classmap import ClassMapping


@dataclass
class ImageData:
    """A train/test pair of image classification data sets plus what a network needs to know."""

    name: str
    description: str  # says which data set a run actually used
    train: Dataset
    test: Dataset
    num_classes: int
    in_channels: int
    resolution: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample without the batch dim: (C, H, W); a video set's is (C, T, H, W)."""
        return (self.in_channels, self.resolution, self.resolution)

    @property
    def in_memory(self) -> bool:
        return isinstance(self.train, TensorDataset)


@dataclass
class VideoData(ImageData):
    """A train/test pair of video classification data sets: a training sample is a clip (C, T, H, W).

    ``test_clips``: clips per test video. With 1 a test sample is one clip (C, T, H, W); with N > 1 it
    is a stack (N, C, T, H, W) whose scores are averaged (§5.2 uses 20 uniformly sampled clips).
    ``classes`` is the fine → coarse table when the set has one (Kinetics10, moving digits), and
    ``labels`` says which level of it the targets are.
    """

    clip_len: int = 16
    test_clips: int = 1
    classes: "ClassMapping | None" = None
    labels: str = "coarse"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One training clip without the batch dim: (C, T, H, W)."""
        return (self.in_channels, self.clip_len, self.resolution, self.resolution)

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """Name of each label, or None without a class table."""
        if self.classes is None:
            return None
        return self.classes.coarse if self.labels == "coarse" else self.classes.fine
