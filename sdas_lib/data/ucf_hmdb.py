"""UCF101 and HMDB51 from their official split files, as :class:`~sdas_lib.data.video_clips.VideoClipDataset`.

Why not torchvision's ``datasets.UCF101`` / ``HMDB51``: from torchvision 0.24 on (0.29 here) they
decode through TorchCodec, a separate package, and no longer through PyAV; and they index every
clip of every video as a sample (a video of 300 frames is ~280 samples at step 1), while §5.2
draws one random clip per video per epoch in training and 20 uniformly spaced clips per video in
testing. So both sets are read here from their split files with our PyAV data set.

UCF101 (13,320 videos, 101 classes, 3 splits of ~9.5K train / ~3.7K test)::

    <root>/ucfTrainTestlist/classInd.txt            "1 ApplyEyeMakeup" ... "101 YoYo"
    <root>/ucfTrainTestlist/trainlist0{1,2,3}.txt   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
    <root>/ucfTrainTestlist/testlist0{1,2,3}.txt    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"
    <root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi    (the archive's folder; or <root>/<Class>/... directly)

HMDB51 (6,766 videos, 51 classes, 3 splits of 3,570 train / 1,530 test)::

    <root>/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt   "<file>.avi <tag>", tag 1 train, 2 test, 0 unused
    <root>/hmdb51_org/<class>/<file>.avi    (the archive holds one .rar per class; extract each; or <root>/<class>/...)

A label is the index of its class: UCF101's in classInd.txt order, HMDB51's in alphabetical order
of the split files' class names (as torchvision numbers them). Paths in the split files are
matched case-insensitively when the exact name is absent (UCF101 names the class HandstandPushups
but its files v_HandStandPushups_..., and re-packed copies do not all keep the same case). A video listed but not on disk is an error naming it, because
these sets are fixed: a missing file means an incomplete extraction (``allow_missing_videos=True``
turns it into a warning).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from ..errors import SdasError
from .video_clips import PAPER_CLIPS, ClipSampling, VideoData, VideoIndex, find_videos, make_video_data

UCF101_URL = "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar"
UCF101_SPLITS_URL = "https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip"
HMDB51_URL = "https://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/hmdb51_org.rar"
HMDB51_SPLITS_URL = "https://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/test_train_splits.rar"
FOLDS = (1, 2, 3)
HMDB_TAGS = {1: "train", 2: "test"}  # 0: not used in this split


def _check_fold(name: str, fold: int) -> None:
    if fold not in FOLDS:
        raise SdasError(f"{name}: fold must be 1, 2 or 3, got {fold}")


def _read_lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError as err:
        raise SdasError(f"cannot read {str(path)!r}: {err.strerror or err}") from None


def _first_dir(candidates: list[Path]) -> Path | None:
    return next((c for c in candidates if c.is_dir()), None)


class _Resolver:
    """Finds ``<folder>/<relative path>``, falling back to a case-insensitive match of the whole path."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lower: dict[str, Path] | None = None

    def __call__(self, relative: str) -> Path | None:
        path = self.folder / relative
        if path.is_file():
            return path
        if self._lower is None:
            self._lower = {p.relative_to(self.folder).as_posix().lower(): p for p in find_videos(self.folder)}
        return self._lower.get(relative.lower())


def _resolve_all(name: str, listed: list[tuple[str, int]], resolver: _Resolver, split: str, allow_missing: bool,
                 layout: str, link: str) -> tuple[list[tuple[Path, int]], list[str]]:
    found, absent = [], []
    for relative, label in listed:
        path = resolver(relative)
        if path is None:
            absent.append(relative)
        else:
            found.append((path, label))
    if absent and (not allow_missing or not found):
        raise SdasError(
            f"{name}: {len(absent)} of the {len(listed)} {split} videos in the split files are not in {str(resolver.folder)!r} "
            f"(e.g. {', '.join(absent[:3])}). Expected layout: {layout}. Download {link}"
        )
    notes = []
    if absent:
        warnings.warn(f"{name}: {len(absent)} {split} videos are not on disk (e.g. {', '.join(absent[:3])}); they are left out", stacklevel=3)
        notes.append(f"{len(absent)} listed {split} videos not on disk")
    return found, notes


def _index(name, title, fold, classes, listed, videos, allow_missing, layout, link) -> VideoIndex:
    """The index of split ``fold`` from its listed (relative path, label) samples per split, found under ``videos``."""
    resolver = _Resolver(videos)
    train, notes = _resolve_all(name, listed["train"], resolver, "train", allow_missing, layout, link)
    test, more = _resolve_all(name, listed["test"], resolver, "test", allow_missing, layout, link)
    return VideoIndex(
        name=name, classes=tuple(classes), train=train, test=test, source=f"{title} split {fold}, {videos}", notes=notes + more,
    )


# ---------------------------------------------------------------- UCF101

def _ucf101_layout(root: Path) -> str:
    return (
        f"{root}/ucfTrainTestlist/classInd.txt, trainlist0N.txt, testlist0N.txt and "
        f"{root}/UCF-101/<Class>/v_<Class>_gXX_cYY.avi (or {root}/<Class>/...)"
    )


