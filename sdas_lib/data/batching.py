"""Deterministic, resumable mini-batches: the batch at (epoch, position) is known without replay."""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from ..errors import SdasError


def split_indices(n: int, portion: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic random split of range(n) into two parts (w-train, α/β-val in a search)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    cut = int(n * portion)
    return sorted(perm[:cut]), sorted(perm[cut:])


class EpochBatches:
    """Deterministic, resumable mini-batches over ``indices`` of ``dataset``.

    Epoch e visits the indices in a permutation seeded by (seed, e) and drops the last partial
    batch, so the batch at (epoch, position) is known without replaying anything: a resumed run
    continues with exactly the batches it would have seen. File-backed data sets also get their
    random transforms (crop, flip, cutout) from a seed per (epoch, sample position), not from the
    global or a worker's random state, so a resumed run sees the same augmented images too.

    Args:
        batch_size: the global batch B. shard: ``(rank, world)``: the process ``rank`` of ``world``
            gets rows ``rank·B/world .. (rank+1)·B/world`` of every batch (B must divide evenly), so
            the batches, their number and the augmentation seeds do not depend on ``world``.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int], batch_size: int, seed: int, num_workers: int = 0,
                 what: str = "split", shard: tuple[int, int] = (0, 1)):
        rank, world = shard
        if batch_size % world:
            raise SdasError(
                f"batch size {batch_size} cannot be split evenly over {world} processes: the batch is the global "
                f"batch, each process takes batch/{world}; use a multiple of {world} (--batch_size)"
            )
        if batch_size > len(indices):
            raise SdasError(
                f"batch size {batch_size} is larger than the {what} ({len(indices)} samples); "
                f"lower --batch_size to at most {len(indices)}"
            )
        self.dataset = dataset
        self.indices = torch.as_tensor(list(indices), dtype=torch.long)
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.shard = (rank, world)

    def __len__(self) -> int:
        return len(self.indices) // self.batch_size

    def _generator(self, epoch: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)

    def order(self, epoch: int) -> list[torch.Tensor]:
        perm = self.indices[torch.randperm(len(self.indices), generator=self._generator(epoch))]
        B = self.batch_size
        return [perm[b * B : (b + 1) * B] for b in range(len(self))]

    def sample_seeds(self, epoch: int) -> list[torch.Tensor]:
        """One transform seed per sample of each batch of ``epoch``, aligned with :meth:`order`."""
        g = self._generator(epoch)
        torch.randperm(len(self.indices), generator=g)  # the same stream as order(), then the seeds
        seeds = torch.randint(0, 2**62, (len(self.indices),), generator=g)
        B = self.batch_size
        return [seeds[b * B : (b + 1) * B] for b in range(len(self))]

    def _rows(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's share of a global batch."""
        rank, world = self.shard
        b = self.batch_size // world
        return batch[rank * b : (rank + 1) * b]

    def iterate(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of ``epoch`` from position ``start`` (this process's share of each)."""
        batches = [self._rows(b) for b in self.order(epoch)[start:]]
        if isinstance(self.dataset, TensorDataset):
            x, y = self.dataset.tensors
            for idx in batches:
                yield x[idx], y[idx]
            return
        seeds = [self._rows(s) for s in self.sample_seeds(epoch)[start:]]
        keys = [list(zip(b.tolist(), s.tolist())) for b, s in zip(batches, seeds)]
        loader = DataLoader(
            SeededSamples(self.dataset), batch_sampler=keys, num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),  # leaves the global random state alone
        )
        yield from loader


class SeededSamples(Dataset):
    """``dataset[index]`` computed under ``torch.manual_seed(seed)`` for keys ``(index, seed)``.

    The global random state is restored afterwards, so the caller's stream (drop path, cutout of
    in-memory batches) does not depend on how many samples were loaded.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


def iterate_dataset(dataset: Dataset, batch_size: int, num_workers: int = 0,
                    shard: tuple[int, int] = (0, 1)) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """All of ``dataset`` in order, for evaluation; with ``shard=(rank, world)`` the samples
    ``rank, rank + world, ...`` only (the ranks together see every sample once)."""
    rank, world = shard
    if isinstance(dataset, TensorDataset):
        x, y = (t[rank::world] for t in dataset.tensors)
        for b in range(0, len(y), batch_size):
            yield x[b : b + batch_size], y[b : b + batch_size]
        return
    if world > 1:
        dataset = Subset(dataset, range(rank, len(dataset), world))
    yield from DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
