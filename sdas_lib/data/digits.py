"""The embedded default: scikit-learn's handwritten digits (1,797 real 8×8 scans shipped with it)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .base import ImageData


def load_digits_data(resolution: int = 16, test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """scikit-learn's digits as normalized (N, 3, R, R) float tensors; 1,437 train / 360 test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (N, 8, 8) in [0, 1]
    labels = torch.tensor(digits.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        list(range(len(labels))), test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    x = F.interpolate(images[:, None], size=(resolution, resolution), mode="bilinear", align_corners=False)
    mean, std = x[idx_train].mean(), x[idx_train].std()
    x = ((x - mean) / std).repeat(1, 3, 1, 1).contiguous()  # (N, 3, R, R)
    return ImageData(
        name="digits",
        description=(
            f"digits (scikit-learn handwritten digits, embedded; {len(idx_train)} train / "
            f"{len(idx_test)} test, 8x8 resized to {resolution}x{resolution}, 10 classes)"
        ),
        train=TensorDataset(x[idx_train], labels[idx_train]),
        test=TensorDataset(x[idx_test], labels[idx_test]),
        num_classes=10,
        in_channels=3,
        resolution=resolution,
    )
