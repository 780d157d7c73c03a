"""Several processes, one run: ``torchrun`` and PyTorch's DistributedDataParallel.

Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` in the environment) every process
runs the same search or retraining on its share of each batch:

- the process group is set up on the first run built (or by :func:`setup`): NCCL on GPUs, gloo on
  the CPU, or the backend asked for; each process computes on ``cuda:LOCAL_RANK`` (or the CPU). A
  gloo group whose rendezvous is on this machine (``MASTER_ADDR`` a loopback address) talks over
  the loopback interface only;
- the preset's batch is the global batch: each epoch's batches come from the same deterministic
  order on every rank, and rank r takes rows ``r·B/N .. (r+1)·B/N`` of each (:class:`EpochBatches`
  ``shard``), so T and the schedule do not depend on N;
- the weight gradients are averaged by DDP (:meth:`Ranks.wrap`); gradients computed outside DDP
  (the α/β step's ``autograd.grad``) by :meth:`Ranks.average_`. Every rank then holds the same
  weights and the same α/β, bit for bit, and :meth:`Ranks.check_agreement` verifies it at every
  decision;
- BatchNorm normalizes each rank's batch with that rank's own batch statistics (B/N samples);
  the running statistics that evaluation uses are rank 0's, broadcast by DDP before every
  training forward pass and by :meth:`Ranks.broadcast_buffers` before an evaluation;
- one process, rank 0, writes files; :meth:`Ranks.from_main` hands what it read (a checkpoint) or
  the error it met to every rank, so no rank waits for one that has stopped.

With one process (no ``torchrun``, or ``--nproc_per_node=1``) every method here is a no-op and no
process group exists.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
import ipaddress
import os
import socket
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch
import torch.distributed as dist

from ..errors import SdasError

BACKENDS = ("auto", "gloo", "nccl")


class RankDisagreement(SdasError):
    """The ranks of a distributed run hold different α/β, weights or decisions; the run stops."""


class RankFailure(SdasError):
    """An error raised on every rank: one rank's (rank 0's run-folder or checkpoint check, a data
    set one rank cannot load) handed to the others, or one the config gives every rank alike (a
    batch that does not split over the ranks).

    ``everywhere`` is True: the CLI prints it once, from rank 0.
    """

    everywhere = True


def launched() -> bool:
    """Whether this process is one of several started by torchrun (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: its rank among ``world`` processes and its device.

    ``Ranks()`` is the single process: every collective below returns its input.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes logs, checkpoints and outputs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def describe(self) -> dict:
        """The distributed part of config.json (empty for one process)."""
        if not self.distributed:
            return {}
        return {"distributed": {"processes": self.world, "backend": self.backend}}

    # -- collectives (no-ops for one process) ------------------------------------------------------
    def _comm(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` on the device the backend communicates from (the GPU for NCCL)."""
        return t.to(self.device) if self.backend == "nccl" else t.cpu()

    def average_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Replace each tensor by its mean over the ranks, in place (one all-reduce for all)."""
        if not self.distributed or not tensors:
            return
        flat = self._comm(torch.cat([t.detach().reshape(-1) for t in tensors]))
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view_as(t))
            offset += n

    def sum_values(self, *values: float) -> tuple[float, ...]:
        """Each number summed over the ranks (float64)."""
        if not self.distributed:
            return values
        t = self._comm(torch.tensor(values, dtype=torch.float64))
        dist.all_reduce(t)
        return tuple(t.tolist())

    def mean_values(self, *values: float) -> tuple[float, ...]:
        """Each number averaged over the ranks (a loss or an accuracy of equal-sized shards)."""
        return tuple(v / self.world for v in self.sum_values(*values))

    def gather_ints(self, value: int) -> list[int]:
        """Every rank's ``value``, in rank order."""
        if not self.distributed:
            return [value]
        t = self._comm(torch.tensor([value], dtype=torch.int64))
        out = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(out, t)
        return [int(o.item()) for o in out]

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's picklable ``obj``, in rank order."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def from_main(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on rank 0 only and return its result on every rank.

        An error ``fn`` raises on rank 0 is raised there as it is and on the other ranks as a
        :class:`RankFailure` with the same message, so none of them waits for rank 0.
        """
        if not self.distributed:
            return fn()
        box: list[Any] = [None]
        error: BaseException | None = None
        if self.is_main:
            try:
                box[0] = ("ok", fn())
            except BaseException as err:  # noqa: BLE001 - handed to the other ranks, then raised
                error = err
                box[0] = ("error", _error_text(err))
        dist.broadcast_object_list(box, src=0, device=self.device if self.backend == "nccl" else None)
        if error is not None:
            if isinstance(error, SdasError):
                error.everywhere = True
            raise error
        kind, value = box[0]
        if kind == "error":
            raise RankFailure(value)
        return value

    def all_succeed(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on every rank; if it fails on any rank, raise on all (the first failing rank's message)."""
        if not self.distributed:
            return fn()
        error, result = None, None
        try:
            result = fn()
        except Exception as err:  # noqa: BLE001 - shared with the other ranks, then raised
            error = err
        message = None if error is None else _error_text(error)
        failed = [(r, m) for r, m in enumerate(self.gather_objects(message)) if m is not None]
        if not failed:
            return result
        if error is not None:  # each failing rank raises its own error (a bug keeps its traceback)
            if isinstance(error, SdasError):
                error.everywhere = True  # the ranks that did not fail print it, from rank 0
            raise error
        r, message = failed[0]
        raise RankFailure(f"rank {r}: {message}")

    def local_first(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on rank 0 first, then on each other machine's local rank 0, then on the rest:
        a data set that one process downloads or unpacks is complete before any other reads it,
        whether the machines share a disk or not. An error on any rank is raised on all, as
        :meth:`all_succeed` does."""
        if not self.distributed:
            return fn()
        phase = 0 if self.rank == 0 else 1 if self.local_rank == 0 else 2
        result = None
        for p in range(3):
            done = self.all_succeed(lambda: fn() if phase == p else None)
            if phase == p:
                result = done
        return result

    def check_agreement(self, digest: bytes, what: str, iteration: int, note: str = "") -> None:
        """Raise :class:`RankDisagreement` on every rank if the ranks' digests differ.

        Args:
            digest: this rank's digest (:func:`state_digest`). what: what was digested, for the message.
            iteration: the iteration, for the message. note: appended (where the run can resume from).
        """
        if not self.distributed:
            return
        digests = self.gather_objects(digest)
        if len(set(digests)) == 1:
            return
        groups: dict[bytes, list[int]] = {}
        for r, d in enumerate(digests):
            groups.setdefault(d, []).append(r)
        parts = "; ".join(
            f"rank{'s' if len(rs) > 1 else ''} {', '.join(map(str, rs))}: {d.hex()[:12]}" for d, rs in groups.items()
        )
        error = RankDisagreement(
            f"the {self.world} processes disagree at iteration {iteration}: {what} differ ({parts}). Every rank "
            f"must hold the same state; this is a bug or a non-deterministic reduction, not a setting to change"
            f"{'; ' + note if note else ''}"
        )
        error.everywhere = True  # every rank raises it: the CLI prints it once
        raise error

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics) to every rank."""
        if not self.distributed:
            return
        for b in module.buffers():
            t = self._comm(b.detach())
            dist.broadcast(t, src=0)
            if t is not b:
                b.copy_(t)

    def wrap(self, module: torch.nn.Module, ignore: Iterable[str] = ()) -> torch.nn.Module:
        """``module`` in DistributedDataParallel (its gradients averaged over the ranks); itself for one process.

        Args:
            ignore: names of parameters DDP must leave alone (α/β, reduced by :meth:`average_`).
        """
        if not self.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ignore = list(ignore)
        if ignore:
            DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, ignore)
        # A weight whose gradient comes in another memory layout than the weight's (a depthwise conv's
        # (C, 1, k, k) kernel in channels-last, where both layouts hold the numbers in the same order)
        # is copied into DDP's bucket as it is; DDP's warning about it says nothing here.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        ids = [self.device.index] if self.device.type == "cuda" else None
        ddp = DistributedDataParallel(module, device_ids=ids)  # buffers: rank 0's, sent before every forward pass
        # DDP lays the gradients out in buckets by parameter order, then once more after the first
        # backward pass, in the order they became ready. With 3 ranks or more the all-reduce's sums
        # depend on where a value sits in its bucket, so a run resumed with a fresh DDP (the first
        # layout) would drift in the last bits from one that never stopped (the second). Fixing
        # the layout now, as DDP's own join hook does, makes it the same at every iteration.
        # The price: buckets in parameter order, so the first (the stem's gradients, ready last) is
        # reduced only at the end of the backward pass, and little communication overlaps it. For
        # these networks' 8-16 MB of gradients that is short next to the backward pass on one machine.
        reducer = ddp.reducer
        if not (hasattr(reducer, "_push_all_rebuilt_params") and hasattr(reducer, "_rebuild_buckets")):
            raise RuntimeError(
                f"this PyTorch ({torch.__version__}) has no DDP reducer._push_all_rebuilt_params/_rebuild_buckets, "
                "which sdas uses to fix the gradient layout; use a PyTorch that pyproject.toml admits"
            )
        reducer._push_all_rebuilt_params()
        reducer._rebuild_buckets()
        return ddp


_ranks: Ranks | None = None  # set by setup(), which then owns the process group


def _error_text(err: BaseException) -> str:
    """An error as the other ranks report it: a user error's message, a bug's type and message."""
    return str(err) if isinstance(err, SdasError) else f"{type(err).__name__}: {err}"


def current() -> Ranks:
    """The ranks set up by :func:`setup`, or the single process."""
    return _ranks or Ranks()


def _loopback_interface() -> str | None:
    for _, name in socket.if_nameindex():
        if name.startswith("lo"):
            return name
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except OSError:
            return False


def resolve_backend(backend: str | None, device: torch.device) -> str:
    """``auto``: NCCL for a GPU, gloo for the CPU; an explicit choice is checked against the device."""
    backend = (backend or "auto").lower()
    if backend not in BACKENDS:
        raise SdasError(f"--backend {backend!r} is not a backend; choose one of: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise SdasError("--backend nccl needs GPUs (--device cuda); on the CPU use --backend gloo (or auto)")
    if backend == "nccl" and not dist.is_nccl_available():
        raise SdasError("--backend nccl: this PyTorch build has no NCCL; use --backend gloo")
    return backend


def setup(device: str | torch.device = "cpu", backend: str | None = None) -> Ranks:
    """Join the torchrun job this process belongs to, once; returns this process's :class:`Ranks`.

    Without torchrun (``WORLD_SIZE`` unset or 1) it returns the single process on ``device``.

    Args:
        device: ``cpu`` or ``cuda``: each rank computes on ``cuda:LOCAL_RANK``. An explicit index
            other than LOCAL_RANK is refused (NCCL cannot put two ranks on one GPU).
        backend: ``auto`` (default: NCCL on GPUs, gloo on the CPU), ``gloo`` or ``nccl``.
    """
    global _ranks
    device = torch.device(device)
    if not launched():
        return Ranks(device=device)
    if _ranks is not None:
        if _ranks.device.type != device.type:
            raise SdasError(f"this process already joined the job on {_ranks.device}; it cannot move to {device}")
        return _ranks
    if "RANK" not in os.environ:
        raise SdasError(
            f"WORLD_SIZE is {os.environ['WORLD_SIZE']} but RANK is not set: start the processes with torchrun, which "
            f"sets both (or unset WORLD_SIZE for one process)"
        )
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        n = torch.cuda.device_count()
        if device.index is not None and device.index != local:
            raise SdasError(
                f"--device {device}: under torchrun each process takes the GPU of its LOCAL_RANK; pass --device cuda "
                f"(limit the GPUs with CUDA_VISIBLE_DEVICES)"
            )
        if local >= n:
            raise SdasError(
                f"local rank {local} has no GPU: this node has {n} GPU(s); start at most {n} processes per node "
                f"(--nproc_per_node {n})"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    name = resolve_backend(backend, device)
    one_machine = int(os.environ.get("LOCAL_WORLD_SIZE", "0")) == world
    if name == "gloo" and "GLOO_SOCKET_IFNAME" not in os.environ and (one_machine or _is_loopback(os.environ.get("MASTER_ADDR", ""))):
        loopback = _loopback_interface()
        if loopback:  # a job on one machine: keep its traffic on the loopback interface
            os.environ["GLOO_SOCKET_IFNAME"] = loopback
    if dist.is_initialized():  # the caller made the group: use it (and leave it to the caller)
        return Ranks(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local,
                     backend=str(dist.get_backend()), device=device)
    kwargs = {"device_id": device} if name == "nccl" else {}
    # 30 minutes for a collective to complete (NCCL's default is 10): rank 0 may download and
    # unpack a data set, or probe every video of Kinetics, while the others wait (local_first).
    timeout = timedelta(minutes=30)
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        # torchrun's agent keeps one store across the restarts of --max-restarts, and a restarted
        # job would read the failed attempt's addresses there (gloo: "connection refused"): one
        # key prefix per attempt keeps the attempts apart.
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        agent_store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                                    is_master=False, timeout=timeout)
        kwargs["store"] = dist.PrefixStore(f"sdas/attempt_{attempt}", agent_store)
    dist.init_process_group(backend=name, rank=rank, world_size=world, timeout=timeout, **kwargs)
    _ranks = Ranks(rank=rank, world=world, local_rank=local, backend=name, device=device)
    return _ranks


def shutdown() -> None:
    """Leave the process group that :func:`setup` made (at the end of a command); a no-op otherwise.

    A group that DistributedDataParallel has used keeps its gloo threads after this (a reference
    outlives the wrapper), so a torchrun worker ends with ``os._exit`` rather than through the
    interpreter's shutdown: see :mod:`sdas_lib.__main__`.
    """
    global _ranks
    if _ranks is not None and dist.is_initialized():
        dist.destroy_process_group()
    _ranks = None


def state_digest(tensors: Iterable[torch.Tensor], extra: str = "") -> bytes:
    """SHA-256 of the tensors' bytes (in order) and of ``extra``: equal only for bitwise-equal states."""
    h = hashlib.sha256(extra.encode())
    for t in tensors:
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.digest()


def rank_seed(seed: int, rank: int) -> int:
    """The random-state seed of ``rank`` in a distributed run (drop path, cutout): one stream per rank."""
    return (seed * 1_000_003 + 104_729 * (rank + 1)) % (2**63)


__all__ = [
    "Ranks", "RankDisagreement", "RankFailure", "setup", "shutdown", "current", "launched", "resolve_backend",
    "state_digest", "rank_seed", "BACKENDS",
]
