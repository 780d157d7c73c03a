"""The course: the ordered notebooks of ``notebooks/``, executed top to bottom (the README's main job).

Each notebook's first code cell is tagged ``parameters`` (papermill) and holds the preset, the seeds,
the data root, the runs folder, the figures folder and the number of worker processes, so the same
notebooks run at ``tiny`` on a laptop, at ``paper`` on a GPU, or at the ``micro`` smoke scale in the
tests. :func:`run_course` executes them in order into a build folder (outputs never go back into
``notebooks/``) and reports each notebook's time. Later notebooks reuse the runs earlier ones saved.
"""

from __future__ import annotations

import os
import re
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
    params = default_parameters() if parameters is None else parameters
    paths = [notebook_path(n) for n in (names or NOTEBOOKS)]
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    Path(params["figures_dir"]).mkdir(parents=True, exist_ok=True)
    rows = []
    for path in paths:
        rows.append(_execute(path, build / path.name, params, timeout, log))
        record_times(rows[-1:], Path(params["figures_dir"]) / "course_times.csv", params["preset"])
    total = sum(r["seconds"] for r in rows)
    log("course: " + ", ".join(f"{r['notebook'][:2]} {r['seconds']:.0f}s" for r in rows) + f"; total {total:.0f}s")
    log(f"course: executed notebooks in {build}; figures in {params['figures_dir']}; runs in {params['runs_dir']}")
    return rows


def _execute(path: Path, out: Path, params: dict, timeout: int, log: Callable[[str], None], name: str | None = None) -> dict:
    """Execute one notebook with papermill (cwd: notebooks/, as a student's JupyterLab has it)."""
    import papermill

    name = name or path.stem
    log(f"course: running {name} -> {out}")
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path), str(out), parameters=params, cwd=str(ROOT / "notebooks"), kernel_name="python3",
            progress_bar=False, execution_timeout=timeout,
        )
    except papermill.PapermillExecutionError as err:
        raise SdasError(
            f"notebook {name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}; the executed "
            f"copy with the traceback is {out}"
        ) from None
    row = {"notebook": name, "seconds": round(time.perf_counter() - start, 1), "output": str(out)}
    log(f"course: {name} done in {row['seconds']:.0f}s")
    return row


def record_times(rows: Sequence[dict], path: Path, preset: str) -> None:
    """Write each notebook's time into ``path`` (course_times.csv), replacing that notebook's earlier
    row and keeping the others', with the date, commit and machine of the run (atomic write)."""
    import csv
    import io

    from .files import atomic_write_text
    from .provenance import provenance

    fields = ["notebook", "seconds", "preset", "date", "commit", "cpu", "cores"]
    old = {}
    if path.is_file():
        with open(path, newline="") as f:
            old = {r["notebook"]: r for r in csv.DictReader(f) if set(fields) <= set(r)}
    p = provenance()
    for r in rows:
        old[r["notebook"]] = {"notebook": r["notebook"], "seconds": r["seconds"], "preset": preset, "date": p["date"],
                              "commit": p["commit"], "cpu": p["cpu"], "cores": p["cores"]}
    order = {n: k for k, n in enumerate(NOTEBOOKS)}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for name in sorted(old, key=lambda n: order.get(n, len(order))):
        writer.writerow({k: old[name][k] for k in fields})
    atomic_write_text(path, buf.getvalue())


SOLUTIONS_DIR = ROOT / "notebooks" / "solutions"


def solution_code(name: str) -> list[str]:
    """The Python code blocks (```python fences) of a notebook's solutions file, in order."""
    stem = notebook_path(name).stem
    path = SOLUTIONS_DIR / f"{stem}.md"
    if not path.is_file():
        raise SdasError(f"{str(path)!r} is missing; every notebook has its solutions file")
    return [m.group(1).strip("\n") for m in re.finditer(r"```python\n(.*?)```", path.read_text(), flags=re.S)]


def run_solutions(
    names: Sequence[str] | None = None, build: str | os.PathLike = ROOT / "build" / "solutions",
    parameters: dict | None = None, log: Callable[[str], None] = print, timeout: int = 3600,
) -> list[dict]:
    """Execute each notebook followed by the code of its solutions, as a student who solved the
    exercises in the notebook would; notebooks whose solutions have no code are skipped.

    The combined notebooks and their executed copies go to ``build``; the runs are reused from the
    notebooks' own execution (run :func:`run_course` first with the same parameters).
    """
    import nbformat

    params = default_parameters() if parameters is None else parameters
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in [notebook_path(n) for n in (names or NOTEBOOKS)]:
        code = solution_code(path.stem)
        if not code:
            continue
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell(f"## Solutions (from `solutions/{path.stem}.md`)"))
        nb.cells += [nbformat.v4.new_code_cell(block) for block in code]
        combined = build / f"{path.stem}.with-solutions.ipynb"
        nbformat.write(nb, combined)
        rows.append(_execute(combined, build / f"{path.stem}.ipynb", params, timeout, log, f"{path.stem} + solutions"))
    return rows


__all__ = [
    "NOTEBOOKS", "run_course", "run_solutions", "solution_code", "default_parameters", "smoke_parameters", "notebook_path",
]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sdas_lib.course [NOTEBOOK ...] [--preset P] [--seeds ...] [--jobs N] [--build DIR]``."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m sdas_lib.course", description="Execute the course's notebooks in order.")
    ap.add_argument("notebooks", nargs="*", help=f"names or numbers (default: all of {', '.join(n[:2] for n in NOTEBOOKS)})")
    ap.add_argument("--preset", default="tiny", help="tiny (laptop CPU), paper (GPU, CIFAR10) or micro (smoke)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 1 2")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for searches (default: the cores)")
    ap.add_argument("--build", default=None, help="folder for the executed notebooks (default build/notebooks, "
                    "or build/solutions with --solutions)")
    ap.add_argument("--solutions", action="store_true", help="run each notebook followed by its solutions' code "
                    "(after the course has run once with the same parameters)")
    args = ap.parse_args(argv)
    params = default_parameters(ROOT, args.preset)
    if args.seeds:
        params["seeds"] = args.seeds
    if args.jobs:
        params["jobs"] = args.jobs
    try:
        if args.solutions:
            run_solutions(args.notebooks or None, args.build or ROOT / "build" / "solutions", params)
        else:
            run_course(args.notebooks or None, args.build or ROOT / "build" / "notebooks", params)
    except SdasError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
