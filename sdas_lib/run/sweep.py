"""Sweeps: a grid of searches (schedules × seeds, and op sets), optionally retrained, in parallel worker processes.

Each (schedule, seed) is one job; with ``op_sets`` (video's Table 6: O2D, O3D, Oadv) each
(schedule, op set, seed) is one, and its folders are named ``search-<schedule>-<op set>-s<seed>``.
``jobs`` worker processes (``spawn``) take the jobs one after another, longest schedule first (das,
B, A, C; within one, the costlier op set first) so that the last to finish are short ones, and each
computes on one torch thread: one small search does not scale across threads, and several searches
share the cores better. A job runs its search into ``out/search-<schedule>-s<seed>`` and, with
``retrain``, then retrains the genotype it found into ``out/retrain-<schedule>-s<seed>`` (same seed;
``retrain_prefix`` renames the retraining folders, e.g. ``transfer`` for a second retraining of the same
searches on other labels). The pseudo-schedule ``random`` (Table 4's control) searches nothing: its
``search-random-s<seed>`` folder holds the seed's :func:`~sdas_lib.core.random_cells.random_genotype`
and a config naming it random, with zero search seconds, and is retrained like a found cell. :func:`train_baselines` runs hand-crafted video baselines on the same worker
pool, with the same rules, at one or several widths; :func:`sweep_sizes` retrains found cells at Table 7's
network sizes through :func:`sweep`. A folder's state is :func:`~sdas_lib.run.folders.run_state`'s; what a
finished folder says is read by :mod:`sdas_lib.run.outputs`.

Every run folder is handled like this, so the same sweep can be run again after any interruption:

- absent or empty: the run starts fresh (status ``done``);
- holding a complete run (its checkpoint says finished, made with these settings, by one process
  or several under torchrun): nothing is read but its outputs and no file is rewritten (status
  ``skipped``); with other settings it is left alone and reported as ``failed``;
- anything else: the run is resumed from its checkpoint, or started over if it was killed before
  its first one (status ``resumed``); a folder that holds no run of this package is refused.

A run that raises, or a worker that dies (killed, out of memory), gives a ``failed`` row naming its
run folder and the error; the other runs go on. Ctrl-C terminates the workers; every folder stays
resumable (checkpoints are written atomically), and the same sweep continues them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import multiprocessing.connection
import numbers
import json
import os
import re
import signal
import sys
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..core.genotype import Genotype
from ..core.random_cells import RANDOM, random_genotype
from ..core.schedule import get_schedule
from ..errors import SdasError
from ..files import atomic_write_json
from .faults import run_kill_point
from .folders import run_state
from .outputs import SEARCH_ACCURACIES, genotype_line, random_cell_outputs, retrain_outputs, search_outputs
from .presets import (
    TABLE7_WIDTH_FRACTIONS, SearchPreset, TrainPreset, check_search_preset, check_train_preset, get_preset,
    network_sizes, override, resolve_op_set, search_presets, size_label, train_presets,
)

# Longest first: on the tiny preset DAS costs most, then SDAS-B, A and C (README, Table 4's search seconds).
LONGEST_FIRST = ("das", "B", "A", "C", RANDOM)
# Within a schedule, the costlier op set first: tiny video search iterations, O3D 2.4 s, Oadv 1.8 s, O2D 1.5 s.
COSTLIEST_OP_SET_FIRST = ("video_o3d", "video_oadv", "video_o2d")
STATUSES = ("done", "resumed", "skipped", "failed")
SEARCH_COLUMNS = (
    "schedule", "op_set", "seed", "status", "folder", "genotype", "search_seconds", "search_cpu_seconds", *SEARCH_ACCURACIES,
)
RETRAIN_COLUMNS = (
    "retrain_status", "retrain_folder", "params", "test_acc", "retrain_seconds", "retrain_dataset", "train_acc", "mult_adds",
)


@dataclass(frozen=True)
class SweepJob:
    """One cell of the grid: its search and, when ``retrain_dir`` is set, its retraining."""

    schedule: str
    seed: int
    search_dir: str
    preset: SearchPreset
    retrain_dir: str | None = None
    train_preset: TrainPreset | None = None
    op_set_label: str = ""  # the op set's short name in the folder names ("o3d"), or "" without an op-set axis
    device: str = "cpu"  # where its search and retraining compute

    @property
    def name(self) -> str:
        return job_name(self.schedule, self.op_set_label, self.seed)


@dataclass(frozen=True)
class BaselineJob:
    """One hand-crafted baseline run (Fig. 10, Table 8): ``arch`` at width / ``width_divisor`` into ``folder``."""

    arch: str
    seed: int
    width_divisor: int
    folder: str
    train_preset: TrainPreset
    device: str = "cpu"

    @property
    def name(self) -> str:
        return f"{self.arch}-s{self.seed}"

    @property
    def key(self) -> str:
        return f"{self.arch}-w{self.width_divisor}-s{self.seed}"


def _first_folder(job: "SweepJob | BaselineJob") -> str:
    return job.folder if isinstance(job, BaselineJob) else job.search_dir


def job_name(schedule: str, op_set_label: str, seed: int) -> str:
    """``C-o3d-s0`` (``C-s0`` without an op-set axis): the run folders' names after their prefix."""
    return f"{schedule}-{op_set_label}-s{seed}" if op_set_label else f"{schedule}-s{seed}"


