"""Video files as clips (§5.2): PyAV decoding, the paper's clip sampling, a data set over (path, label).

What §5.2 says, and how it is read here (defaults in :class:`ClipSampling`):

- A clip is ``clip_len`` = 16 consecutive frames. Frames are resized so that their short edge is
  ``short_edge`` = 128 pixels (aspect ratio kept), then cropped to ``crop`` × ``crop`` = 112 × 112.
  The crop and the flip are drawn once per clip, so all frames of a clip share them.
- Training: the paper crops its input "from the non-overlapping 16-frame clip", so a training clip
  starts on that grid (frame 0, 16, 32, ...; one of ``num_frames // clip_len`` clips, uniformly).
  ``aligned=False`` lets it start at any frame instead. Then a random crop and a random
  horizontal flip (probability 1/2).
- Testing: ``test_clips`` = 20 clips uniformly spaced over the video, clip i starting at frame
  ``i * (num_frames - clip_len) // (test_clips - 1)`` (the first at frame 0, the last ending on
  the last frame), each center-cropped. A test sample is the stack of all of them,
  (N, C, T, H, W); :func:`average_clip_scores` averages a model's softmax scores over the N clips
  (the video-level prediction of §5.2).
- A video shorter than ``clip_len`` frames is looped: its clip is frames 0, 1, ..., F-1, 0, 1, ...
  (the same for every test clip). The paper does not say; looping keeps the motion real rather
  than freezing the last frame.
- Tensors are float32 in [0, 1] (uint8 / 255), in (C, T, H, W) order with RGB channels. No mean
  or std is subtracted: the paper names none for video, and the video networks begin with a
  convolution followed by BatchNorm, which absorbs a constant shift and scale.

Decoding uses PyAV (FFmpeg's libraries in a wheel). Frames are decoded in presentation order
from the start of the file up to the last frame a clip needs, without seeking: keyframe seeking
is not frame-exact in every container, and Kinetics/UCF101/HMDB51 videos are 10 s or shorter.
Frames a clip needs are converted to RGB and resized by FFmpeg's swscale (bilinear) on the way,
so full-size frames never reach numpy. Pre-resizing the videos to short edge 128 once (as many
video code bases do) makes every epoch several times faster; the result is the same resize.

Unreadable videos are found when the data set is built: every file is opened once, its frame
count read (from the container, or by counting packets when the container has no count) and its
first frame decoded. A file that fails is left out with a warning naming it; if every file fails,
:class:`VideoClipDataset` raises :class:`SdasError`. The probe's results can be kept in a small
JSON index file (``index_cache``), keyed by path, size and modification time, so the next run
starts at once. A file that passes the probe but fails later, mid-stream, is skipped the same way
when it is read: the data set warns and returns the next readable video instead.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import SdasError
from ..files import atomic_write_json
from .base import VideoData

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg")
INDEX_FORMAT = "sdas video frame counts v1"
WARN_EACH = 10  # unreadable videos named one warning each; the rest are counted in one more


class UnreadableVideo(SdasError):
    """A video file that cannot be opened or decoded (missing, corrupt, no video stream)."""


@dataclass(frozen=True)
class ClipSampling:
    """How clips are cut from videos (§5.2); the defaults are the paper's."""

    clip_len: int = 16  # frames per clip (T)
    short_edge: int = 128  # frames are resized so their short edge is this, keeping the aspect ratio
    crop: int = 112  # side of the square crop: random in training, centered in testing
    test_clips: int = 20  # clips per test video, uniformly spaced; their scores are averaged
    aligned: bool = True  # training clips start on the non-overlapping grid 0, clip_len, 2·clip_len, ...

    def __post_init__(self):
        for name in ("clip_len", "short_edge", "crop", "test_clips"):
            if getattr(self, name) < 1:
                raise SdasError(f"clip sampling: {name} must be at least 1, got {getattr(self, name)}")
        if self.crop > self.short_edge:
            raise SdasError(f"clip sampling: crop {self.crop} is larger than short_edge {self.short_edge}; lower crop or raise short_edge")

    def __str__(self) -> str:
        return (
            f"clips of {self.clip_len}x{self.crop}x{self.crop} from short edge {self.short_edge}, "
            f"{self.test_clips} test clips"
        )


