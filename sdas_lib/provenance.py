"""Where a result came from: the date, the commit, the library versions and the machine.

The same commit gives different numbers on two machines of the same kind (float kernels differ), so
every executed notebook prints this first: a number in it can then be traced to the run that made it.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_commit(root: str | os.PathLike = ROOT) -> str:
    """The checkout's commit, with ``+changes`` when tracked files outside figures/ differ from it (a run
    writes figures/ itself); 'unknown' outside git."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", ".", ":!figures"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head}+changes" if dirty else head


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else what the platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def provenance() -> dict:
    """Date (UTC), commit, sdas/torch/Python versions, CPU model, cores and torch threads."""
    import torch

    from . import __version__

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(), "sdas_lib": __version__, "torch": torch.__version__,
        "python": platform.python_version(), "cpu": cpu_model(), "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def provenance_line() -> str:
    """:func:`provenance` as one line, for a notebook's first output."""
    p = provenance()
    return (
        f"run of {p['date']} | commit {p['commit']} | sdas_lib {p['sdas_lib']}, torch {p['torch']}, "
        f"Python {p['python']} | CPU {p['cpu']}, {p['cores']} cores, {p['torch_threads']} torch thread(s) | GPU {p['gpu']}"
    )


def show_provenance() -> None:
    """Print :func:`provenance_line` (the first output of every notebook of the course)."""
    print(provenance_line())


__all__ = ["provenance", "provenance_line", "show_provenance", "git_commit", "cpu_model"]
