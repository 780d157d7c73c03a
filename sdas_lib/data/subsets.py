"""Fixed, class-balanced subsets of a labelled data set (``cifar10_tiny``, Fashion-MNIST's search subset)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import SdasError


def balanced_indices(
    labels: torch.Tensor, per_class: int, num_classes: int, seed: int, what: str, *, dataset: str, where: Path,
    full: str,
) -> torch.Tensor:
    """Sorted indices of ``per_class`` samples of each class, drawn without replacement with ``seed``.

    Args:
        labels: (N,) class indices. what: "train" or "test" (named in the error, as ``per_class_<what>``).
        dataset, where, full: the data set's name, its folder and its full per-class sizes, for the error
            raised when a class has fewer than ``per_class`` samples.
    """
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        if len(members) < per_class:
            raise SdasError(
                f"{dataset} in {str(where)!r} has only {len(members)} {what} images of class {c}; "
                f"lower per_class_{what} to at most {len(members)} (the full set has {full} per class)"
            )
        picked.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.sort(torch.cat(picked)).values


__all__ = ["balanced_indices"]
