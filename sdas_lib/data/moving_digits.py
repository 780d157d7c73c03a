"""Moving digits: the embedded video set. scikit-learn's 8×8 digit scans move over a small canvas,
and the label is the motion, never the digit. No single frame tells the class, so temporal
modelling matters (the role Kinetics10 plays in the paper, §7.1, Tables 3 and 6).

Each clip is one scan, resized to a random size and shown at a random angle. It moves over a
canvas that wraps around (a torus: what leaves on the right comes back on the left) for
``clip_len`` frames, with Gaussian pixel noise.

Fine classes (20) and the coarse merge (10), shipped as ``moving_digits_classes.csv`` in the
Kinetics10 format (:class:`~sdas_lib.data.classmap.ClassMapping`). The search uses the coarse labels
and transfer uses the fine ones, as Kinetics10 → Kinetics-400 does:

    coarse                    fine
    move right                move right slowly, move right fast
    move left                 move left slowly, move left fast
    move up                   move up slowly, move up fast
    move down                 move down slowly, move down fast
    move up-right             move up-right slowly, move up-right fast
    move down-left            move down-left slowly, move down-left fast
    move up-left              move up-left slowly, move up-left fast
    move down-right           move down-right slowly, move down-right fast
    rotate clockwise          rotate clockwise slowly, rotate clockwise fast
    rotate counterclockwise   rotate counterclockwise slowly, rotate counterclockwise fast

A moving digit travels in a straight line at a constant speed and does not turn. A rotating digit
stays in place and turns about its box centre. "Slowly" and "fast" are disjoint speed ranges
(:class:`MovingDigitsConfig`). Coarse classes come in time-reverse pairs, labels 2k and 2k + 1
(:func:`partner_coarse`).

Why no single frame tells the class, exactly:
- Time reversal. A clip of class c played backwards is a clip of its partner, with the same
  probability. A clip that starts at position p, angle a, with velocity v and spin w, reversed, is
  the clip that starts at p + (T-1)·v, angle a + (T-1)·w, with velocity -v and spin -w. The start
  position and angle are uniform on the torus and the circle, so the shifted start is uniform too,
  and the speed ranges are the same for both directions. So every statistic that ignores the order
  of frames has the same distribution for c and for its partner: the mean frame, a random frame,
  and a per-frame 2D network averaged over time. No such model can tell "left" from "right", or
  "clockwise" from "counterclockwise".
- Every frame, in every class. A frame of any clip, at any index t, shows a random scan at a
  random size, at a position uniform on the torus and an angle uniform on the circle, plus
  independent noise. Nothing of this depends on the class, so a single frame carries no
  information about the class. The expected clip is a constant grey in every class, so a linear
  model, even on the whole flattened clip, has no difference of means to find (15% measured, from
  higher moments). A classifier needs products of frames: motion energy, or a 3D conv and a ReLU.
  A per-frame 2D network with a global average over time is linear in the average of per-frame
  features, whose expectation is the same in every class, so it stays near chance too.
- Why the canvas wraps, and why there is no zoom or fade class. For the start state and the end
  state of a motion to have the same distribution, the moving quantity must live on a circle.
  On a bounded line, a digit moving right is on average further left at frame 0 than at frame
  T-1, and frame 0 alone would give the class away. Position on a torus and angle on a circle
  qualify. Scale (zoom in/out) and brightness (fade in/out) do not, so they are left out. The
  price: a digit near an edge shows partly at the opposite edge.
- What a time-blind model can still do. A nonlinear model on the mean frame could tell the axis
  of a motion, because the mean frame is smeared along it, but not its direction, so at most 50%.
  Time-blind here means blind to frame order. A stem or op with temporal zero padding can tell the
  first frame from the last, and then it is not time-blind.
  Measured on the default set (tests/test_moving_digits.py, test accuracy on the coarse labels,
  chance 10%):
  - a logistic regression on one random frame per clip: 10.1%; on frame 0: 9.8%; on the mean
    frame: 13.5%;
  - the same regression on motion energy (the correlation of frames t and t + 1..3 at shifts up
    to 3 px): 89%. That is all 8 directions; telling cw from ccw needs more than a shift;
  - a two-layer conv net with 3×3×3 kernels, after 2 epochs: 78%;
  - the same net with 1×3×3 kernels (per frame, then a global average): 9.7%, chance.

Details:
- Scans. The 1,797 scans are split into train and test scans first: stratified, ``split_seed``,
  the same 1,437 / 360 split as plain ``digits``. Each split is generated only from its own scans.
- Classes. They are balanced: each fine class gets ``n / 20`` clips (±1).
- Determinism. Generation uses a numpy Generator seeded by (seed, split). Rendering is one
  batched ``grid_sample`` (bilinear) per split.
- Tensors. The loader gives float tensors (N, 3, T, H, W). The 8-bit grey value is normalized
  by the training clips' mean and std, and repeated to 3 channels like ``digits`` (in_channels 3).
  The 3 channels are one expanded, read-only view, so they cost the memory of one.
- Cache. Clips are stored as uint8 (N, T, H, W) with their generation record in
  ``<cache>/moving_digits-<hash of the config>.npz``. The cache folder is the ``cache_dir``
  argument, else ``$SDAS_CACHE``, else ``~/.cache/sdas``. The file is written atomically. An
  unreadable cache file is generated again, with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from ..errors import SdasError, choices
from ..files import atomic_write_bytes
from .base import VideoData
from .classmap import ClassMapping

CLASSES_FILE = "moving_digits_classes.csv"  # package data beside this module
CACHE_FORMAT = 1  # part of the cache file's hash: bump it when the generator changes
LABELS = ("coarse", "fine")

SQRT_HALF = 0.5**0.5
# Each coarse class's motion: unit direction (x right, y down) or None, and spin sign (+1 = clockwise).
# The order is the CSV's. Classes 2k and 2k+1 are time reverses of each other.
COARSE_MOTIONS: dict[str, tuple[tuple[float, float] | None, int]] = {
    "move right": ((1.0, 0.0), 0),
    "move left": ((-1.0, 0.0), 0),
    "move up": ((0.0, -1.0), 0),
    "move down": ((0.0, 1.0), 0),
    "move up-right": ((SQRT_HALF, -SQRT_HALF), 0),
    "move down-left": ((-SQRT_HALF, SQRT_HALF), 0),
    "move up-left": ((-SQRT_HALF, -SQRT_HALF), 0),
    "move down-right": ((SQRT_HALF, SQRT_HALF), 0),
    "rotate clockwise": (None, 1),
    "rotate counterclockwise": (None, -1),
}
SPEEDS = ("slowly", "fast")  # the fine variants of each coarse class, in the CSV's order


@dataclass(frozen=True)
class MovingDigitsConfig:
    """Every parameter of the moving digits. The defaults are the tiny video set.

    Pixel sizes are for ``resolution``; :meth:`at` rescales them. Motions are given per clip
    (first frame to last), so ``clip_len`` changes the frame rate, not the motion.
    Measured on one loaded CPU core: generating the default set takes 0.25-0.45 s (16 frames at
    32×32: 2.4 s). Its cache file is 7.4 MB and reads back in 0.06 s. A two-layer 3×3×3 conv net
    reaches 57 / 89 / 93% after 1 / 3 / 11 epochs (the paper's Kinetics10 error is about 10%).
    """

    clip_len: int = 8  # T, frames per clip
    resolution: int = 16  # canvas side in pixels (H = W)
    n_train: int = 1500  # 75 per fine class, 150 per coarse class; each training scan about once
    n_test: int = 2000  # 100 per fine class; each of the 360 test scans about 5.6 times
    digit_size: tuple[float, float] = (8.0, 10.0)  # side of the digit's box in pixels, uniform per clip
    travel_slow: tuple[float, float] = (3.0, 4.5)  # pixels moved from first to last frame, "slowly"
    travel_fast: tuple[float, float] = (6.5, 9.0)  # the same, "fast"
    turn_slow: tuple[float, float] = (40.0, 65.0)  # degrees turned from first to last frame, "slowly"
    turn_fast: tuple[float, float] = (90.0, 140.0)  # the same, "fast"
    noise: float = 0.2  # std of the Gaussian pixel noise on [0, 1] intensities (then clipped, 8-bit)
    test_fraction: float = 0.2  # share of the 1,797 scans held out for test (stratified)
    split_seed: int = 0  # seed of the scan split (0: plain digits' split)
    seed: int = 0  # seed of classes, scans, sizes, positions, angles, speeds and noise

    def at(self, resolution: int | None = None, clip_len: int | None = None) -> "MovingDigitsConfig":
        """The same data set at another canvas size and/or number of frames.

        Pixel sizes scale by resolution / this one's. Motions are per clip, so they stay.
        """
        out = self
        if clip_len is not None and clip_len != self.clip_len:
            out = dataclasses.replace(out, clip_len=clip_len)
        if resolution is not None and resolution != self.resolution:
            f = resolution / self.resolution

            def scaled(pair):
                return (pair[0] * f, pair[1] * f)

            out = dataclasses.replace(
                out, resolution=resolution, digit_size=scaled(self.digit_size),
                travel_slow=scaled(self.travel_slow), travel_fast=scaled(self.travel_fast),
            )
        return out

    def check(self) -> None:
        """Reject impossible settings with one clear line each."""
        R, T = self.resolution, self.clip_len
        if not isinstance(T, int) or T < 2:
            raise SdasError(f"moving digits: clip_len must be an integer >= 2 (a motion needs two frames), got {T!r}")
        if not isinstance(R, int) or R < 4:
            raise SdasError(f"moving digits: resolution must be an integer >= 4, got {R!r}")
        lo, hi = self.digit_size
        if not 0 < lo <= hi <= R * SQRT_HALF:
            raise SdasError(
                f"moving digits: digit_size {self.digit_size} must satisfy 0 < low <= high <= {R * SQRT_HALF:.2f} "
                f"(resolution/sqrt(2), so a turned digit fits once on the wrapping canvas)"
            )
        for name in ("travel_slow", "travel_fast", "turn_slow", "turn_fast"):
            a, b = getattr(self, name)
            if not 0 < a <= b:
                raise SdasError(f"moving digits: {name} {getattr(self, name)} must satisfy 0 < low <= high")
        if self.travel_slow[1] >= self.travel_fast[0] or self.turn_slow[1] >= self.turn_fast[0]:
            raise SdasError(
                "moving digits: the slow ranges must end below the fast ones (travel_slow high < travel_fast low, "
                "turn_slow high < turn_fast low), so that speed is a class"
            )
        if self.travel_fast[1] / (T - 1) >= R / 2:
            raise SdasError(
                f"moving digits: travel_fast high {self.travel_fast[1]} moves {self.travel_fast[1] / (T - 1):.2f} px "
                f"per frame, at least half the {R}-pixel canvas; on a wrapping canvas that motion looks reversed"
            )
        if self.turn_fast[1] / (T - 1) >= 90:
            raise SdasError(
                f"moving digits: turn_fast high {self.turn_fast[1]} turns {self.turn_fast[1] / (T - 1):.1f} degrees "
                f"per frame; keep it below 90 (a 0 or an 8 turned 180 degrees looks the same, so a larger "
                f"turn can be read as one the other way)"
            )
        if self.noise < 0:
            raise SdasError(f"moving digits: noise must be >= 0, got {self.noise}")
        n_fine = len(COARSE_MOTIONS) * len(SPEEDS)
        if self.n_train < n_fine or self.n_test < n_fine:
            raise SdasError(f"moving digits: n_train and n_test must be >= {n_fine} (one clip per fine class)")
        if not 0 < self.test_fraction < 1:
            raise SdasError(f"moving digits: test_fraction must lie in (0, 1), got {self.test_fraction}")


def class_mapping() -> ClassMapping:
    """The shipped fine → coarse table (``moving_digits_classes.csv``), checked against the motions."""
    text = resources.files(__package__).joinpath(CLASSES_FILE).read_text(encoding="utf-8")
    mapping = ClassMapping.parse(text, where=CLASSES_FILE)
    expected = tuple((c, tuple(f"{c} {s}" for s in SPEEDS)) for c in COARSE_MOTIONS)
    if mapping.groups != expected:
        raise SdasError(f"{CLASSES_FILE} does not list the motions of moving_digits.py; restore it from the repository")
    return mapping


def partner_coarse(label):
    """The coarse class whose clips are this class's clips played backwards: 2k <-> 2k+1 (int or array)."""
    return label ^ 1


def partner_fine(label):
    """The fine class of the reversed motion at the same speed (int or array)."""
    return label ^ 2  # fine = 2·coarse + speed (0 slowly, 1 fast)


@dataclass(frozen=True)
class MovingDigitsSplit:
    """One generated split and its generation record (scan indices are into scikit-learn's 1,797).

    Positions are in pixels, x to the right and y down; pixel column u covers [u, u+1). Angles are
    in degrees, clockwise on screen.
    """

    scans: np.ndarray  # (S,) the scans this split may use, sorted
    clips: np.ndarray  # (N, T, R, R) uint8 grey, noise included
    fine: np.ndarray  # (N,) int64 fine label (index in class_mapping().fine)
    digit_scan: np.ndarray  # (N,) the scan shown
    digit_size: np.ndarray  # (N,) side of its box in pixels
    start_xy: np.ndarray  # (N, 2) centre of the box at frame 0, in [0, R)
    velocity_xy: np.ndarray  # (N, 2) pixels per frame
    start_angle: np.ndarray  # (N,) degrees at frame 0, in [0, 360)
    spin: np.ndarray  # (N,) degrees per frame, clockwise positive

    def time_reversed(self) -> "MovingDigitsSplit":
        """Every clip played backwards, with the parameters and labels that generate it: the partner's."""
        T = self.clips.shape[1]
        R = self.clips.shape[2]
        return dataclasses.replace(
            self,
            clips=self.clips[:, ::-1].copy(),
            fine=partner_fine(self.fine),
            start_xy=np.mod(self.start_xy + (T - 1) * self.velocity_xy, R),
            velocity_xy=-self.velocity_xy,
            start_angle=np.mod(self.start_angle + (T - 1) * self.spin, 360.0),
            spin=-self.spin,
        )


@dataclass(frozen=True)
class MovingDigits:
    """Both splits, the class table, and the normalization taken from the training clips."""

    config: MovingDigitsConfig
    train: MovingDigitsSplit
    test: MovingDigitsSplit
    classes: ClassMapping
    mean: float  # of the training clips' pixels, on [0, 1]
    std: float

    def coarse(self, split: MovingDigitsSplit) -> np.ndarray:
        """(N,) coarse labels of ``split``."""
        return np.asarray(self.classes.fine_to_coarse(), dtype=np.int64)[split.fine]


def scan_pixels(max_size: float) -> torch.Tensor:
    """(1797, h, h) float32 in [0, 1]: the scans, shrunk with antialiasing if a digit is drawn under 8 px."""
    from sklearn.datasets import load_digits

    scans = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8)
    if max_size < 8:  # bilinear sampling from 8 px to fewer would alias
        side = max(2, int(np.ceil(max_size)))
        scans = F.interpolate(scans, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
    return scans[:, 0].clamp(0, 1)


def render_clips(
    images: torch.Tensor, size, start_xy, velocity_xy, start_angle, spin, *, clip_len: int, resolution: int
) -> torch.Tensor:
    """Noise-free clips: each image moving and turning on a wrapping canvas; (N, T, R, R) float32 in [0, 1].

    Args:
        images: (N, h, w) the digit of each clip.
        size: (N,) side of the digit's box in pixels.
        start_xy: (N, 2) box centre at frame 0 (x right, y down; pixel u covers [u, u+1)).
        velocity_xy: (N, 2) pixels per frame.
        start_angle: (N,) degrees at frame 0, clockwise on screen.
        spin: (N,) degrees per frame, clockwise positive.
        clip_len, resolution: T and R.
    """
    N, T, R = images.shape[0], clip_len, resolution
    f64 = dict(dtype=torch.float64)
    size, start, vel = torch.as_tensor(size, **f64), torch.as_tensor(start_xy, **f64), torch.as_tensor(velocity_xy, **f64)
    t = torch.arange(T, **f64)
    centre = start[:, None, :] + vel[:, None, :] * t[None, :, None]  # (N, T, 2)
    angle = torch.deg2rad(torch.as_tensor(start_angle, **f64)[:, None] + torch.as_tensor(spin, **f64)[:, None] * t)  # (N, T)
    pixel = torch.arange(R, **f64) + 0.5  # pixel centres

    def wrap(d):  # the offset to the nearest copy of the centre on the torus, in [-R/2, R/2)
        return torch.remainder(d + R / 2, R) - R / 2

    # Positions and angles in float64 (a start far along the torus stays exact), the per-pixel grid in float32.
    scale = (2.0 / size)[:, None, None, None]  # box side -> grid_sample's [-1, 1]
    dx = (wrap(pixel[None, None, None, :] - centre[..., 0, None, None]) * scale).float()  # (N, T, 1, R)
    dy = (wrap(pixel[None, None, :, None] - centre[..., 1, None, None]) * scale).float()  # (N, T, R, 1)
    cos, sin = torch.cos(angle)[..., None, None].float(), torch.sin(angle)[..., None, None].float()
    # The digit is turned clockwise by `angle`: a canvas offset d shows the scan at rotation(-angle)·d.
    grid = torch.empty(N, T, R, R, 2)
    torch.add(cos * dx, sin * dy, out=grid[..., 0])
    torch.sub(cos * dy, sin * dx, out=grid[..., 1])
    h, w = images.shape[-2:]
    source = images[:, None, None].expand(N, T, 1, h, w).reshape(N * T, 1, h, w)
    out = F.grid_sample(source, grid.reshape(N * T, R, R, 2), mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(N, T, R, R)


def scan_split(config: MovingDigitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test scan indices: the cluttered digits' (and plain digits') stratified split."""
    from .cluttered import ClutteredDigitsConfig, scan_split as split

    return split(ClutteredDigitsConfig(test_fraction=config.test_fraction, split_seed=config.split_seed))


def _generate_split(config: MovingDigitsConfig, pool: np.ndarray, n: int, split_id: int, pixels: torch.Tensor) -> MovingDigitsSplit:
    """n clips whose digits come only from the scans in ``pool``."""
    rng = np.random.default_rng([config.seed, split_id])
    T, R = config.clip_len, config.resolution
    n_speeds = len(SPEEDS)
    n_fine = len(COARSE_MOTIONS) * n_speeds
    fine = rng.permutation(np.arange(n) % n_fine).astype(np.int64)  # balanced classes
    passes = -(-n // len(pool))
    digit_scan = pool[np.concatenate([rng.permutation(len(pool)) for _ in range(passes)])[:n]]
    digit_size = rng.uniform(*config.digit_size, n)
    start_xy = rng.uniform(0.0, R, (n, 2))  # uniform on the torus: so is every later frame's position
    start_angle = rng.uniform(0.0, 360.0, n)  # uniform on the circle: so is every later frame's angle
    u = rng.uniform(0.0, 1.0, n)  # where in its speed range a clip lies
    noise = rng.standard_normal((n, T, R, R), dtype=np.float32) * np.float32(config.noise)

    motions = list(COARSE_MOTIONS.values())
    coarse, fast = fine // n_speeds, (fine % n_speeds) == 1
    direction = np.array([m[0] or (0.0, 0.0) for m in motions])[coarse]  # (n, 2)
    turn_sign = np.array([m[1] for m in motions], dtype=np.float64)[coarse]  # (n,)

    def in_range(slow, quick):
        lo = np.where(fast, quick[0], slow[0])
        hi = np.where(fast, quick[1], slow[1])
        return lo + u * (hi - lo)

    velocity_xy = direction * (in_range(config.travel_slow, config.travel_fast) / (T - 1))[:, None]
    spin = turn_sign * in_range(config.turn_slow, config.turn_fast) / (T - 1)

    clean = render_clips(
        pixels[torch.from_numpy(digit_scan)], digit_size, start_xy, velocity_xy, start_angle, spin,
        clip_len=T, resolution=R,
    )  # (n, T, R, R) in [0, 1]
    clips = torch.from_numpy(noise).add_(clean).clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).numpy()
    return MovingDigitsSplit(
        scans=np.sort(pool), clips=clips, fine=fine, digit_scan=digit_scan, digit_size=digit_size,
        start_xy=start_xy, velocity_xy=velocity_xy, start_angle=start_angle, spin=spin,
    )


def _finish(config: MovingDigitsConfig, train: MovingDigitsSplit, test: MovingDigitsSplit) -> MovingDigits:
    count = np.bincount(train.clips.ravel(), minlength=256).astype(np.float64)  # exact statistics of 8-bit pixels
    level = np.arange(256) / 255.0
    mean = float((count * level).sum() / count.sum())
    std = float(np.sqrt((count * (level - mean) ** 2).sum() / count.sum()))
    return MovingDigits(config=config, train=train, test=test, classes=class_mapping(), mean=mean, std=std)


def make_moving_digits(config: MovingDigitsConfig = MovingDigitsConfig()) -> MovingDigits:
    """Generate both splits with their record (deterministic; about 0.25 s, no cache)."""
    config.check()
    pixels = scan_pixels(config.digit_size[1])
    train_scans, test_scans = scan_split(config)
    train = _generate_split(config, train_scans, config.n_train, 0, pixels)
    test = _generate_split(config, test_scans, config.n_test, 1, pixels)
    return _finish(config, train, test)


# --- the cache ------------------------------------------------------------------------------------

_FIELDS = [f.name for f in dataclasses.fields(MovingDigitsSplit)]


def default_cache_dir() -> Path:
    """``$SDAS_CACHE`` if set, else ``~/.cache/sdas``."""
    return Path(os.environ.get("SDAS_CACHE") or Path.home() / ".cache" / "sdas")


def _config_json(config: MovingDigitsConfig) -> str:
    return json.dumps({"format": CACHE_FORMAT, **dataclasses.asdict(config)}, sort_keys=True)


def cache_path(config: MovingDigitsConfig, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the clips of ``config`` are cached: ``<cache>/moving_digits-<16 hex digits of its hash>.npz``."""
    digest = hashlib.sha256(_config_json(config).encode()).hexdigest()[:16]
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"moving_digits-{digest}.npz"


def _save(data: MovingDigits, path: Path) -> None:
    arrays = {"config": np.array(_config_json(data.config))}
    for name, split in (("train", data.train), ("test", data.test)):
        arrays.update({f"{name}/{field}": getattr(split, field) for field in _FIELDS})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load(config: MovingDigitsConfig, path: Path) -> MovingDigits:
    with np.load(path, allow_pickle=False) as f:
        if str(f["config"]) != _config_json(config):
            raise ValueError("it holds another configuration")
        splits = [MovingDigitsSplit(**{field: f[f"{name}/{field}"] for field in _FIELDS}) for name in ("train", "test")]
    T, R = config.clip_len, config.resolution
    for split, n in zip(splits, (config.n_train, config.n_test)):
        if split.clips.shape != (n, T, R, R) or split.clips.dtype != np.uint8 or split.fine.shape != (n,):
            raise ValueError(f"its clips have shape {split.clips.shape}, not {(n, T, R, R)}")
    return _finish(config, *splits)


def load_or_make_moving_digits(config: MovingDigitsConfig = MovingDigitsConfig(), cache_dir: str | os.PathLike | None = None) -> MovingDigits:
    """The moving digits of ``config``, read from the cache or generated and then cached.

    Args:
        config: the parameters.
        cache_dir: the cache folder (default: ``$SDAS_CACHE``, else ``~/.cache/sdas``).
    """
    config.check()
    path = cache_path(config, cache_dir)
    if path.is_file():
        try:
            return _load(config, path)
        except Exception as e:  # a torn, truncated or foreign file: regenerate it, never fail on a cache
            warnings.warn(f"moving digits: cache file {path} is unreadable ({type(e).__name__}: {e}); generating it again")
    data = make_moving_digits(config)
    try:
        _save(data, path)
    except OSError as e:  # a read-only or full disk costs the next run 1 s, not this run
        warnings.warn(f"moving digits: could not cache the clips in {path} ({e}); they are generated again next time")
    return data


# --- what a network sees --------------------------------------------------------------------------


def describe(config: MovingDigitsConfig, labels: str, n_train_scans: int, n_test_scans: int) -> str:
    c = config
    n = len(COARSE_MOTIONS) if labels == "coarse" else len(COARSE_MOTIONS) * len(SPEEDS)
    return (
        f"{'moving_digits' if labels == 'coarse' else 'moving_digits_fine'} (scikit-learn's 8x8 handwritten digit scans, embedded: each clip one digit of "
        f"{c.digit_size[0]:g}-{c.digit_size[1]:g} px moving or turning on a wrapping {c.resolution}x{c.resolution} "
        f"canvas for {c.clip_len} frames, Gaussian pixel noise std {c.noise}; {c.n_train} train from "
        f"{n_train_scans} scans / {c.n_test} test from {n_test_scans} disjoint scans, seed {c.seed}; "
        f"{labels} labels, {n} motion classes)"
    )


def load_moving_digits_data(
    resolution: int | None = None, clip_len: int | None = None, labels: str = "coarse",
    cache_dir: str | os.PathLike | None = None, config: MovingDigitsConfig | None = None,
) -> VideoData:
    """Moving digits as normalized (N, 3, T, H, W) float tensors (train statistics); see the module docstring.

    Args:
        resolution: canvas side (default: the config's, 16); pixel sizes are rescaled (``MovingDigitsConfig.at``).
        clip_len: frames per clip (default: the config's, 8).
        labels: ``"coarse"`` (10 motions, the search's) or ``"fine"`` (20: motion and speed, transfer's).
        cache_dir: the cache folder (default: ``$SDAS_CACHE``, else ``~/.cache/sdas``).
        config: the parameters (default: :class:`MovingDigitsConfig`'s defaults).
    """
    if labels not in LABELS:
        raise SdasError(f"moving digits: unknown labels {labels!r}; choose one of: {choices(LABELS)}")
    config = (config or MovingDigitsConfig()).at(resolution, clip_len)
    data = load_or_make_moving_digits(config, cache_dir)

    def tensors(split: MovingDigitsSplit) -> TensorDataset:
        x = torch.from_numpy(split.clips).to(torch.float32).div_(255.0)  # (N, T, H, W) in [0, 1]
        x = ((x - data.mean) / data.std)[:, None]  # (N, 1, T, H, W)
        x = x.expand(-1, 3, -1, -1, -1)  # (N, 3, T, H, W): gray repeated like digits, one buffer
        y = data.coarse(split) if labels == "coarse" else split.fine
        return TensorDataset(x, torch.as_tensor(y, dtype=torch.long))

    num_classes = len(data.classes.coarse) if labels == "coarse" else len(data.classes.fine)
    return VideoData(
        name="moving_digits" if labels == "coarse" else "moving_digits_fine",
        description=describe(config, labels, len(data.train.scans), len(data.test.scans)),
        train=tensors(data.train), test=tensors(data.test), num_classes=num_classes, in_channels=3,
        resolution=config.resolution, clip_len=config.clip_len, classes=data.classes, labels=labels,
    )


__all__ = [
    "MovingDigitsConfig", "MovingDigitsSplit", "MovingDigits", "VideoData", "COARSE_MOTIONS", "SPEEDS",
    "class_mapping", "partner_coarse", "partner_fine", "render_clips", "scan_split", "make_moving_digits",
    "load_or_make_moving_digits", "load_moving_digits_data", "cache_path", "default_cache_dir",
]
