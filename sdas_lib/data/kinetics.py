"""Kinetics10 (paper Table 3) and Kinetics itself, from the official annotation CSVs and a folder of videos.

Kinetics10 merges 66 fine Kinetics classes into 10 coarse ones; the mapping is package data,
``kinetics10.csv`` beside this file, in :class:`~sdas_lib.data.classmap.ClassMapping`'s
``coarse,fine`` format, groups and classes in Table 3's order.

The paper calls Kinetics10 a subset of Kinetics-400, but Table 3 spells its classes as
Kinetics-600 does: 10 of the 66 are not Kinetics-400 classes at all (:data:`KINETICS600_ONLY`),
and "cooking sausages (not on barbeque)" is Kinetics-400's "cooking sausages". Every one of the 66
is a Kinetics-600 class (the Kinetics-400 and -600 names were checked against the official lists;
see tests/test_video_data.py). So Kinetics10 is built from Kinetics-600 annotations (or any later Kinetics whose CSVs hold the 66
names). With Kinetics-400 annotations the 10 missing classes are an error that names them;
``allow_missing_classes=True`` builds a Kinetics10 from the 56 that Kinetics-400 has (the
Kinetics-400 spelling "cooking sausages" is accepted for its Kinetics-600 name).

Annotations: the official CSVs, header ``label,youtube_id,time_start,time_end,split`` (an extra
``is_cc`` column is ignored), found as ``<root>/annotations/<split>.csv`` (the CVDF download),
``<root>/<split>.csv``, or ``kinetics_600_<split>.csv`` / ``kinetics-600_<split>.csv`` /
``kinetics_400_<split>.csv`` / ``kinetics-400_<split>.csv`` / ``kinetics_<split>.csv`` in either
folder, where split is ``train`` and ``val`` (or ``validate``). Pass ``train_csv`` / ``val_csv`` to
choose others.

Videos: one file per annotation row, named ``<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>``
(what the ActivityNet crawler and the CVDF tarballs produce), or just ``<youtube_id>.<ext>``, under
the split's folder at any depth: ``<root>/train/`` (flat, as the CVDF tarballs extract, or with
one sub-folder per class, as the crawler writes; the folder names do not matter),
``<root>/videos/train/`` (CVDF's ``arrange_by_classes.py``) or ``<root>/videos_train/``
(mmaction2), likewise ``val``. Videos are matched to rows by file name only, so a class folder
spelled with underscores or without its parentheses is fine.

Kinetics videos disappear from YouTube, so every copy misses some: a listed video not on disk is
left out with one warning per split (a count and examples), and the description says how many.
A class with no training video on disk is an error.
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

from ..errors import SdasError, choices
from .classmap import ClassMapping
from .video_clips import PAPER_CLIPS, ClipSampling, VideoData, VideoIndex, find_videos, make_video_data

KINETICS10_CSV = Path(__file__).with_name("kinetics10.csv")
KINETICS_DOWNLOAD = "https://github.com/cvdfoundation/kinetics-dataset"  # videos and annotations (k400/k600 downloader scripts)
KINETICS600_ANNOTATIONS = "https://github.com/activitynet/ActivityNet/tree/master/Crawler/Kinetics"  # crawler + Kinetics-600 CSVs
KINETICS400_ANNOTATIONS = "https://s3.amazonaws.com/kinetics/400/annotations/"  # train.csv, val.csv, test.csv

# The Table 3 classes that Kinetics-400 does not have (they came with Kinetics-600).
KINETICS600_ONLY = frozenset({
    "falling off bike", "jumping bicycle", "chopping vegetables", "cooking scallops", "mosh pit dancing",
    "square dancing", "skiing mono", "passing soccer ball", "ice swimming", "swimming front crawl",
})
# Table 3 (Kinetics-600) name -> other spellings of the same class in other Kinetics versions.
ALIASES = {"cooking sausages (not on barbeque)": ("cooking sausages",)}  # Kinetics-400's name

COLUMNS = ("label", "youtube_id", "time_start", "time_end")
SPLIT_NAMES = {"train": ("train",), "val": ("val", "validate")}


def kinetics10_mapping() -> ClassMapping:
    """Table 3: 66 Kinetics classes in 10 coarse groups (basketball, biking, ..., swimming)."""
    return ClassMapping.load(KINETICS10_CSV)


def read_kinetics_annotations(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of an official Kinetics annotation CSV (label, youtube_id, time_start, time_end, ...).

    Rows without a label (the test split's) are dropped.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise SdasError(
                    f"Kinetics annotations {str(path)!r} lack the column(s) {choices(missing)}; expected the official "
                    f"header 'label,youtube_id,time_start,time_end,split' (see {KINETICS_DOWNLOAD})"
                )
            rows = []
            for row in reader:
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                if row["label"]:
                    rows.append(row)
            return rows
    except OSError as err:
        raise SdasError(f"cannot read Kinetics annotations {str(path)!r}: {err.strerror or err}") from None


def video_key(row: dict[str, str]) -> str:
    """The file stem of a row's video: ``<youtube_id>_<time_start:06d>_<time_end:06d>``."""
    try:
        return f"{row['youtube_id']}_{int(float(row['time_start'])):06d}_{int(float(row['time_end'])):06d}"
    except ValueError:
        raise SdasError(f"Kinetics annotation row {row} has a time that is not a number") from None