# -- the state of a run folder ---------------------------------------------------------------------


def search_state(job: SweepJob) -> str:
    from .search import Searcher

    if job.schedule == RANDOM:
        return random_cell_state(job)
    return run_state(job.search_dir, Searcher, Searcher.settings_key(job.preset, job.seed, Searcher.key_extra(job.schedule)))


def _random_cell_config(job: SweepJob) -> dict:
    return {"schedule": RANDOM, "seed": job.seed, "op_set": job.preset.op_set, "task": job.preset.task,
            "preset": {"name": job.preset.name}, "search": "none: a genotype drawn uniformly from the search space"}


def random_cell_state(job: SweepJob) -> str:
    """``missing`` or ``complete`` for a random-cell folder; a folder holding something else is refused."""
    folder = Path(job.search_dir)
    if not folder.exists():
        return "missing"
    try:
        config = json.loads((folder / "config.json").read_text())
        same = {k: config.get(k) for k in ("schedule", "seed", "op_set", "task")} == {
            k: v for k, v in _random_cell_config(job).items() if k in ("schedule", "seed", "op_set", "task")}
        genotype = Genotype.load(folder / "genotype.json")
    except (OSError, ValueError, SdasError):
        same = False
    from .search import search_space

    if not same or genotype != random_genotype(search_space(job.preset), job.seed):
        raise SdasError(f"{folder} is not this sweep's random cell (seed {job.seed}, op set {job.preset.op_set}); "
                        "delete it or choose another --out")
    return "complete"


def _random_cell(job: SweepJob) -> dict:
    """Table 4's random control: draw the seed's genotype and write it with a config naming it random
    (no search, no search cost); the retraining then runs exactly as for a found cell."""
    try:
        if random_cell_state(job) == "missing":
            from .search import search_space

            folder = Path(job.search_dir)
            folder.mkdir(parents=True)
            random_genotype(search_space(job.preset), job.seed).save(folder / "genotype.json")
            atomic_write_json(folder / "config.json", _random_cell_config(job))
            status = "done"
        else:
            status = "skipped"
        return {"status": status, **random_cell_outputs(job.search_dir)}
    except SdasError as err:
        return {"status": "failed", "error": f"{job.search_dir}: {_one_line(err)}"}


def retrain_state(job: SweepJob) -> str:
    """The retraining folder's state; the genotype it must have trained is the search's genotype.json."""
    from ..core.genotype import resolve_genotype
    from ..nets.evalnet import get_network
    from .train import Trainer

    tp = job.train_preset
    genotype_file = Path(job.search_dir) / "genotype.json"
    if not genotype_file.is_file():
        return "missing" if not Path(job.retrain_dir).exists() else "incomplete"
    genotype = resolve_genotype(genotype_file, cell_types=get_network(tp.network).cell_types, k=None, op_set=tp.op_set or None)
    return run_state(job.retrain_dir, Trainer, Trainer.settings_key(tp, job.seed, Trainer.key_extra(genotype)))


# -- a job, in a worker ----------------------------------------------------------------------------


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    text = text[0] if text else ""
    return text if isinstance(err, SdasError) else f"{type(err).__name__}: {text}"


def _quiet(line: str) -> None:
    """Workers log to their run folders' log.txt only: parallel runs would interleave on a terminal."""


def _run(folder: str, state_of, make, outputs, status_key: str) -> dict:
    """Run (or resume, or skip) one run folder; its row's status and outputs, or a failure naming the folder."""
    try:
        state = state_of()
        if state != "complete":
            with run_kill_point(Path(folder).name):  # a test hook (faults.py); nothing outside the tests
                make(resume=state == "incomplete").run()
        status = {"missing": "done", "incomplete": "resumed", "complete": "skipped"}[state]
        return {status_key: status, **outputs(folder)}
    except Exception as err:
        if not isinstance(err, SdasError):
            traceback.print_exc()  # a bug, not bad input: keep the trace for the report
        return {status_key: "failed", "error": f"{folder}: {_one_line(err)}"}


def _search(job: SweepJob) -> dict:
    from .search import Searcher

    if job.schedule == RANDOM:
        return _random_cell(job)
    def make(resume: bool):
        return Searcher(job.preset, job.schedule, job.seed, device=job.device, out_dir=job.search_dir, resume=resume,
                        progress=False, log=_quiet)

    return _run(job.search_dir, lambda: search_state(job), make, search_outputs, "status")


def _retrain(job: SweepJob) -> dict:
    from .train import Trainer

    def make(resume: bool):
        return Trainer(job.train_preset, Path(job.search_dir) / "genotype.json", job.seed, device=job.device,
                       out_dir=job.retrain_dir, resume=resume, progress=False, log=_quiet)

    return _run(job.retrain_dir, lambda: retrain_state(job), make, retrain_outputs, "retrain_status")


