"""Augmentations: CIFAR10's (§5.2), ImageNet's (§5.2) and cutout (retraining only, DARTS)."""

from __future__ import annotations

import torch

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cifar10_transforms(train: bool, cutout: int = 0):
    """§5.2: random 32×32 crop of the 4-pixel-padded image, horizontal flip, normalization."""
    import torchvision.transforms as T

    steps = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if train else []
    steps += [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)]
    if train and cutout > 0:
        steps.append(Cutout(cutout))
    return T.Compose(steps)


def imagenet_transforms(train: bool, resolution: int = 224, cutout: int = 0):
    """§5.2 for ImageNet: resize the short edge to resolution·256/224 (256 at 224), keeping the aspect
    ratio and so the objects' scale; training takes a random resolution×resolution crop of it and a
    random horizontal flip, testing the center crop; then ToTensor and normalization (IMAGENET_MEAN/STD),
    and for training cutout if ``cutout`` > 0. No random-resized crop (it rescales), no color jitter.
    """
    import torchvision.transforms as T

    short = round(resolution * 256 / 224)
    steps = [T.Resize(short)]
    steps += [T.RandomCrop(resolution), T.RandomHorizontalFlip()] if train else [T.CenterCrop(resolution)]
    steps += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train and cutout > 0:
        steps.append(Cutout(cutout))
    return T.Compose(steps)


class Cutout:
    """Zero a random size×size square of a (C, H, W) tensor (DARTS' cutout; retraining only)."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return cutout_batch(img[None], self.size)[0]  # a batch of one: (1, C, H, W)


def cutout_batch(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Cutout for a whole batch: one random size×size square per sample, centred anywhere in the
    image and clipped at its border (rows [cy - size//2, cy + size//2), likewise columns).

    x: (N, C, H, W) -> a new tensor of the same shape with the squares set to 0.
    """
    if size <= 0:
        return x
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    cy = torch.randint(h, (n, 1, 1), generator=generator)
    cx = torch.randint(w, (n, 1, 1), generator=generator)
    ys, xs = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = (ys >= cy - size // 2) & (ys < cy + size // 2) & (xs >= cx - size // 2) & (xs < cx + size // 2)
    return x * (~inside).to(x.dtype).unsqueeze(1).to(x.device)  # (N, 1, H, W) mask over channels
