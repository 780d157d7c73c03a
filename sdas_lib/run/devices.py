"""The device a run computes on: a name checked against this machine, with an error naming the fix.

Used by the command line (``--device``) and by the sweep (``device=``), which runs one run at a time on
a GPU: two runs on one GPU only compete for it.
"""

from __future__ import annotations

from ..errors import SdasError


def check_device(name: str):
    """A torch device that exists on this machine, or an error saying which ones do."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise SdasError(f"--device {name!r} is not a device name; use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        n = torch.cuda.device_count()
        if n == 0:
            raise SdasError(f"--device {name!r}: this machine has no CUDA GPU; use --device cpu")
        if device.index is not None and device.index >= n:
            raise SdasError(f"--device {name!r}: this machine has {n} CUDA GPU(s), cuda:0..cuda:{n - 1}")
    elif device.type != "cpu" and not getattr(torch, device.type).is_available():
        raise SdasError(f"--device {name!r} is not available on this machine; use --device cpu")
    return device


def is_accelerator(name: str) -> bool:
    """Whether ``name`` names a device other than the CPU (``cuda``, ``cuda:1``, ``mps``)."""
    return str(name).split(":", 1)[0].lower() != "cpu"


__all__ = ["check_device", "is_accelerator"]