def run_job(job: "SweepJob | BaselineJob", report: Callable[[str, Any], None]) -> None:
    """Run ``job``'s search, then its retraining if asked (or its baseline run), reporting ``("start", folder)``
    before each run, ``("part", columns)`` after it and ``("end", None)`` at the end."""
    if isinstance(job, BaselineJob):
        report("start", job.folder)
        report("part", _baseline(job))
        report("end", None)
        return
    report("start", job.search_dir)
    search = _search(job)
    report("part", search)
    if job.retrain_dir is not None and search["status"] != "failed":
        report("start", job.retrain_dir)
        report("part", _retrain(job))
    report("end", None)


def _worker(conn: mp.connection.Connection) -> None:
    """A worker process: jobs from ``conn`` until None, each on one torch thread.

    Ctrl-C is the parent's: the worker leaves the terminal's process group, so that the parent alone
    decides (it terminates the workers), rather than each run stopping on its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # already a group leader: SIGINT stays ignored outside the runs
        os.setsid()
    import threading

    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)
    # The runs' (hidden) bars would make tqdm's inter-process lock, a semaphore that a terminated
    # worker leaves behind; a worker draws no bar, so a thread lock does.
    tqdm.set_lock(threading.RLock())
    try:
        while (job := conn.recv()) is not None:
            run_job(job, lambda kind, payload: conn.send((kind, payload)))
    except (EOFError, BrokenPipeError):  # the parent went away
        pass
    except KeyboardInterrupt:  # a SIGTERM (or Ctrl-C) stopped a run after its iteration and a checkpoint
        sys.exit(130)
    finally:
        conn.close()


# -- the sweep -------------------------------------------------------------------------------------


def _schedule_name(name: str) -> str:
    if str(name).lower() == RANDOM:  # Table 4's control: random cells, no search
        return RANDOM
    get_schedule(name)  # an unknown name: one clear error
    return {"a": "A", "b": "B", "c": "C"}.get(str(name).lower(), str(name).lower())


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _unique(values: Sequence) -> list:
    return list(dict.fromkeys(values))


def _preset(preset, table: dict, cls):
    if isinstance(preset, str):
        return get_preset(preset, table)
    if not isinstance(preset, cls):
        raise SdasError(f"expected a preset name or a {cls.__name__}, got {type(preset).__name__}")
    return preset


def _jobs_on(device: str, jobs: int | None, log: Callable[[str], None]) -> int:
    """Worker processes for ``device``: ``jobs`` (default the cores) on the CPU, one on a GPU."""
    from .devices import check_device, is_accelerator

    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if not _is_int(jobs) or jobs < 1:
        raise SdasError(f"--jobs must be a positive integer, got {jobs}")
    if not isinstance(device, str):
        raise SdasError(f"device must be a name such as 'cpu' or 'cuda', got {device!r}")
    if is_accelerator(device):
        check_device(device)
        if jobs > 1:
            log(f"sweep: device {device}: one run at a time on it (jobs {jobs} -> 1)")
        return 1
    return jobs


def _one_thread(preset):
    if preset.threads not in (0, 1):
        raise SdasError(
            f"a sweep computes each run on one torch thread (threads={preset.threads} asked); "
            f"use --jobs to run more at once"
        )
    return dataclasses.replace(preset, threads=1)


@dataclass
class _Worker:
    """A worker process, the parent's end of its pipe, and its job (None when idle): the columns
    reported so far and the run folder it is in."""

    process: Any
    conn: Any
    job: "SweepJob | BaselineJob | None" = None
    row: dict = dataclasses.field(default_factory=dict)
    current: str = ""


def sweep(
    schedules: Sequence[str], seeds: Sequence[int], out: str | os.PathLike, preset: str | SearchPreset = "tiny",
    retrain: bool = False, train_preset: str | TrainPreset = "tiny", jobs: int | None = None,
    overrides: Mapping[str, Any] | None = None, progress: bool = True, log: Callable[[str], None] = print,
    task: str | None = None, op_sets: Sequence[str] | None = None, retrain_prefix: str = "retrain",
    device: str = "cpu",
):
    """Search every (schedule, seed) of the grid, retrain what was found if asked; a table of results.

    Everything is checked before any worker starts: bad input raises :class:`SdasError` and writes
    nothing. Run folders are skipped, resumed or started as the module docstring says.

    Args:
        schedules: ``"A"``, ``"B"``, ``"C"``, ``"das"`` (any case), and ``"random"`` for random cells
            (no search; the control of Table 4); repeats are dropped.
        seeds: the seeds of every schedule; repeats are dropped.
        out: the sweep's folder; runs go to ``search-<schedule>-s<seed>`` and ``retrain-<schedule>-s<seed>``
            (with ``op_sets``: ``search-<schedule>-<op set>-s<seed>``, e.g. ``search-C-o3d-s0``).
        preset: search preset (a name or a :class:`SearchPreset`); ``overrides`` replace its fields.
        retrain: also retrain each found genotype with ``train_preset`` and the search's seed.
        train_preset: retraining preset (a name or a :class:`TrainPreset`).
        jobs: worker processes at once (default ``os.cpu_count()``); each computes on one thread.
        overrides: search preset fields to replace (``{"epochs": 2}``).
        progress: one tqdm bar over the runs, on stderr.
        log: where progress lines and the summary go (default: print).
        task: ``"image"`` or ``"video"``: whose preset tables the names refer to (default: the preset
            object's task, else image).
        op_sets: op sets to search, each with every schedule and seed (``["o2d", "o3d", "oadv"]`` under
            video, any case); default: the preset's one op set, and no op set in the folder names.
        retrain_prefix: the retraining folders' prefix (``transfer`` keeps a second retraining of the same
            searches, e.g. on fine labels, beside the first).
        device: where every search and retraining computes (``"cpu"``, ``"cuda"``, ``"cuda:1"``). On a GPU
            the runs go one at a time, whatever ``jobs`` says: two runs on one GPU only compete for it.

    Returns:
        A pandas DataFrame, one row per (schedule, op set, seed) in the order given: ``schedule``, ``op_set``
        (the stored name, e.g. ``video_o3d``), ``seed``,
        ``status`` (done, resumed, skipped, failed), ``folder``, ``genotype``, ``search_seconds`` and ``search_cpu_seconds`` (its iterations only, wall and CPU time,
        :mod:`~sdas_lib.run.outputs`), the last
        epoch's ``test_acc_relaxed`` / ``test_acc_discrete_weights_kept`` / ``test_acc_discrete`` /
        ``test_acc_discrete_bn_reestimated`` (Table 2; :data:`~sdas_lib.run.outputs.SEARCH_ACCURACIES`); with
        ``retrain``: ``retrain_status``, ``retrain_folder``, ``params`` (without auxiliary head),
        ``test_acc``, ``retrain_seconds``, ``retrain_dataset``; then ``error`` (empty unless failed) and
        ``dataset`` (the search data set's name; the full description is logged).
    """
    import pandas as pd

    from .distributed import launched

    # -- check everything first: bad input writes nothing and starts nothing
    if launched():
        raise SdasError(
            "a sweep runs its searches as separate processes itself and does not run under torchrun; start it "
            "with python, or run each search under torchrun on its own"
        )
    schedules = _unique([_schedule_name(s) for s in ([schedules] if isinstance(schedules, str) else schedules)])
    if not schedules:
        raise SdasError("no schedules given; choose from: 'das', 'A', 'B', 'C', 'random'")
    seeds = [seeds] if _is_int(seeds) else seeds
    if isinstance(seeds, str) or not len(seeds):
        raise SdasError("no seeds given; pass one or more integers (--seeds 0 1 2)")
    if not all(_is_int(s) for s in seeds):
        raise SdasError(f"seeds must be integers, got {list(seeds)}")
    seeds = _unique(int(s) for s in seeds)
    jobs = _jobs_on(device, jobs, log)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SdasError(f"--out {str(out)!r} is a file, not a folder; choose another path")
    task = _task(task, preset, train_preset if retrain else None)
    search_preset = _one_thread(override(_preset(preset, search_presets(task), SearchPreset), **dict(overrides or {})))
    labels = _op_set_labels(task, op_sets)  # stored name -> folder label; {} without an op-set axis
    for stored in labels or [search_preset.op_set]:
        check_search_preset(dataclasses.replace(search_preset, op_set=stored))
    tp = None
    if retrain:
        tp = _one_thread(_preset(train_preset, train_presets(task), TrainPreset))
        check_train_preset(tp)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", retrain_prefix) or retrain_prefix == "search":
            raise SdasError(f"retrain_prefix {retrain_prefix!r}: use a word other than 'search', e.g. 'transfer'")

    def job(s: str, stored: str | None, seed: int) -> SweepJob:
        label = labels.get(stored, "")
        name = job_name(s, label, seed)
        p = dataclasses.replace(search_preset, op_set=stored) if stored else search_preset
        return SweepJob(
            s, seed, str(out / f"search-{name}"), p, str(out / f"{retrain_prefix}-{name}") if retrain else None, tp,
            label, str(device),
        )

    grid = [job(s, stored, seed) for s in schedules for stored in (labels or [None]) for seed in seeds]
    from tqdm.auto import tqdm

    rows: dict[str, dict] = {}

    def finish(job: SweepJob, row: dict) -> None:
        row = {"schedule": job.schedule, "op_set": job.preset.op_set, "seed": job.seed, "folder": job.search_dir,
               "retrain_folder": job.retrain_dir, **row}
        rows[job.name] = row
        bar.update(1)
        with _above_the_bar():
            log(_run_line(job, row))

    plan = {job.name: _plan(job) for job in grid}
    todo = [job for job in grid if plan[job.name] == "run"]
    todo.sort(key=_longest_first)  # stable: seeds stay in order
    workers = min(jobs, len(todo))
    counts = {k: sum(v == k for v in plan.values()) for k in ("complete", "refused")}
    log(
        f"sweep: {len(grid)} jobs ({', '.join(schedules)}{' x ' + ', '.join(labels.values()) if labels else ''}"
        f" x seeds {', '.join(map(str, seeds))}"
        f"{', each searched and retrained' if retrain else ''}) in {out}: "
        + (f"{len(todo)} to run on {workers} worker process{'es' if workers != 1 else ''} (one torch thread each)"
           if todo else "nothing to run")
        + "".join(f", {n} {k}" for k, n in counts.items() if n)
    )
    bar = tqdm(total=len(grid), disable=not progress, desc="sweep", unit="job", file=sys.stderr)
    with bar:
        for job in grid:
            if plan[job.name] != "run":  # complete or refused: its folders are only read
                parts: dict = {}
                run_job(job, lambda kind, payload: parts.update(payload) if kind == "part" else None)
                finish(job, parts)
        _run_pool(todo, workers, finish, bar, log)

    table = pd.DataFrame([rows[job.name] for job in grid])
    return _finish_table(table, retrain, log)


def live_search(
    schedule: str, seed: int, out: str | os.PathLike, *, preset: str | SearchPreset = "tiny",
    overrides: Mapping[str, Any] | None = None, device: str = "cpu", log: Callable[[str], None] = print,
) -> dict:
    """One image search in this process, with its progress bar, into the folder a :func:`sweep` with the same
    arguments would use (``out/search-<schedule>-s<seed>``, one torch thread): a later sweep, or the notebook
    run again, reuses it instead of searching again. A complete folder is only read. Like every search, it
    sets this process's torch threads to the preset's (one), which stays so after it returns.

    Returns:
        ``{"folder", "status"}`` (done, resumed or skipped, as the sweep says) with the folder's
        :func:`~sdas_lib.run.outputs.search_outputs` and ``metrics``, its metrics.csv rows (one per epoch).
    """
    import csv

    from .search import Searcher

    name = _schedule_name(schedule)
    if name == RANDOM or name not in ("das", "A", "B", "C"):
        raise SdasError(f"live_search runs a search: schedule {schedule!r}; choose from 'das', 'A', 'B', 'C'")
    p = _one_thread(override(_preset(preset, search_presets("image"), SearchPreset), **dict(overrides or {})))
    job = SweepJob(name, int(seed), str(Path(out) / f"search-{job_name(name, '', int(seed))}"), p, device=str(device))
    state = search_state(job)  # a folder holding a run with other settings is refused with the reason
    if state != "complete":
        Searcher(p, name, job.seed, device=device, out_dir=job.search_dir, resume=state == "incomplete",
                 progress=True, log=log).run()
    else:
        log(f"{job.search_dir}: complete, read as it is (remove the folder to search again)")
    with open(Path(job.search_dir) / "metrics.csv", newline="") as f:
        metrics = list(csv.DictReader(f))
    status = {"missing": "done", "incomplete": "resumed", "complete": "skipped"}[state]
    return {"folder": job.search_dir, "status": status, **search_outputs(job.search_dir), "metrics": metrics}


def size_prefix(train_preset: TrainPreset, base: TrainPreset) -> str:
    """The retraining folders' prefix for one network size: ``retrain`` for ``base``'s own size (Table 6's
    retrainings, reused), else ``size_K1_C8_C16``."""
    same = (train_preset.K, train_preset.C1, train_preset.C2) == (base.K, base.C1, base.C2)
    return "retrain" if same else f"size_{size_label(train_preset)}"


def sweep_sizes(
    seeds: Sequence[int], out: str | os.PathLike, train_preset: str | TrainPreset = "tiny",
    fractions: Sequence[float] = TABLE7_WIDTH_FRACTIONS, schedule: str = "C", op_set: str = "oadv", **kwargs,
):
    """Table 7: the cells of ``schedule`` on ``op_set`` (found by Table 6's video sweep in ``out``), retrained
    at each size of :func:`~sdas_lib.run.presets.network_sizes` (C1 and C2 times each fraction), with the
    same seeds. Each size is one :func:`sweep` (searches found complete and only read), its retrainings in
    ``out/<prefix>-<schedule>-<op set>-s<seed>`` (:func:`size_prefix`: the preset's own size reuses Table 6's
    ``retrain-`` folders), so a second call reuses every run and an interrupted one resumes.

    Args:
        seeds: the searches' seeds (Table 6's). out: the video sweep's folder.
        train_preset: the video retraining preset whose K, C1, C2 are scaled. fractions: Table 7's widths.
        schedule, op_set: whose cells (SDAS-C on Oadv, as Table 7). kwargs: :func:`sweep`'s (``preset``,
            ``overrides``, ``jobs``, ``device``, ...); ``task``, ``retrain`` and ``retrain_prefix`` are set here.

    Returns:
        :func:`sweep`'s table for every size, one after another, with ``size`` (``K1_C8_C16``), ``K``, ``C1``
        and ``C2`` columns.
    """
    import pandas as pd

    tp = _preset(train_preset, train_presets("video"), TrainPreset)
    for k in ("task", "retrain", "retrain_prefix", "train_preset", "op_sets"):
        if k in kwargs:
            raise SdasError(f"sweep_sizes sets {k} itself; leave it out")
    parts = []
    for size in network_sizes(tp, fractions):
        t = sweep([schedule], seeds, out, task="video", op_sets=[op_set], retrain=True, train_preset=size,
                  retrain_prefix=size_prefix(size, tp), **kwargs)
        parts.append(t.assign(size=size_label(size), K=size.K, C1=size.C1, C2=size.C2))
    return pd.concat(parts, ignore_index=True)


def _task(task: str | None, *presets) -> str:
    """The sweep's task: ``task`` when given, else the first preset object's; preset objects of another task are refused."""
    owned = [p.task for p in presets if isinstance(p, SearchPreset | TrainPreset)]
    task = str(task if task is not None else (owned[0] if owned else "image")).lower()
    search_presets(task)  # an unknown task: one clear error
    for p in presets:
        if isinstance(p, SearchPreset | TrainPreset) and p.task != task:
            raise SdasError(f"preset {p.name!r} is a {p.task} preset but the sweep's task is {task}; pass task={p.task!r}")
    return task


def _op_set_labels(task: str, op_sets: Sequence[str] | None) -> dict[str, str]:
    """``["o3d", "O2D"]`` under video -> ``{"video_o3d": "o3d", "video_o2d": "o2d"}`` (stored name -> folder label)."""
    from ..core.opsets import STORED_NAMES

    if op_sets is None:
        return {}
    op_sets = [op_sets] if isinstance(op_sets, str) else list(op_sets)
    if not op_sets:
        raise SdasError("op_sets is empty; name one or more (--op-sets o2d o3d oadv), or leave it out")
    short = {stored: s for (t, s), stored in STORED_NAMES.items() if t == task}
    stored = _unique(resolve_op_set(task, name) for name in op_sets)
    return {name: short.get(name, name) for name in stored}


def _longest_first(job: SweepJob) -> tuple[int, int]:
    op = job.preset.op_set
    return LONGEST_FIRST.index(job.schedule), COSTLIEST_OP_SET_FIRST.index(op) if op in COSTLIEST_OP_SET_FIRST else 0


def _plan(job: SweepJob) -> str:
    """``"run"`` when ``job`` has a run to do; ``"complete"`` when all its runs are, ``"refused"`` when a
    folder is (complete with other settings, foreign files): those rows are only read, here."""
    try:
        if search_state(job) != "complete":
            return "run"
        if job.retrain_dir is not None and retrain_state(job) != "complete":
            return "run"
    except SdasError:
        return "refused"
    return "complete"


def _run_line(job: SweepJob, row: dict) -> str:
    if "failed" in (row.get("status"), row.get("retrain_status")):
        return f"{job.name}: failed: {row.get('error', '')}"
    if job.schedule == RANDOM:
        line = f"{job.name}: random cell {row['status']} (no search)"
        if job.retrain_dir is not None:
            line += f"; retrain {row['retrain_status']} ({row['retrain_seconds']:.1f} s), test acc {row['test_acc']:.3f}"
        return line
    line = (
        f"{job.name}: search {row['status']} ({row['search_seconds']:.1f} s), test acc relaxed "
        f"{row['test_acc_relaxed']:.3f} discrete {row['test_acc_discrete']:.3f}"
    )
    if job.retrain_dir is not None:
        line += f"; retrain {row['retrain_status']} ({row['retrain_seconds']:.1f} s), test acc {row['test_acc']:.3f}"
    return line


def _run_pool(todo: list, workers: int, finish: Callable[[Any, dict], None], bar, log) -> None:
    """Run ``todo`` on at most ``workers`` spawned processes at once; ``finish(job, row)`` each.

    Each process takes one job after another (torch is imported once per process). Plain
    processes rather than a Pool: a worker that dies (SIGKILL, out of memory) is seen at once, its
    job reported as failed and the worker replaced, where a Pool would wait for it forever; and a
    run may start DataLoader workers, which a Pool's daemonic processes may not.
    """
    ctx = mp.get_context("spawn")
    pending = deque(todo)
    live: dict[Any, _Worker] = {}  # the parent's end of each worker's pipe -> the worker

    def assign(w: _Worker, job: SweepJob) -> None:
        try:
            w.conn.send(job)
        except OSError:  # an idle worker that died: replace it, the job waits
            del live[w.conn]
            w.process.join()
            pending.appendleft(job)
            return
        w.job, w.row, w.current = job, {}, _first_folder(job)

    def show() -> None:
        bar.set_postfix_str(", ".join(sorted(w.job.name for w in live.values() if w.job)), refresh=True)

    try:
        while pending or any(w.job for w in live.values()):
            for w in list(live.values()):
                if w.job is None and pending:
                    assign(w, pending.popleft())
            while pending and len(live) < workers:
                conn, child = ctx.Pipe()
                process = ctx.Process(target=_worker, args=(child,), name=f"sweep worker {len(live) + 1}")
                process.start()
                child.close()  # the worker holds the only other end: EOF here once it exits
                live[conn] = _Worker(process, conn)
                assign(live[conn], pending.popleft())
            show()
            for conn in mp.connection.wait([c for c, w in live.items() if w.job]):
                w = live[conn]
                try:
                    kind, payload = conn.recv()
                except EOFError:  # the worker died in the middle of its job
                    kind, payload = "died", None
                if kind == "start":
                    w.current = payload
                elif kind == "part":
                    w.row.update(payload)
                elif kind == "end":
                    job, w.job = w.job, None
                    finish(job, w.row)
                else:
                    conn.close()
                    del live[conn]
                    w.process.join()
                    finish(w.job, {**w.row, **_died(w)})
    except KeyboardInterrupt:
        busy = sum(1 for w in live.values() if w.job)
        with _above_the_bar():
            log(
                f"interrupted: stopping {busy} run{'s' if busy != 1 else ''}; every run folder is kept "
                f"and the same sweep resumes them"
            )
        raise
    finally:
        for w in live.values():
            if w.job is None:
                with contextlib.suppress(OSError):
                    w.conn.send(None)  # idle: exit
            else:
                w.process.terminate()  # SIGTERM mid-run: the run ends its iteration and checkpoints (faults.py)
        for w in live.values():
            w.process.join()
            w.conn.close()


# -- hand-crafted baselines -----------------------------------------------------------------------


def baseline_state(job: BaselineJob) -> str:
    from .train import BaselineTrainer

    extra = BaselineTrainer.key_extra(job.arch, job.width_divisor)
    return run_state(job.folder, BaselineTrainer, BaselineTrainer.settings_key(job.train_preset, job.seed, extra))


def _baseline(job: BaselineJob) -> dict:
    """One baseline run (in a worker process of one torch thread): its columns, skipped when complete."""
    from .train import BaselineTrainer

    def make(resume: bool):
        return BaselineTrainer(job.train_preset, job.arch, job.width_divisor, job.seed, device=job.device,
                               out_dir=job.folder, resume=resume, progress=False, log=_quiet)

    return _run(job.folder, lambda: baseline_state(job), make, retrain_outputs, "status")


def baseline_folder_name(arch: str, width_divisor: int, seed: int) -> str:
    """``baseline-res50-3d-w4-s0``: a baseline's run folder, named by its width divisor (several widths
    draw Fig. 11's curve). Folders named ``baseline-<arch>-s<seed>`` predate the widths (and were trained
    on the fine labels); nothing reads them any more."""
    return f"baseline-{arch}-w{width_divisor}-s{seed}"


def train_baselines(
    archs: Sequence[str], seeds: Sequence[int], out: str | os.PathLike, train_preset: str | TrainPreset = "tiny",
    width_divisor: int | Sequence[int] = 4, jobs: int | None = None, log: Callable[[str], None] = print,
    device: str = "cpu",
):
    """Train hand-crafted video baselines (Fig. 10, Table 8) for every (arch, width divisor, seed) into
    ``out/baseline-<arch>-w<divisor>-s<seed>`` (:func:`baseline_folder_name`), on the sweep's worker processes
    (one torch thread each): complete folders are skipped, interrupted ones resumed, and a run that fails or
    a worker that dies gives a ``failed`` row while the others go on, as in :func:`sweep`.

    ``width_divisor`` is one divisor (4 in Table 8) or several (``[4, 8, 16]``: Fig. 11's curve of
    accuracy against parameters). ``device`` is where they compute; on a GPU they run one at a time, as in
    :func:`sweep`.

    Returns a DataFrame: ``arch``, ``width_divisor``, ``seed``, ``folder``, ``status``, ``params``,
    ``test_acc``, ``train_acc`` (the last epoch's), ``mult_adds``, ``retrain_seconds``, ``retrain_dataset``, ``error``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ..nets.baselines import BASELINES

    tp = _one_thread(_preset(train_preset, train_presets("video"), TrainPreset))
    check_train_preset(tp)
    archs = _unique(str(a).lower() for a in ([archs] if isinstance(archs, str) else archs))
    unknown = [a for a in archs if a not in BASELINES]
    if unknown or not archs:
        raise SdasError(f"unknown baseline {unknown[0] if unknown else None!r}; choose from: {', '.join(BASELINES)}")
    seeds = [seeds] if _is_int(seeds) else seeds
    if isinstance(seeds, str) or not len(seeds) or not all(_is_int(s) for s in seeds):
        raise SdasError(f"seeds must be one or more integers, got {seeds!r}")
    seeds = _unique(int(s) for s in seeds)
    jobs = _jobs_on(device, jobs, log)
    if Path(out).exists() and not Path(out).is_dir():
        raise SdasError(f"--out {str(out)!r} is a file, not a folder; choose another path")
    widths = [width_divisor] if _is_int(width_divisor) else width_divisor
    if isinstance(widths, str) or not len(widths) or not all(_is_int(w) and w >= 1 for w in widths):
        raise SdasError(f"width_divisor must be a positive integer (4 in Table 8) or a list of them, got {width_divisor!r}")
    widths = _unique(int(w) for w in widths)
    grid = [BaselineJob(a, seed, w, str(Path(out) / baseline_folder_name(a, w, seed)), tp, str(device))
            for a in archs for w in widths for seed in seeds]

    def plan(job: BaselineJob) -> bool:
        try:
            return baseline_state(job) != "complete"
        except SdasError:
            return False  # refused: its row, read below, says why

    todo = [job for job in grid if plan(job)]
    to_run = {job.key for job in todo}
    workers = min(jobs, len(todo))
    log(f"baselines: {len(grid)} runs ({', '.join(archs)} x width / {', '.join(map(str, widths))} x seeds {', '.join(map(str, seeds))}) "
        f"in {out}: " + (f"{len(todo)} to run on {workers} worker process{'es' if workers != 1 else ''}" if todo else "nothing to run"))
    rows: dict[str, dict] = {}

    def finish(job: BaselineJob, row: dict) -> None:
        rows[job.key] = {"arch": job.arch, "width_divisor": job.width_divisor, "seed": job.seed, "folder": job.folder, **row}
        r = rows[job.key]
        with _above_the_bar():
            log(f"{Path(job.folder).name}: {r['status']}" + (
                f": {r.get('error', '')}" if r["status"] == "failed" else f", {r['params']:,} params, test acc {r['test_acc']:.3f}"))

    with tqdm(total=len(grid), disable=True) as bar:
        for job in grid:
            if job.key not in to_run:  # complete or refused: only read, here
                parts: dict = {}
                run_job(job, lambda kind, payload: parts.update(payload) if kind == "part" else None)
                finish(job, parts)
        _run_pool(todo, workers, finish, bar, log)
    table = pd.DataFrame([rows[job.key] for job in grid])
    for c in ("params", "test_acc", "train_acc", "mult_adds", "retrain_seconds", "retrain_dataset", "error"):
        if c not in table:
            table[c] = "" if c in ("retrain_dataset", "error") else float("nan")
    table["error"] = [e if isinstance(e, str) else "" for e in table["error"]]
    table["retrain_dataset"] = [d.split(" (")[0] if isinstance(d, str) else "" for d in table["retrain_dataset"]]
    table["params"] = pd.array(table["params"].tolist(), dtype="Int64")
    return table


@contextlib.contextmanager
def _above_the_bar() -> Iterator[None]:
    """Log lines printed while a progress bar is shown: the bar is cleared and redrawn below them."""
    from tqdm.auto import tqdm

    with tqdm.external_write_mode():
        yield


def _died(w: _Worker) -> dict:
    """The columns of a job whose worker died in the run ``w.current``."""
    code = w.process.exitcode  # joined: negative for a signal
    if code is not None and code < 0:
        how = f"was killed by {signal.Signals(-code).name}"
    elif code == 130:
        how = "was stopped by a signal (SIGTERM or Ctrl-C) after an iteration and a checkpoint"
    else:
        how = f"exited with status {code}"
    key = "status" if w.current == _first_folder(w.job) else "retrain_status"
    return {key: "failed", "error": f"{w.current}: the worker {how}; the folder is kept: run the sweep again to resume it"}


def _finish_table(table, retrain: bool, log: Callable[[str], None]):
    """Columns in order, the data set's short name, and a summary in the log naming failed runs."""
    import pandas as pd

    columns = list(SEARCH_COLUMNS) + (list(RETRAIN_COLUMNS) if retrain else []) + ["error", "dataset"]
    text = ("genotype", "retrain_status", "retrain_dataset", "error", "dataset")
    for c in columns:
        if c not in table:
            table[c] = "" if c in text else float("nan")  # every run failed before reporting it
    table = table[columns].copy()
    descriptions = _unique(d for c in ("dataset", "retrain_dataset") if c in table for d in table[c] if isinstance(d, str) and d)
    for c in ("dataset", "retrain_dataset"):
        if c in table:
            table[c] = [d.split(" (")[0] if isinstance(d, str) else d for d in table[c]]
    if "params" in table:
        table["params"] = pd.array(table["params"].tolist(), dtype="Int64")
    for c in text:  # empty: no error; no retraining (its search failed); a failed run's genotype
        if c in table:
            table[c] = [v if isinstance(v, str) else "" for v in table[c]]
    failed = table["status"] == "failed"
    if retrain:
        failed |= table["retrain_status"] == "failed"

    def counts(column: str) -> str:
        return ", ".join(f"{n} {s}" for s in STATUSES if (n := int((table[column] == s).sum())))

    summary = f"sweep finished: searches {counts('status')}"
    if retrain:
        summary += f"; retrainings {counts('retrain_status') or 'none'}"
    with _above_the_bar():
        for d in descriptions:
            log(f"data: {d}")
        log(summary)
        if failed.any():
            log(f"{int(failed.sum())} failed:")
            for e in table.loc[failed, "error"]:
                log(f"  {e}")
    return table


__all__ = [
    "sweep", "live_search", "SweepJob", "BaselineJob", "run_job", "baseline_state", "run_state", "search_state", "retrain_state", "search_outputs",
    "retrain_outputs", "genotype_line", "train_baselines", "baseline_folder_name", "sweep_sizes", "size_prefix", "LONGEST_FIRST", "COSTLIEST_OP_SET_FIRST", "STATUSES",
]