def _annotation_file(root: Path, split: str) -> Path | None:
    for folder in (root / "annotations", root):
        for s in SPLIT_NAMES[split]:
            for name in (f"{s}.csv", f"kinetics_600_{s}.csv", f"kinetics-600_{s}.csv", f"kinetics_400_{s}.csv",
                         f"kinetics-400_{s}.csv", f"kinetics_{s}.csv"):
                if (folder / name).is_file():
                    return folder / name
    return None


def _video_folder(root: Path, split: str) -> Path | None:
    for s in SPLIT_NAMES[split]:
        for folder in (root / s, root / "videos" / s, root / f"videos_{s}"):
            if folder.is_dir():
                return folder
    return None


def _layout(root: Path) -> str:
    return (
        f"{root}/annotations/train.csv and val.csv (header label,youtube_id,time_start,time_end,split) and videos "
        f"{root}/train/[<class>/]<youtube_id>_<start:06d>_<end:06d>.mp4 and {root}/val/... "
        f"(also accepted: {root}/videos/train/, {root}/videos_train/)"
    )


def _missing_classes_error(missing: list[str], csv_paths: list[Path], mapping_name: str) -> SdasError:
    hint = ""
    if set(missing) <= KINETICS600_ONLY:
        hint = (
            ". These are Kinetics-600 classes that Kinetics-400 lacks: Table 3 uses Kinetics-600 names. Use Kinetics-600 "
            f"annotations and videos ({KINETICS_DOWNLOAD}), or pass allow_missing_classes=True to build {mapping_name} "
            "from the classes these annotations have"
        )
    files = " and ".join(repr(str(p)) for p in csv_paths)
    return SdasError(f"{mapping_name}: {len(missing)} class(es) of the mapping are not in {files}: {choices(missing)}{hint}")


def build_kinetics_index(
    root: str | os.PathLike, *, mapping: ClassMapping | None = None, labels: str = "coarse",
    train_csv: str | os.PathLike | None = None, val_csv: str | os.PathLike | None = None,
    allow_missing_classes: bool = False, name: str | None = None,
) -> VideoIndex:
    """Train and val samples of Kinetics or of a class mapping over it (Kinetics10), as (path, label).

    Args:
        root: folder with the annotations and the video folders (layout in the module docstring).
        mapping: fine Kinetics classes merged into coarse groups (Kinetics10: :func:`kinetics10_mapping`).
            None: every class of the training annotations, alphabetically (Kinetics-400's usual
            label order), fine labels.
        labels: with a mapping, ``"coarse"`` (the group's index; Kinetics10's 10 classes) or
            ``"fine"`` (the fine class's index in the mapping's order, e.g. for transfer).
        train_csv / val_csv: annotation files (default: found under ``root``).
        allow_missing_classes: build from the mapping's classes that the annotations have, with a
            warning naming the others, instead of an error.
        name: the data set's name (default ``kinetics10`` with a mapping, else ``kinetics``).
    """
    if labels not in ("coarse", "fine"):
        raise SdasError(f"labels must be 'coarse' or 'fine', got {labels!r}")
    root = Path(root)
    name = name or ("kinetics10" if mapping is not None else "kinetics")
    csvs = {"train": Path(train_csv) if train_csv else _annotation_file(root, "train"),
            "val": Path(val_csv) if val_csv else _annotation_file(root, "val")}
    for split, path in csvs.items():
        if path is None or not path.is_file():
            where = str(path) if path is not None else f"{root}/annotations/{split}.csv (or {root}/{split}.csv)"
            raise SdasError(
                f"{name}: Kinetics {split} annotations not found at {where!r}. Expected layout: {_layout(root)}. "
                f"Annotations and videos: {KINETICS_DOWNLOAD} (Kinetics-600 CSVs also at {KINETICS600_ANNOTATIONS})"
            )
    rows = {split: read_kinetics_annotations(path) for split, path in csvs.items()}

    # Which annotation label belongs to which class index.
    notes: list[str] = []
    if mapping is None:
        classes = tuple(sorted({r["label"] for r in rows["train"]}))
        label_of = {c: i for i, c in enumerate(classes)}
    else:
        spellings = {fine: (fine, *ALIASES.get(fine, ())) for fine in mapping.fine}
        present = {split: {r["label"] for r in rows[split]} for split in rows}
        gone = [f for f in mapping.fine if any(not present[split] & set(spellings[f]) for split in rows)]
        if gone and not allow_missing_classes:
            lacking = [csvs[split] for split in rows if any(not present[split] & set(spellings[f]) for f in gone)]
            raise _missing_classes_error(gone, lacking, name)
        kept = [f for f in mapping.fine if f not in gone]
        empty_groups = [c for c, fines in mapping.groups if not any(f in kept for f in fines)]
        if empty_groups:
            raise SdasError(f"{name}: no class of the group(s) {choices(empty_groups)} is in the annotations; cannot build it")
        if gone:
            warnings.warn(f"{name}: {len(gone)} class(es) missing from the annotations are left out: {choices(gone)}", stacklevel=2)
            notes.append(f"{len(gone)} of {len(mapping.fine)} fine classes absent from the annotations")
        if labels == "coarse":
            classes = mapping.coarse
            index_of = {f: classes.index(mapping.coarse_of(f)) for f in kept}
        else:
            classes = tuple(kept)
            index_of = {f: i for i, f in enumerate(kept)}
        label_of = {s: index_of[f] for f in kept for s in spellings[f]}

    # Match rows to files.
    samples: dict[str, list[tuple[Path, int]]] = {}
    for split in ("train", "val"):
        folder = _video_folder(root, split)
        if folder is None:
            raise SdasError(
                f"{name}: no {split} video folder under {str(root)!r}. Expected layout: {_layout(root)}. Videos: {KINETICS_DOWNLOAD}"
            )
        by_stem: dict[str, Path] = {}
        by_id: dict[str, list[Path]] = {}
        for p in find_videos(folder):
            by_stem.setdefault(p.stem, p)
            by_id.setdefault(p.stem[:11], []).append(p)
        found: list[tuple[Path, int]] = []
        absent: list[str] = []
        for r in rows[split]:
            if r["label"] not in label_of:
                continue
            key = video_key(r)
            path = by_stem.get(key)
            if path is None and len(by_id.get(r["youtube_id"], ())) == 1:
                path = by_id[r["youtube_id"]][0]  # a file named by its YouTube id alone
            if path is None:
                absent.append(key)
            else:
                found.append((path, label_of[r["label"]]))
        if not found:
            raise SdasError(
                f"{name}: none of the {len(absent)} {split} videos listed in {str(csvs[split])!r} is in {str(folder)!r} "
                f"(looked for e.g. {absent[0] if absent else '?'}.mp4 at any depth). Expected layout: {_layout(root)}"
            )
        if absent:
            warnings.warn(
                f"{name}: {len(absent)} of {len(absent) + len(found)} {split} videos listed in {csvs[split].name} are not in "
                f"{folder} (e.g. {', '.join(absent[:3])}); they are left out", stacklevel=2,
            )
            notes.append(f"{len(absent)} listed {split} videos not on disk")
        samples[split] = found
    empty = [classes[c] for c in range(len(classes)) if not any(label == c for _, label in samples["train"])]
    if empty:
        raise SdasError(f"{name}: no training video on disk for class(es) {choices(empty[:10])}{' ...' if len(empty) > 10 else ''}")
    return VideoIndex(
        name=name, classes=tuple(classes), train=samples["train"], test=samples["val"],
        source=f"Kinetics annotations {csvs['train'].name}/{csvs['val'].name}, videos under {root}", notes=notes,
    )