def ucf101_index(root: str | os.PathLike, fold: int = 1, allow_missing_videos: bool = False) -> VideoIndex:
    """UCF101's split ``fold`` (1-3): train and test (path, label) samples from the official lists."""
    _check_fold("ucf101", fold)
    root = Path(root)
    lists = _first_dir([root / "ucfTrainTestlist", root / "UCF-101" / "ucfTrainTestlist"])
    needed = ["classInd.txt", f"trainlist{fold:02d}.txt", f"testlist{fold:02d}.txt"]
    if lists is None or any(not (lists / n).is_file() for n in needed):
        where = lists or root / "ucfTrainTestlist"
        absent = [n for n in needed if not (where / n).is_file()]
        raise SdasError(
            f"ucf101: split file(s) {', '.join(absent)} not found in {str(where)!r}. Expected layout: {_ucf101_layout(root)}. "
            f"Download the splits {UCF101_SPLITS_URL} and the videos {UCF101_URL}"
        )
    classes: list[str] = []
    for n, line in enumerate(_read_lines(lists / "classInd.txt"), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != len(classes) + 1:
            raise SdasError(f"ucf101: {lists / 'classInd.txt'}, line {n}: expected '{len(classes) + 1} <ClassName>', got {line!r}")
        classes.append(parts[1])
    label_of = {c.lower(): i for i, c in enumerate(classes)}

    def listed(file: str) -> list[tuple[str, int]]:
        out = []
        for n, line in enumerate(_read_lines(lists / file), start=1):
            relative = line.split()[0].replace("\\", "/")
            folder = relative.split("/")[0].lower() if "/" in relative else None
            if folder not in label_of:
                raise SdasError(f"ucf101: {lists / file}, line {n}: {relative!r} is not in a class folder of classInd.txt")
            out.append((relative, label_of[folder]))
        return out

    videos = _first_dir([root / "UCF-101", root / "videos", root]) or root
    listed_splits = {"train": listed(f"trainlist{fold:02d}.txt"), "test": listed(f"testlist{fold:02d}.txt")}
    return _index("ucf101", "UCF101", fold, classes, listed_splits, videos, allow_missing_videos, _ucf101_layout(root), UCF101_URL)


# ---------------------------------------------------------------- HMDB51

def _hmdb51_layout(root: Path) -> str:
    return (
        f"{root}/testTrainMulti_7030_splits/<class>_test_split{{1,2,3}}.txt and "
        f"{root}/hmdb51_org/<class>/<file>.avi (or {root}/<class>/...)"
    )


def hmdb51_index(root: str | os.PathLike, fold: int = 1, allow_missing_videos: bool = False) -> VideoIndex:
    """HMDB51's split ``fold`` (1-3): tag 1 = train, 2 = test, 0 = not used in this split."""
    _check_fold("hmdb51", fold)
    root = Path(root)
    splits = _first_dir([root / "testTrainMulti_7030_splits", root / "test_train_splits" / "testTrainMulti_7030_splits"])
    pattern = re.compile(rf"^(.+)_test_split{fold}\.txt$")
    files = sorted(p for p in splits.iterdir() if pattern.match(p.name)) if splits is not None else []
    if not files:
        raise SdasError(
            f"hmdb51: no split files <class>_test_split{fold}.txt in {str(splits or root / 'testTrainMulti_7030_splits')!r}. "
            f"Expected layout: {_hmdb51_layout(root)}. Download the splits {HMDB51_SPLITS_URL} and the videos {HMDB51_URL}"
        )
    classes = sorted(pattern.match(p.name).group(1) for p in files)
    listed: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    for label, cls in enumerate(classes):
        path = splits / f"{cls}_test_split{fold}.txt"
        for n, line in enumerate(_read_lines(path), start=1):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise SdasError(f"hmdb51: {path}, line {n}: expected '<file>.avi <0|1|2>', got {line!r}")
            split = HMDB_TAGS.get(int(parts[1]))
            if split is not None:
                listed[split].append((f"{cls}/{parts[0]}", label))
    videos = _first_dir([root / "hmdb51_org", root / "videos", root]) or root
    return _index("hmdb51", "HMDB51", fold, classes, listed, videos, allow_missing_videos, _hmdb51_layout(root), HMDB51_URL)


# ---------------------------------------------------------------- loaders

def load_ucf101_data(
    root: str | os.PathLike, *, fold: int = 1, sampling: ClipSampling = PAPER_CLIPS,
    index_cache: str | os.PathLike | None = None, allow_missing_videos: bool = False, progress: bool = True,
) -> VideoData:
    """UCF101 split ``fold`` as clips (§5.2). Args as :func:`~sdas_lib.data.kinetics.load_kinetics10_data`."""
    return make_video_data(ucf101_index(root, fold, allow_missing_videos), sampling, index_cache, progress)


def load_hmdb51_data(
    root: str | os.PathLike, *, fold: int = 1, sampling: ClipSampling = PAPER_CLIPS,
    index_cache: str | os.PathLike | None = None, allow_missing_videos: bool = False, progress: bool = True,
) -> VideoData:
    """HMDB51 split ``fold`` as clips (§5.2). Args as :func:`~sdas_lib.data.kinetics.load_kinetics10_data`."""
    return make_video_data(hmdb51_index(root, fold, allow_missing_videos), sampling, index_cache, progress)


__all__ = [
    "UCF101_URL", "UCF101_SPLITS_URL", "HMDB51_URL", "HMDB51_SPLITS_URL", "ucf101_index", "hmdb51_index",
    "load_ucf101_data", "load_hmdb51_data",
]
