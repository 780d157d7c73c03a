"""The planted-cell data sets: noise images labelled by a teacher built from a known genotype.

``planted-<t>`` (``planted`` is ``planted-0``) is teacher t's task: the genotype
:func:`~sdas_lib.core.recovery.planted_genotype` (a uniform random cell of the image space), its network
:func:`~sdas_lib.nets.teacher.teacher_network` with weights from seed t, and inputs of i.i.d. Gaussian
noise (N, 3, R, R) drawn from seed t, each image at its own amplitude (uniform in [0.25, 2]). Noise, not digits: every pixel is independent, so what the labels
depend on is what the teacher's ops compute (a 3×3 max or average, a learned filter, the input itself),
not the structure of a digit that many cells could read equally well. The amplitude varies because
the global average pooling of a network averages a fixed-amplitude noise image's features to nearly
the same vector for every image, which left labels that even the teacher's own architecture, trained
from another seed, could not learn above chance in 48 iterations; with the amplitude it learns them
(measured while building this module, not a published figure). A search on it has a right
answer, scored by :mod:`sdas_lib.core.recovery`. Generation takes about a second; nothing is cached.
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from ..core.recovery import planted_genotype, planted_teacher
from ..data.base import ImageData
from ..errors import SdasError
from ..nets.teacher import teacher_labels, teacher_network

N_TRAIN = 1536  # micro: 768 w-train and 768 α/β-val images, 8 iterations of 96 per epoch
N_TEST = 512
NUM_CLASSES = 10


def load_planted_data(name: str, resolution: int = 8) -> ImageData:
    """The planted data set ``name`` (``planted`` or ``planted-<teacher>``) at ``resolution``."""
    teacher = planted_teacher(name)
    if teacher is None:
        raise SdasError(f"{name!r} is not a planted data set; write 'planted' or 'planted-<teacher number>'")
    genotype = planted_genotype(teacher)
    g = torch.Generator().manual_seed(teacher)
    n = N_TRAIN + N_TEST
    amplitude = 0.25 + 1.75 * torch.rand(n, 1, 1, 1, generator=g)  # per image: i.i.d. noise alone averages out
    x = amplitude * torch.randn(n, 3, resolution, resolution, generator=g)  # (N, 3, R, R)
    net = teacher_network(genotype, teacher, num_classes=NUM_CLASSES)
    y = teacher_labels(net, x, x[:N_TRAIN])
    return ImageData(
        name=f"planted-{teacher}",
        description=(
            f"planted-{teacher} (Gaussian noise {resolution}x{resolution}, amplitude 0.25-2, labelled by a teacher network of the "
            f"planted genotype {planted_genotype_line(teacher)}; {N_TRAIN} train / {N_TEST} test, {NUM_CLASSES} classes)"
        ),
        train=TensorDataset(x[:N_TRAIN].contiguous(), y[:N_TRAIN]),
        test=TensorDataset(x[N_TRAIN:].contiguous(), y[N_TRAIN:]),
        num_classes=NUM_CLASSES, in_channels=3, resolution=resolution,
    )


def planted_genotype_line(teacher: int) -> str:
    """The planted genotype on one line: ``normal: ... ; reduce: ...``."""
    g = planted_genotype(teacher)
    return "; ".join(f"{ct}: {g[ct]}" for ct in g.cell_types)


__all__ = ["load_planted_data", "planted_genotype_line", "N_TRAIN", "N_TEST", "NUM_CLASSES"]