def load_kinetics10_data(
    root: str | os.PathLike, *, sampling: ClipSampling = PAPER_CLIPS, labels: str = "coarse",
    index_cache: str | os.PathLike | None = None, allow_missing_classes: bool = False,
    train_csv: str | os.PathLike | None = None, val_csv: str | os.PathLike | None = None, progress: bool = True,
) -> VideoData:
    """Kinetics10 (Table 3): 10 coarse classes merged from 66 Kinetics(-600) classes; val is the test set.

    Args:
        root: folder with the annotations and videos (see the module docstring).
        sampling: clip sampling (§5.2 defaults: 16×112×112 from short edge 128, 20 test clips).
        labels: ``"coarse"`` (10 classes, the paper's) or ``"fine"`` (the 66 classes).
        index_cache: JSON file keeping each video's frame count between runs (None: probe each run).
        allow_missing_classes: with Kinetics-400 annotations, build from the 56 classes it has.
        train_csv / val_csv: annotation files, if not under ``root``.
        progress: show a progress bar while probing many videos.
    """
    index = build_kinetics_index(
        root, mapping=kinetics10_mapping(), labels=labels, train_csv=train_csv, val_csv=val_csv,
        allow_missing_classes=allow_missing_classes, name="kinetics10",
    )
    return make_video_data(index, sampling, index_cache, progress)


def load_kinetics_data(
    root: str | os.PathLike, *, sampling: ClipSampling = PAPER_CLIPS, index_cache: str | os.PathLike | None = None,
    train_csv: str | os.PathLike | None = None, val_csv: str | os.PathLike | None = None, progress: bool = True,
) -> VideoData:
    """All classes of the Kinetics annotations under ``root`` (400 with Kinetics-400's), fine labels in
    alphabetical order; val is the test set (transfer, §7.3–7.4). Arguments as :func:`load_kinetics10_data`."""
    index = build_kinetics_index(root, train_csv=train_csv, val_csv=val_csv, name="kinetics")
    return make_video_data(index, sampling, index_cache, progress)


__all__ = [
    "KINETICS10_CSV", "KINETICS600_ONLY", "ALIASES", "KINETICS_DOWNLOAD", "kinetics10_mapping", "read_kinetics_annotations",
    "video_key", "build_kinetics_index", "load_kinetics10_data", "load_kinetics_data",
]
