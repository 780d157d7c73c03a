"""Command line: ``python -m sdas_lib {search,count,train,summary,sweep,baseline} ...`` (``sdas`` when installed).

Every preset field is also a flag (``--epochs 5 --K 1 --C2 32 --arch-lr 0.01``; ``--arch_lr`` works
too); ``search --preset paper --help`` lists them with the paper preset's values as defaults.
``--task video`` (search, train) takes the video presets of the same names, and
``--op-set o2d|o3d|oadv`` (or ``--ops``) picks a video op set.
Bad input prints one ``error: ...`` line and exits with status 2, leaving no files behind.
A search or retraining stopped by Ctrl-C or SIGTERM (status 130) or a lost machine continues from its
last checkpoint when the same command is run again with ``--resume``. One stopped by a NaN loss is run
again with a lower learning rate and ``--force``: a resume replays the same iterations bit for bit (and
so the same NaN), and it refuses other settings than the checkpoint's, the learning rates included.

``search``, ``train`` and ``baseline`` also run under ``torchrun`` (``torchrun --nproc_per_node=N -m
sdas_lib search ...``): N processes share each batch (:mod:`sdas_lib.run.distributed`); rank 0
prints and writes. An error of the run that the ranks share is printed once, by rank 0; one met
before the processes joined (a bad flag) is printed by every rank.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import SdasError


class HelpFormatter(argparse.HelpFormatter):
    """Every spelling of an option, then its value once: ``--arch-lr, --arch_lr FLOAT``."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        value = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {value}"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one ``error: ...`` line (no usage dump) for a wrong command or flag."""

    def __init__(self, *args, formatter_class=HelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message: str):
        message = message.replace("argument COMMAND: invalid choice:", "unknown command")
        self.exit(2, f"error: {message}; see '{self.prog} --help'\n")


def prepare_run(args: argparse.Namespace):
    """The device of a run command (search, train, baseline): ``--device``, checked. Under torchrun
    the process joins the job here (``--backend``) and gets its own device (``cuda:LOCAL_RANK`` or
    the CPU); a worker that torchrun restarted (``--max-restarts``) continues its run folder:
    ``--resume`` is set and ``--force`` dropped, so the restart never replaces the run it continues."""
    from .run import distributed

    from .run.devices import check_device

    device = check_device(args.device)
    distributed.resolve_backend(args.backend, device)  # a wrong --backend is refused with one process too
    restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    out = Path(args.out)
    if distributed.launched() and restarts > 0 and out.is_dir() and any(out.iterdir()):
        args.resume, args.force = True, False
        if is_main_process():
            print(f"torchrun restart {restarts}: continuing the run in {out}", file=sys.stderr)
    return distributed.setup(device, args.backend).device


def under_torchrun() -> bool:
    """Whether this process is one of several that torchrun started (read without importing torch,
    as :func:`sdas_lib.run.distributed.launched` does)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """False in the torchrun workers other than rank 0 (they print nothing but their own errors)."""
    return not under_torchrun() or os.environ.get("RANK", "0") == "0"


class _PeekFailed(Exception):
    pass


class _PresetPeek(argparse.ArgumentParser):
    def error(self, message: str):
        raise _PeekFailed(message)


def _chosen_preset(argv: Sequence[str], tables: Callable[[str], dict] | dict):
    """The preset named by ``--preset`` in a command's arguments (tiny without one), from the table of
    the ``--task`` named there (image without one), read before the full parse so that ``--help``
    can show its values. An unknown preset name raises SdasError; a malformed command line or an
    unknown task gives tiny (image) here and its error in the full parse.

    Args:
        tables: task -> the presets of that task (:func:`~sdas_lib.run.presets.search_presets`), or one table.
    """
    from .core.opsets import TASKS
    from .run.presets import get_preset

    peek = _PresetPeek(add_help=False)
    peek.add_argument("--preset", default="tiny")
    peek.add_argument("--task", default="image")
    try:
        args = peek.parse_known_args(list(argv))[0]
        name, task = args.preset, args.task.lower()
    except _PeekFailed:
        name, task = "tiny", "image"
    if isinstance(tables, dict):
        return get_preset(name, tables)
    return get_preset(name, tables(task if task in TASKS else "image"))