PAPER_CLIPS = ClipSampling()


# ---------------------------------------------------------------- decoding (PyAV)

def _video_stream(container, path):
    if not container.streams.video:
        raise UnreadableVideo(f"video {str(path)!r} has no video stream")
    return container.streams.video[0]


def probe_video(path: str | os.PathLike) -> int:
    """Number of frames of ``path``'s first video stream; raises :class:`UnreadableVideo`.

    The count is the container's own (MP4 and AVI store it); where it is absent (WebM, MKV) the
    packets are counted, which needs no decoding. The first frame is decoded as well, so a file
    whose header is fine but whose stream is not fails here rather than in training.
    """
    import av

    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            frames = stream.frames
            if frames <= 0:
                frames = sum(1 for packet in container.demux(stream) if packet.size)  # the flush packet is empty
                container.seek(0)
            next(container.decode(stream))
    except StopIteration:
        raise UnreadableVideo(f"video {str(path)!r} has no decodable frame") from None
    except (av.error.FFmpegError, OSError) as err:
        raise UnreadableVideo(f"cannot read video {str(path)!r}: {err}") from None
    if frames <= 0:
        raise UnreadableVideo(f"video {str(path)!r} has no frames")
    return frames


def resized_size(height: int, width: int, short_edge: int | None) -> tuple[int, int]:
    """(H, W) after resizing the short edge to ``short_edge`` (None: unchanged), aspect ratio kept."""
    if short_edge is None or min(height, width) == short_edge:
        return height, width
    if height <= width:
        return short_edge, max(1, round(width * short_edge / height))
    return max(1, round(height * short_edge / width)), short_edge


def read_frames(path: str | os.PathLike, indices: Sequence[int] | None = None, short_edge: int | None = None) -> np.ndarray:
    """Frames of ``path`` as uint8 RGB, (len(indices), H, W, 3), in the order of ``indices``.

    Args:
        path: a video file FFmpeg can read.
        indices: frame numbers (0-based, presentation order; repeats allowed). None: every frame.
            Decoding stops after the largest one. An index past the last decodable frame (a
            container whose frame count was too high) gets the last decoded frame.
        short_edge: resize every frame so its short edge is this many pixels (None: keep the size).
    """
    import av

    wanted = None if indices is None else set(int(i) for i in indices)
    if wanted is not None and (not wanted or min(wanted) < 0):
        raise SdasError(f"read_frames: frame indices must be non-negative and not empty, got {list(indices)[:5]}")
    last = None if wanted is None else max(wanted)
    got: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_type = "AUTO"  # frame and slice threads inside FFmpeg
            size = None
            for i, frame in enumerate(container.decode(stream)):
                if wanted is None or i in wanted:
                    if size is None:
                        size = resized_size(frame.height, frame.width, short_edge)
                    got[i] = frame.to_ndarray(format="rgb24", height=size[0], width=size[1])  # (H, W, 3)
                if last is not None and i >= last:
                    break
    except (av.error.FFmpegError, OSError) as err:
        raise UnreadableVideo(f"cannot decode video {str(path)!r}: {err}") from None
    if not got:
        raise UnreadableVideo(f"video {str(path)!r} has no decodable frame" + (f" among frames 0..{last}" if last is not None else ""))
    if indices is None:
        return np.stack([got[i] for i in sorted(got)])
    decoded = sorted(got)
    out = []
    for i in indices:
        if i not in got:  # past the real end: the last decoded frame at or before i
            i = max(k for k in decoded if k <= i) if decoded[0] <= i else decoded[0]
        out.append(got[i])
    return np.stack(out)


# ---------------------------------------------------------------- clip sampling (pure functions)

