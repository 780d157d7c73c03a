"""What a network needs to know about a data set, and which data set a run actually used."""

from __future__ import annotations

from dataclasses import dataclass

from torch.utils.data import Dataset, TensorDataset


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