def _show(value) -> str:
    """A preset value as typed on the command line (``repr`` keeps 3e-05 readable, strings bare)."""
    return value if isinstance(value, str) else repr(value)


def _add_preset_flags(parser: argparse.ArgumentParser, preset, exclude: Sequence[str] = (), task_flag: bool = True) -> None:
    """One flag per field of ``preset``'s class: hyphen spelling first (``--arch-lr``, ``--arch_lr`` also
    works), help = the field's meaning (its dataclass metadata) and ``preset``'s value as the default.
    The flags' own default is None: only the flags given override the preset (see :func:`_overrides`).
    ``--ops`` is a short spelling of ``--op-set``. ``exclude``: fields that get no flag. ``task_flag``:
    the command has ``--task`` (the group's title then names a video preset's task)."""
    from .run.presets import field_help, preset_fields

    task = f" --task {preset.task}" if task_flag and preset.task != "image" else ""
    group = parser.add_argument_group(f"preset overrides (defaults: the values of --preset {preset.name}{task})")
    for f in preset_fields(type(preset)):
        if f.name in exclude:
            continue
        if f.name == "op_set":
            group.add_argument("--ops", dest="op_set", default=None, help=argparse.SUPPRESS)
        flags = [f"--{f.name.replace('_', '-')}"] + ([f"--{f.name}"] if "_" in f.name else [])
        text = f"{field_help(f)} (default: {_show(getattr(preset, f.name))})".replace("%", "%%")
        if f.type in (bool, "bool"):
            group.add_argument(*flags, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            typ = {"int": int, "float": float, "str": str}.get(str(f.type), str)
            group.add_argument(*flags, dest=f.name, type=typ, default=None, metavar=typ.__name__.upper(), help=text)


def _overrides(args: argparse.Namespace, preset_cls, task: str | None = None) -> dict:
    """The preset fields given on the command line; with ``task``, ``--op-set`` as its stored name
    (``--task video --op-set O3D`` -> ``video_o3d``)."""
    from .run.presets import preset_fields, resolve_op_set

    given = {f.name: getattr(args, f.name, None) for f in preset_fields(preset_cls)}
    given = {k: v for k, v in given.items() if v is not None}
    if task is not None and "op_set" in given and given["op_set"] != "":
        given["op_set"] = resolve_op_set(task, given["op_set"])
    return given


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command line parser. ``argv`` is peeked at for a search or train command's ``--preset``:
    that preset's values are the documented defaults of its preset flags (tiny's without one).
    Raises SdasError for an unknown preset."""
    from .run.presets import VIDEO_TRAIN_PRESETS, search_presets, train_presets

    command, rest = (argv[0], argv[1:]) if argv else (None, ())
    search_preset = _chosen_preset(rest if command == "search" else (), search_presets)
    train_preset = _chosen_preset(rest if command == "train" else (), train_presets)
    baseline_preset = _chosen_preset(rest if command == "baseline" else (), VIDEO_TRAIN_PRESETS)

    parser = ArgumentParser(prog="python -m sdas_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("search", help="run an SDAS (schedule A/B/C) or DAS search, on images or video")
    s.add_argument("--task", **_TASK_ARGUMENT)
    s.add_argument("--preset", default="tiny", help="tiny (CPU, embedded digits; video: moving digits), paper (CIFAR10; "
                   "video: Kinetics10) or micro; its values are the defaults below")
    s.add_argument("--schedule", default="A", help="A, B, C (SDAS) or das (all decisions at the end)")
    _add_run_folder_flags(s, "run folder for genotype.json, decisions.json, metrics.csv")
    _add_preset_flags(s, search_preset)

    c = sub.add_parser("count", help="number of valid architectures of a search space (Table 1)")
    c.add_argument("--task", **{**_TASK_ARGUMENT, "help": "image (default: normal and reduction cell) or video "
                                "(normal, ST-reduction and S-reduction cell)"})
    c.add_argument("--op-set", "--ops", default="o2d", help="o2d (image); o2d, o3d or oadv (video)")
    c.add_argument("--n-nodes", type=int, default=4)
    c.add_argument("--k", type=int, default=2)
    c.add_argument("--history", help="a run's decisions.json: also print the count after each decision")

    _add_train_parser(sub, train_preset)
    _add_summary_parser(sub)
    _add_sweep_parser(sub)
    _add_baseline_parser(sub, baseline_preset)
    return parser


_TASK_ARGUMENT = dict(
    default="image", type=str.lower, choices=("image", "video"),
    help="image (default) or video: picks the presets of that task (--preset tiny --task video) and the op sets",
)
# Preset fields a baseline does not use: it is a torchvision model, not a cell network.
BASELINE_UNUSED = ("network", "op_set", "K", "C1", "C2", "cutout", "drop_path", "auxiliary_weight")


def _add_run_folder_flags(p, out_help: str) -> None:
    """The flags every command that makes a run folder shares (search, train, baseline)."""
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (under torchrun: cpu or cuda, each "
                   "process takes cuda:LOCAL_RANK)")
    p.add_argument("--backend", default="auto", type=str.lower, help="under torchrun: the process group's backend, "
                   "auto (NCCL on GPUs, gloo on the CPU), gloo or nccl")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--force", action="store_true", help="replace the run already in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_train_parser(sub, preset) -> None:
    t = sub.add_parser("train", help="retrain a genotype from scratch in an evaluation network (§6.1, §7.1)")
    t.add_argument("--genotype", required=True, help="a genotype.json from a search run, or a reference name (darts_v2)")
    t.add_argument("--task", **_TASK_ARGUMENT)
    t.add_argument("--preset", default="tiny", help="tiny (CPU, embedded digits; video: moving digits), paper (CIFAR10, "
                   "§6.1; video: Kinetics10, §7.1), imagenet or micro; its values are the defaults below")
    _add_run_folder_flags(t, "run folder for metrics.csv, weights.pt, result.json")
    _add_preset_flags(t, preset)


def _add_summary_parser(sub) -> None:
    m = sub.add_parser("summary", help="parameters, mult-adds and output shape of an evaluation network")
    m.add_argument("--genotype", help="a genotype.json or a reference name (default: darts_v2; the video network needs a video genotype.json)")
    m.add_argument("--network", default="cifar", help="registered network structure: cifar, imagenet or video")
    m.add_argument("--K", type=int, help="normal cells per stage (default: the network's paper value)")
    m.add_argument("--C1", type=int, help="stem width (default: the network's paper value)")
    m.add_argument("--C2", type=int, help="first cell's output width (default: the network's paper value)")
    m.add_argument("--num-classes", "--num_classes", dest="num_classes", type=int, help="default: 10 cifar, 1000 imagenet, 10 video")
    m.add_argument("--resolution", type=int, help="input H = W (default: 32 cifar, 224 imagenet, 112 video)")
    m.add_argument("--frames", type=int, help="frames per clip, video only (default: 16, a 16x112x112 clip)")


def _add_baseline_parser(sub, preset) -> None:
    from .nets.baselines import BASELINES

    b = sub.add_parser(
        "baseline", help="train a hand-crafted video baseline (Fig. 10, Table 8) with the retraining loop",
        description="Train a torchvision ResNet/ResNeXt inflated to clips (Fig. 10: 1xkxk convs, two temporal max "
        "pools; the 3d variants add a 3x1x1 conv beside each spatial conv) from scratch, as 'train' does a genotype.",
    )
    b.add_argument("--arch", required=True, type=str.lower, choices=BASELINES, metavar="ARCH",
                   help=f"one of {', '.join(BASELINES)} (case-insensitive)")
    b.add_argument("--width", type=int, default=1, help="divide every layer's width by this (default: 1; Table 8: 4)")
    b.add_argument("--preset", default="tiny", help="tiny (CPU, moving digits), paper (Kinetics10, §7.1) or micro; its values are the defaults below")
    _add_run_folder_flags(b, "run folder for metrics.csv, weights.pt, result.json")
    _add_preset_flags(b, preset, exclude=BASELINE_UNUSED, task_flag=False)


def _add_sweep_parser(sub) -> None:
    from .run.presets import SEARCH_PRESETS, TRAIN_PRESETS

    w = sub.add_parser(
        "sweep", help="a grid of searches (schedules x seeds), optionally retrained, in parallel worker processes",
        description="Search every schedule with every seed, each run in its own process on one torch thread; "
        "complete run folders are skipped, interrupted ones resumed. Prints one row per run.",
    )
    w.add_argument("--schedules", nargs="+", default=["das", "A", "B", "C"], metavar="NAME", help="A, B, C, das (default: all four), and random for Table 4's random cells (no search)")
    w.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="SEED", help="seeds of every schedule (default: 0)")
    w.add_argument("--out", required=True, help="sweep folder: runs go to search-<schedule>-s<seed>, retrain-<schedule>-s<seed>")
    w.add_argument("--task", default="image", choices=["image", "video"], type=str.lower,
                   help="image (default) or video: picks the presets of that task and its op sets")
    w.add_argument("--op-sets", "--op_sets", dest="op_sets", nargs="+", default=None, metavar="NAME",
                   help="search each op set with every schedule and seed (video: o2d o3d oadv, Table 6); "
                   "folders become search-<schedule>-<op set>-s<seed>")
    w.add_argument("--preset", default="tiny", help=f"search preset: {', '.join(SEARCH_PRESETS)} (video: tiny, paper, micro)")
    w.add_argument("--retrain", action="store_true", help="retrain each found genotype from scratch (same seed)")
    w.add_argument("--train-preset", "--train_preset", dest="train_preset", default="tiny", help=f"retraining preset: {', '.join(TRAIN_PRESETS)} (video: tiny, paper, micro)")
    w.add_argument("--retrain-prefix", "--retrain_prefix", dest="retrain_prefix", default="retrain",
                   help="prefix of the retraining folders (default retrain; e.g. transfer for a second retraining)")
    w.add_argument("--jobs", type=int, default=None, help="worker processes at once (default: the number of CPUs)")
    w.add_argument("--device", default="cpu", help="where every run computes: cpu (default), cuda, cuda:N; "
                   "on a GPU the runs go one at a time")
    w.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", dest="sets",
        help="replace a search preset field (repeatable): --set epochs=2 --set dataset=fashion_mnist",
    )
    w.add_argument(
        "--train-set", "--train_set", action="append", default=[], metavar="FIELD=VALUE", dest="train_sets",
        help="replace a retraining preset field (repeatable): --train-set dataset=moving_digits_fine",
    )
    w.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _parse_sets(items: Sequence[str], task: str = "image", train: bool = False) -> dict:
    """``["epochs=2", "arch-lr=0.01"]`` -> ``{"epochs": 2, "arch_lr": 0.01}``, typed as the task's search
    preset fields (``train``: its retraining preset fields, for ``--train-set``)."""
    from .errors import choices
    from .run.presets import SearchPreset, TrainPreset, VideoSearchPreset, VideoTrainPreset, preset_fields

    classes = {(False, "image"): SearchPreset, (False, "video"): VideoSearchPreset,
               (True, "image"): TrainPreset, (True, "video"): VideoTrainPreset}
    known = {f.name: f for f in preset_fields(classes[train, task])}
    flag, what = ("--train-set", "retraining") if train else ("--set", "search")
    out = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or not name:
            raise SdasError(f"{flag} {item!r}: expected FIELD=VALUE, e.g. {flag} epochs=2")
        if name not in known:
            raise SdasError(f"{flag} {item}: unknown {what} preset field {name!r}; fields are: {choices(known)}")
        kind = str(known[name].type)
        try:
            if kind == "bool":
                value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[text.lower()]
            else:
                value = {"int": int, "float": float}.get(kind, str)(text)
        except (KeyError, ValueError):
            kind_text = {"bool": "true or false", "int": "an integer", "float": "a number"}[kind]
            raise SdasError(f"{flag} {item}: {name} must be {kind_text}, got {text!r}") from None
        out[name] = value
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    from .run.presets import get_preset, override, train_presets
    from .run.sweep import sweep

    train_preset = args.train_preset
    if args.train_sets and not args.retrain:
        raise SdasError("--train-set replaces a retraining preset field; add --retrain")
    if args.train_sets:
        base = get_preset(args.train_preset, train_presets(args.task))
        train_preset = override(base, **_parse_sets(args.train_sets, args.task, train=True))
    try:
        table = sweep(
            args.schedules, args.seeds, args.out, preset=args.preset, retrain=args.retrain,
            train_preset=train_preset, jobs=args.jobs, overrides=_parse_sets(args.sets, args.task),
            progress=not args.no_progress, task=args.task, op_sets=args.op_sets, retrain_prefix=args.retrain_prefix,
            device=args.device,
        )
    except KeyboardInterrupt:
        print("interrupted; every run folder is kept: run the same sweep again to resume", file=sys.stderr)
        return 130
    print(table.to_string(index=False))
    failed = table["status"] == "failed"
    if "retrain_status" in table:
        failed |= table["retrain_status"] == "failed"
    return 1 if failed.any() else 0


def cmd_search(args: argparse.Namespace) -> int:
    from .run.presets import get_preset, override, search_presets
    from .run.search import Searcher

    base = get_preset(args.preset, search_presets(args.task))
    preset = override(base, **_overrides(args, type(base), args.task))
    device = prepare_run(args)
    searcher = Searcher(
        preset, args.schedule, args.seed, device=device, out_dir=args.out, resume=args.resume,
        force=args.force, progress=not args.no_progress,
    )
    searcher.run()
    return 0


def cmd_count(args: argparse.Namespace) -> int:
    from .core.counting import count_cell_architectures, count_valid_architectures
    from .core.discretization import DiscretizationState
    from .core.space import SearchSpace

    history = None
    if args.history:
        from .core.history import load_history

        history = load_history(args.history)
        space = history.space  # a history carries its own search space
    elif args.task == "video":
        from .core.space import video_space
        from .run.presets import resolve_op_set

        space = video_space(resolve_op_set("video", args.op_set), n_nodes=args.n_nodes, k=args.k)
    else:
        from .run.presets import resolve_op_set

        space = SearchSpace(resolve_op_set("image", args.op_set), n_nodes=args.n_nodes, k=args.k)
    state = DiscretizationState(space)
    print(space)
    for ct in space.cell_type_names:
        n = count_cell_architectures(state, ct)
        print(f"  one {ct} cell: {n:,} ({n:.3g}) valid architectures")
    total = count_valid_architectures(state)
    print(f"  {' + '.join(space.cell_type_names)} together: {total:,} ({total:.3g})")
    print(f"  one-step decisions to make: M = {space.total_decisions}")
    if history is not None:
        T = history.T
        print(f"\nafter each decision of {args.history} (schedule {history.meta.get('schedule')}, T={T}):")
        print(f"{'step':>4} {'t/T':>6}  {'decision':<44} valid architectures")
        for d in history.decisions:
            state.apply(d)
            where = f"{d.cell_type} " + (f"edge {d.edge[0]}->{d.edge[1]} {d.choice}" if d.kind == "edge" else f"node {d.node} keeps {d.choice}")
            print(f"{d.step + 1:>4} {d.iteration / T:>6.3f}  {where:<44} {count_valid_architectures(state):.4g}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .run.presets import get_preset, override, train_presets
    from .run.train import Trainer

    base = get_preset(args.preset, train_presets(args.task))
    preset = override(base, **_overrides(args, type(base), args.task))
    device = prepare_run(args)
    trainer = Trainer(
        preset, args.genotype, args.seed, device=device, out_dir=args.out, resume=args.resume,
        force=args.force, progress=not args.no_progress,
    )
    result = trainer.run()
    if is_main_process():
        print(f"test accuracy {result.test_acc:.4f} ({result.dataset.split(' ')[0]}, {preset.epochs} epochs); run folder {args.out}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .nets.complexity import count_mult_adds, count_parameters, human
    from .nets.evalnet import build_network, get_network
    from .run.train import task_genotype

    spec = get_network(args.network)
    task = "video" if spec.name == "video" else "image"
    if args.genotype is None and task == "video":
        raise SdasError("summary --network video needs --genotype: a video genotype.json (from 'search --task video')")
    args.genotype = args.genotype or "darts_v2"
    other = "--network video" if task == "image" else "--network cifar or imagenet"
    genotype = task_genotype(args.genotype, task, spec.cell_types, where=f"the {spec.name} network", fix=f"use {other}")
    K, C1, C2 = (spec.K if args.K is None else args.K), (spec.C1 if args.C1 is None else args.C1), (spec.C2 if args.C2 is None else args.C2)
    classes = spec.num_classes if args.num_classes is None else args.num_classes
    shape = spec.input_shape(spec.resolution if args.resolution is None else args.resolution)
    if args.frames is not None:
        if task != "video":
            raise SdasError(f"--frames is for clips: use it with --network video, not {args.network!r}")
        if args.frames < 1:
            raise SdasError(f"--frames must be a positive integer, got {args.frames}")
        shape = (shape[0], args.frames, *shape[2:])  # (C, T, H, W)
    net = build_network(args.network, genotype, K=K, C1=C1, C2=C2, num_classes=classes, in_channels=shape[0], auxiliary=True)
    params, params_aux = count_parameters(net, exclude_auxiliary=True), count_parameters(net, exclude_auxiliary=False)
    mult_adds = count_mult_adds(net, shape)
    net.eval()
    import torch

    with torch.no_grad():
        out = tuple(net(torch.zeros(1, *shape)).shape)
    dims = "x".join(map(str, shape))
    rows = [
        ("parameters (without auxiliary head)", f"{params:,}", human(params)),
        ("parameters (with auxiliary head)", f"{params_aux:,}", human(params_aux)),
        (f"mult-adds, 1x{dims} (conv + linear)", f"{mult_adds:,}", human(mult_adds)),
        ("output shape", str(out), ""),
    ]
    print(f"{args.genotype} in the {spec.name} network: K={K}, C1={C1}, C2={C2}, {classes} classes, {len(net.cells)} cells")
    print(f"  {spec.description}")
    w = max(len(r[0]) for r in rows)
    for label, value, short in rows:
        print(f"  {label:<{w}}  {value:>15}  {short}")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from .run.presets import VIDEO_TRAIN_PRESETS, get_preset, override
    from .run.train import BaselineTrainer

    base = get_preset(args.preset, VIDEO_TRAIN_PRESETS)
    preset = override(base, **_overrides(args, type(base)))
    device = prepare_run(args)
    trainer = BaselineTrainer(
        preset, args.arch, args.width, args.seed, device=device, out_dir=args.out, resume=args.resume,
        force=args.force, progress=not args.no_progress,
    )
    result = trainer.run()
    if is_main_process():
        print(f"{args.arch} (width / {args.width}): {result.params:,} parameters, test accuracy {result.test_acc:.4f} "
              f"({result.dataset.split(' ')[0]}, {preset.epochs} epochs); run folder {args.out}")
    return 0


DISTRIBUTED_COMMANDS = ("search", "train", "baseline")
COMMANDS = {
    "search": cmd_search, "count": cmd_count, "train": cmd_train, "summary": cmd_summary, "sweep": cmd_sweep,
    "baseline": cmd_baseline,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(argv)  # reads --preset first: --help shows that preset's values
    except SdasError as err:  # an unknown preset
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a wrong command or flag (already reported)
        return stop.code if isinstance(stop.code, int) else 2
    main_process = is_main_process()
    try:
        if under_torchrun() and args.command not in DISTRIBUTED_COMMANDS:
            raise SdasError(
                f"'{args.command}' does not run under torchrun: only {', '.join(DISTRIBUTED_COMMANDS)} do (a sweep "
                f"runs its searches as separate processes itself); start it with python -m sdas_lib"
            )
        return COMMANDS[args.command](args)
    except SdasError as err:
        if main_process or not getattr(err, "everywhere", False):  # an error of every rank: printed once
            rank = "" if main_process or not under_torchrun() else f"[rank {os.environ.get('RANK')}] "
            print(f"{rank}error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if main_process:
            print("interrupted; the last checkpoint is kept: run the same command with --resume to continue", file=sys.stderr)
        return 130
    finally:
        if "sdas_lib.run.distributed" in sys.modules:  # a run command joined the job: leave it
            sys.modules["sdas_lib.run.distributed"].shutdown()


if __name__ == "__main__":
    sys.exit(main())
