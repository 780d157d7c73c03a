"""The course: the ordered notebooks of ``notebooks/``, executed top to bottom (the README's main job).

Each notebook's first code cell is tagged ``parameters`` (papermill) and holds the preset, the seeds,
the data root, the runs folder, the figures folder and the number of worker processes, so the same
notebooks run at ``tiny`` on a laptop, at ``paper`` on a GPU, or at the ``micro`` smoke scale in the
tests. :func:`run_course` executes them in order into a build folder (outputs never go back into
``notebooks/``) and reports each notebook's time. Later notebooks reuse the runs earlier ones saved.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Sequence

from .errors import SdasError, choices

NOTEBOOKS = (
    "01_continuous_relaxation",
    "02_search_space_reduction",
    "03_schedules",
    "04_cifar10_search",
    "05_kinetics10_video_search",
    "06_genotypes_and_stepper",
    "07_reproduction_report",
)
ROOT = Path(__file__).resolve().parents[1]


def default_parameters(root: Path = ROOT, preset: str = "tiny") -> dict:
    """The main job's parameters: the tiny preset, runs under runs/course, figures into figures/."""
    return {
        "preset": preset, "seeds": [0, 1, 2], "data_root": str(root / "data"), "runs_dir": str(root / "runs" / "course"),
        "figures_dir": str(root / "figures"), "jobs": os.cpu_count() or 1,
    }


def smoke_parameters(tmp: Path) -> dict:
    """The tests' parameters: the micro preset (seconds), two seeds, everything under ``tmp``."""
    return {
        "preset": "micro", "seeds": [0, 1], "data_root": str(tmp / "data"), "runs_dir": str(tmp / "runs"),
        "figures_dir": str(tmp / "figures"), "jobs": 2,
    }


def notebook_path(name: str, folder: Path = ROOT / "notebooks") -> Path:
    matches = [n for n in NOTEBOOKS if n == name or n.startswith(f"{name}_") or n.split("_", 1)[0] == name]
    if len(matches) != 1:
        raise SdasError(f"unknown notebook {name!r}; choose one of: {choices(NOTEBOOKS)} (or their numbers)")
    path = folder / f"{matches[0]}.ipynb"
    if not path.is_file():
        raise SdasError(f"notebook {str(path)!r} is missing; the course runs from a checkout of the repository")
    return path


def run_course(
    names: Sequence[str] | None = None, build: str | os.PathLike = ROOT / "build" / "notebooks",
    parameters: dict | None = None, log: Callable[[str], None] = print, timeout: int = 3600,
) -> list[dict]:
    """Execute notebooks in course order with papermill; returns one row per notebook (name, seconds, output).

    Args:
        names: notebooks to run (names or numbers such as "03"); default all, in order.
        build: folder for the executed copies (git-ignored).
        parameters: injected into each notebook's ``parameters`` cell (default :func:`default_parameters`).
        timeout: seconds one cell may take.
    """
    import papermill

    params = default_parameters() if parameters is None else parameters
    paths = [notebook_path(n) for n in (names or NOTEBOOKS)]
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    Path(params["figures_dir"]).mkdir(parents=True, exist_ok=True)
    rows = []
    for path in paths:
        out = build / path.name
        log(f"course: running {path.name} -> {out}")
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(path), str(out), parameters=params, cwd=str(path.parent), kernel_name="python3",
                progress_bar=False, execution_timeout=timeout,
            )
        except papermill.PapermillExecutionError as err:
            raise SdasError(
                f"notebook {path.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}; the executed "
                f"copy with the traceback is {out}"
            ) from None
        rows.append({"notebook": path.stem, "seconds": round(time.perf_counter() - start, 1), "output": str(out)})
        log(f"course: {path.stem} done in {rows[-1]['seconds']:.0f}s")
    total = sum(r["seconds"] for r in rows)
    log("course: " + ", ".join(f"{r['notebook'][:2]} {r['seconds']:.0f}s" for r in rows) + f"; total {total:.0f}s")
    log(f"course: executed notebooks in {build}; figures in {params['figures_dir']}; runs in {params['runs_dir']}")
    return rows


__all__ = ["NOTEBOOKS", "run_course", "default_parameters", "smoke_parameters", "notebook_path"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sdas_lib.course [NOTEBOOK ...] [--preset P] [--seeds ...] [--jobs N] [--build DIR]``."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m sdas_lib.course", description="Execute the course's notebooks in order.")
    ap.add_argument("notebooks", nargs="*", help=f"names or numbers (default: all of {', '.join(n[:2] for n in NOTEBOOKS)})")
    ap.add_argument("--preset", default="tiny", help="tiny (laptop CPU), paper (GPU, CIFAR10) or micro (smoke)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 1 2")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for searches (default: the cores)")
    ap.add_argument("--build", default=str(ROOT / "build" / "notebooks"), help="folder for the executed notebooks")
    args = ap.parse_args(argv)
    params = default_parameters(ROOT, args.preset)
    if args.seeds:
        params["seeds"] = args.seeds
    if args.jobs:
        params["jobs"] = args.jobs
    try:
        run_course(args.notebooks or None, args.build, params)
    except SdasError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