def train_clip_start(num_frames: int, clip_len: int, aligned: bool = True, generator: torch.Generator | None = None) -> int:
    """First frame of a random training clip (§5.2): on the non-overlapping grid when ``aligned``.

    A video of F frames holds F // clip_len non-overlapping clips (starting at 0, clip_len, ...);
    one is drawn uniformly. Unaligned, any start 0..F-clip_len is drawn. A video shorter than a
    clip starts at 0 (and is looped by :func:`clip_frame_indices`).
    """
    if num_frames <= clip_len:
        return 0
    if aligned:
        return clip_len * int(torch.randint(num_frames // clip_len, (1,), generator=generator))
    return int(torch.randint(num_frames - clip_len + 1, (1,), generator=generator))


def uniform_clip_starts(num_frames: int, clip_len: int, num_clips: int) -> list[int]:
    """First frames of ``num_clips`` uniformly spaced test clips (§5.2: 20 per video).

    Clip i starts at ``i * (F - clip_len) // (num_clips - 1)``: the first at frame 0, the last
    ending on the last frame. One clip is the center one. A video shorter than a clip gives
    ``num_clips`` copies of start 0.
    """
    span = max(num_frames - clip_len, 0)
    if num_clips == 1:
        return [span // 2]
    return [i * span // (num_clips - 1) for i in range(num_clips)]


def clip_frame_indices(start: int, clip_len: int, num_frames: int) -> list[int]:
    """Frame numbers of the clip starting at ``start``; a short video loops (0, 1, ..., F-1, 0, 1, ...)."""
    return [(start + k) % num_frames for k in range(clip_len)]


def frames_to_clip(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (T, H, W, 3) frames -> float32 (C, T, H, W) in [0, 1]."""
    x = torch.as_tensor(frames)
    return x.permute(3, 0, 1, 2).float().div_(255)


def random_crop_flip(clip: torch.Tensor, crop: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random crop × crop window of every frame and, with probability 1/2, a horizontal flip.

    clip: (C, T, H, W) -> (C, T, crop, crop); one window and one flip for the whole clip.
    """
    h, w = clip.shape[-2:]
    if h < crop or w < crop:
        raise SdasError(f"cannot crop {crop}x{crop} from frames of {h}x{w}; lower crop or raise short_edge")
    y = int(torch.randint(h - crop + 1, (1,), generator=generator))
    x = int(torch.randint(w - crop + 1, (1,), generator=generator))
    clip = clip[..., y : y + crop, x : x + crop]
    if bool(torch.rand(1, generator=generator) < 0.5):
        clip = clip.flip(-1)  # horizontal: the W axis
    return clip.contiguous()


def center_crop(clip: torch.Tensor, crop: int) -> torch.Tensor:
    """The centered crop × crop window of every frame: (C, T, H, W) -> (C, T, crop, crop)."""
    h, w = clip.shape[-2:]
    if h < crop or w < crop:
        raise SdasError(f"cannot crop {crop}x{crop} from frames of {h}x{w}; lower crop or raise short_edge")
    y, x = (h - crop) // 2, (w - crop) // 2
    return clip[..., y : y + crop, x : x + crop].contiguous()


def average_clip_scores(model: Callable[[torch.Tensor], torch.Tensor], clips: torch.Tensor) -> torch.Tensor:
    """Video-level scores (§5.2): the mean of the softmax scores of each video's test clips.

    clips: (B, N, C, T, H, W), a batch of test samples -> (B, num_classes).
    """
    b, n = clips.shape[:2]
    logits = model(clips.flatten(0, 1))  # (B·N, num_classes)
    return logits.softmax(-1).view(b, n, -1).mean(1)


# ---------------------------------------------------------------- probing with an optional cache

def _load_index(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a damaged cache is rebuilt, never trusted
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT or not isinstance(data.get("videos"), dict):
        return {}
    return data["videos"]


def probe_videos(paths: Sequence[str | os.PathLike], index_cache: str | os.PathLike | None = None, progress: bool = True) -> list[int | str]:
    """Probe each file once (:func:`probe_video`): its frame count, or the reason it is unreadable.

    Args:
        paths: video files.
        index_cache: JSON file that keeps the results between runs, keyed by absolute path, size
            and modification time (a changed file is probed again). None: no cache.
        progress: show a progress bar when there are many files.
    """
    from tqdm import tqdm

    cache_path = Path(index_cache) if index_cache is not None else None
    cache = _load_index(cache_path)
    changed = False
    out: list[int | str] = []
    for p in tqdm(paths, desc="probing videos", unit="video", disable=not progress or len(paths) < 500):
        key = str(Path(p).absolute())
        try:
            st = os.stat(p)
            stamp = [st.st_size, st.st_mtime_ns]
        except OSError as err:
            out.append(f"cannot read video {str(p)!r}: {err.strerror or err}")
            continue
        entry = cache.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and ("frames" in entry or "error" in entry):
            out.append(entry["frames"] if "frames" in entry else entry["error"])
            continue
        try:
            result: int | str = probe_video(p)
            cache[key] = {"stamp": stamp, "frames": result}
        except UnreadableVideo as err:
            result = str(err)
            cache[key] = {"stamp": stamp, "error": result}
        changed = True
        out.append(result)
    if cache_path is not None and changed:
        atomic_write_json(cache_path, {"format": INDEX_FORMAT, "videos": cache})
    return out


def _warn_skipped(skipped: list[tuple[str, str]], what: str) -> None:
    for path, reason in skipped[:WARN_EACH]:
        warnings.warn(f"{what}: skipping unreadable video {path}: {reason}", stacklevel=3)
    if len(skipped) > WARN_EACH:
        warnings.warn(f"{what}: skipped {len(skipped) - WARN_EACH} more unreadable videos (listed in .skipped)", stacklevel=3)


# ---------------------------------------------------------------- the data set

class VideoClipDataset(Dataset):
    """(video, label) samples as clips (§5.2): a training sample is one random clip (C, T, H, W);
    a test sample is the stack of ``test_clips`` uniformly spaced clips (N, C, T, H, W).

    Every file is probed when the data set is built (see the module docstring); unreadable ones
    are left out with a warning naming them and listed in :attr:`skipped`. Random choices (clip
    start, crop, flip) come from torch's global generator, so the seeded batching of
    :class:`~sdas_lib.data.batching.EpochBatches` makes them reproducible.

    Args:
        samples: (path, label) pairs.
        train: training clips (random) or test clips (uniform, centered).
        sampling: clip length, short edge, crop, test clips, grid (§5.2 defaults).
        index_cache: JSON file keeping the probe results between runs (None: probe every time).
        what: the data set's name in warnings and errors.
        progress: show a progress bar while probing many files.
    """

    def __init__(
        self, samples: Sequence[tuple[str | os.PathLike, int]], *, train: bool, sampling: ClipSampling = PAPER_CLIPS,
        index_cache: str | os.PathLike | None = None, what: str = "videos", progress: bool = True,
    ):
        self.train = train
        self.sampling = sampling
        self.what = what
        paths = [Path(p) for p, _ in samples]
        if not paths:
            raise SdasError(f"{what}: no videos to read")
        probed = probe_videos(paths, index_cache, progress)
        self.samples: list[tuple[Path, int]] = []
        self.frame_counts: list[int] = []
        self.skipped: list[tuple[str, str]] = []
        for (p, label), result in zip(samples, probed):
            if isinstance(result, int):
                self.samples.append((Path(p), int(label)))
                self.frame_counts.append(result)
            else:
                self.skipped.append((str(p), result))
        if not self.samples:
            shown = "; ".join(reason for _, reason in self.skipped[:3])
            raise SdasError(
                f"{what}: none of the {len(self.skipped)} video files can be read ({shown}"
                f"{'; ...' if len(self.skipped) > 3 else ''}). Check the files, or that FFmpeg (PyAV) reads their format"
            )
        _warn_skipped(self.skipped, what)
        self._broken: set[int] = set()

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        kind = "train: 1 random clip" if self.train else f"test: {self.sampling.test_clips} clips"
        return f"VideoClipDataset({self.what}, {len(self)} videos, {kind}; {self.sampling})"

    def clip_starts(self, index: int) -> list[int]:
        """Start frames of the clips sample ``index`` would use (one random draw in training)."""
        s, n = self.sampling, self.frame_counts[index]
        if self.train:
            return [train_clip_start(n, s.clip_len, s.aligned)]
        return uniform_clip_starts(n, s.clip_len, s.test_clips)

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        s, n = self.sampling, self.frame_counts[index]
        starts = self.clip_starts(index)
        indices = [i for start in starts for i in clip_frame_indices(start, s.clip_len, n)]
        frames = read_frames(path, indices, s.short_edge)  # (len(starts)·T, H, W, 3) uint8
        clips = frames_to_clip(frames).unflatten(1, (len(starts), s.clip_len)).transpose(0, 1)  # (N, C, T, H, W)
        if self.train:
            return random_crop_flip(clips[0], s.crop), label  # (C, T, crop, crop)
        return torch.stack([center_crop(c, s.crop) for c in clips]), label  # (N, C, T, crop, crop)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        for k in range(len(self.samples)):
            i = (index + k) % len(self.samples)
            if i in self._broken:
                continue
            try:
                return self._load(i)
            except UnreadableVideo as err:
                self._broken.add(i)
                self.skipped.append((str(self.samples[i][0]), str(err)))
                warnings.warn(f"{self.what}: skipping unreadable video {self.samples[i][0]}: {err}; using the next video", stacklevel=2)
        raise SdasError(f"{self.what}: every video failed to decode; see the warnings above for the files")


# ---------------------------------------------------------------- what the loaders return

@dataclass
class VideoIndex:
    """A video data set's samples before any file is opened: class names and (path, label) per split."""

    name: str
    classes: tuple[str, ...]
    train: list[tuple[Path, int]]
    test: list[tuple[Path, int]]
    source: str  # where the lists came from, for the description
    notes: list[str] = field(default_factory=list)  # e.g. videos listed but not on disk

    def __repr__(self) -> str:
        return f"VideoIndex({self.name}: {len(self.classes)} classes, {len(self.train)} train / {len(self.test)} test videos)"


def make_video_data(
    index: VideoIndex, sampling: ClipSampling = PAPER_CLIPS, index_cache: str | os.PathLike | None = None, progress: bool = True,
) -> VideoData:
    """Training and test :class:`VideoClipDataset` of an index (files probed here, once)."""
    train = VideoClipDataset(index.train, train=True, sampling=sampling, index_cache=index_cache, what=f"{index.name} train", progress=progress)
    test = VideoClipDataset(index.test, train=False, sampling=sampling, index_cache=index_cache, what=f"{index.name} test", progress=progress)
    skipped = len(train.skipped) + len(test.skipped)
    description = (
        f"{index.name} ({index.source}; {len(train)} train / {len(test)} test videos, {len(index.classes)} classes; "
        f"{sampling}" + (f"; {skipped} unreadable videos skipped" if skipped else "")
        + "".join(f"; {n}" for n in index.notes) + ")"
    )
    return VideoData(
        name=index.name, description=description, train=train, test=test, num_classes=len(index.classes),
        in_channels=3, resolution=sampling.crop, clip_len=sampling.clip_len, test_clips=sampling.test_clips,
    )


def find_videos(folder: Path) -> list[Path]:
    """Every video file under ``folder`` (suffixes in VIDEO_SUFFIXES, any depth), sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        out += [Path(dirpath) / f for f in sorted(filenames) if f.lower().endswith(VIDEO_SUFFIXES) and not f.startswith(".")]
    return out


__all__ = [
    "ClipSampling", "PAPER_CLIPS", "UnreadableVideo", "VIDEO_SUFFIXES", "probe_video", "probe_videos", "read_frames",
    "resized_size", "train_clip_start", "uniform_clip_starts", "clip_frame_indices", "frames_to_clip", "random_crop_flip",
    "center_crop", "average_clip_scores", "VideoClipDataset", "VideoIndex", "VideoData", "make_video_data", "find_videos",
]
