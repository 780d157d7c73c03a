"""Real video data sets on tiny videos the tests encode with PyAV: decoding, §5.2 clip sampling,
unreadable files, Kinetics10 (Table 3), UCF101 and HMDB51 split files.

Every test video is 32×40 pixels. Frame t has the value 20 + 10·t in its left half and half that
in its right half, so a decoded frame tells its index (from the brighter side) and its
orientation (which side is brighter): clip sampling can be checked for meaning.
"""

import csv
import json
import zlib
import re
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from sdas_lib.data import video_clips as vc
from sdas_lib.data.batching import SeededSamples
from sdas_lib.data.classmap import ClassMapping
from sdas_lib.data.kinetics import (
    ALIASES, KINETICS10_CSV, KINETICS600_ONLY, build_kinetics_index, kinetics10_mapping, load_kinetics10_data,
    load_kinetics_data,
)
from sdas_lib.data.ucf_hmdb import (
    HMDB51_URL, UCF101_SPLITS_URL, hmdb51_index, load_hmdb51_data, load_ucf101_data, ucf101_index,
)
from sdas_lib.data.video_clips import (
    ClipSampling, UnreadableVideo, VideoClipDataset, average_clip_scores, center_crop, clip_frame_indices, probe_video,
    random_crop_flip, read_frames, uniform_clip_starts, train_clip_start,
)
from sdas_lib.errors import SdasError

H, W = 32, 40
SMALL = ClipSampling(clip_len=4, short_edge=32, crop=24, test_clips=5)  # frames keep their 32×40 size

# (container format, suffix, codec, pixel format, options): what the bundled FFmpeg encodes.
CONTAINERS = [
    ("mp4", ".mp4", "libx264", "yuv420p", {"qp": "0"}),  # Kinetics' container; lossless H.264
    ("mp4", ".mp4", "mpeg4", "yuv420p", {"qscale": "1"}),
    ("avi", ".avi", "mpeg4", "yuv420p", {"qscale": "1"}),  # UCF101 / HMDB51: XviD (MPEG-4 part 2) in AVI
    ("avi", ".avi", "mjpeg", "yuvj420p", {"qscale": "1"}),
    ("matroska", ".mkv", "mpeg4", "yuv420p", {"qscale": "1"}),  # no frame count in the container
]


def frame_image(t: int) -> np.ndarray:
    img = np.full((H, W, 3), 20 + 10 * t, np.uint8)
    img[:, W // 2 :] //= 2
    return img


def write_video(path: Path, frames: int, container=CONTAINERS[0]) -> Path:
    fmt, _, codec, pix_fmt, options = container
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        stream.options = options
        for t in range(frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame_image(t), format="rgb24")))
        out.mux(stream.encode())
    return path


def frame_index(img) -> int:
    """The index of a decoded frame (H, W, 3) uint8 or (C, H, W) float from its brighter side."""
    x = torch.as_tensor(img).float()
    if x.shape[-1] == 3:
        x = x.permute(2, 0, 1)
    elif x.max() <= 1:
        x = x * 255
    bright = max(x[..., :, :2].mean(), x[..., :, -2:].mean())
    return round((float(bright) - 20) / 10)


def is_flipped(img: torch.Tensor) -> bool:
    """(C, H, W): the bright half is on the right."""
    return bool(img[..., :, -2:].mean() > img[..., :, :2].mean())


def clip_frames(clip: torch.Tensor) -> list[int]:
    """(C, T, H, W) -> the frame index of each frame."""
    return [frame_index(clip[:, k]) for k in range(clip.shape[1])]


# ---------------------------------------------------------------- decoding

@pytest.mark.parametrize("container", CONTAINERS, ids=[f"{c[2]}{c[1]}" for c in CONTAINERS])
def test_every_container_decodes_to_its_frames(tmp_path, container):
    path = write_video(tmp_path / f"v{container[1]}", 6, container)
    assert probe_video(path) == 6  # MKV has no count: its packets are counted
    frames = read_frames(path)
    assert frames.shape == (6, H, W, 3) and frames.dtype == np.uint8
    assert [frame_index(f) for f in frames] == list(range(6))
    assert not is_flipped(torch.as_tensor(frames[0]).permute(2, 0, 1).float())


def test_read_frames_follows_the_indices_and_resizes(tmp_path):
    path = write_video(tmp_path / "v.mp4", 8)
    frames = read_frames(path, [5, 0, 5, 2])
    assert [frame_index(f) for f in frames] == [5, 0, 5, 2]
    small = read_frames(path, [3], short_edge=16)
    assert small.shape == (1, 16, 20, 3) and frame_index(small[0]) == 3
    assert vc.resized_size(240, 320, 128) == (128, 171) and vc.resized_size(320, 240, 128) == (171, 128)
    past = read_frames(path, [7, 30])  # a container count that is too high: the last decoded frame stands in
    assert [frame_index(f) for f in past] == [7, 7]


def test_unreadable_files_raise_naming_the_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(3000))
    for call in (lambda: probe_video(bad), lambda: read_frames(bad, [0]), lambda: probe_video(tmp_path / "absent.mp4")):
        with pytest.raises(UnreadableVideo, match=r"(bad|absent)\.mp4"):
            call()


# ---------------------------------------------------------------- sampling (pure functions)

def test_test_clips_are_uniformly_spaced_from_first_to_last_frame():
    assert uniform_clip_starts(40, 4, 5) == [0, 9, 18, 27, 36]
    starts = uniform_clip_starts(300, 16, 20)  # a 10 s video at 30 fps, as in the paper
    assert len(starts) == 20 and starts[0] == 0 and starts[-1] + 16 == 300
    assert uniform_clip_starts(40, 4, 1) == [18]  # one clip: the center one
    assert uniform_clip_starts(3, 4, 3) == [0, 0, 0]  # shorter than a clip


def test_training_clips_start_on_the_non_overlapping_grid():
    g = torch.Generator().manual_seed(0)
    aligned = {train_clip_start(43, 4, True, g) for _ in range(300)}
    assert aligned == set(range(0, 40, 4))  # 43 frames hold 10 whole clips: 0, 4, ..., 36
    anywhere = {train_clip_start(43, 4, False, g) for _ in range(1000)}
    assert anywhere == set(range(40))
    assert train_clip_start(3, 4) == 0


def test_short_videos_loop():
    assert clip_frame_indices(0, 5, 3) == [0, 1, 2, 0, 1]
    assert clip_frame_indices(6, 4, 10) == [6, 7, 8, 9]


def test_one_crop_and_one_flip_for_the_whole_clip():
    clip = torch.arange(2 * 3 * 8 * 10, dtype=torch.float32).view(2, 3, 8, 10)  # (C, T, H, W), every value distinct
    flips = set()
    for seed in range(40):
        torch.manual_seed(seed)
        out = random_crop_flip(clip, 6)
        assert out.shape == (2, 3, 6, 6)
        flipped = bool(out[0, 0, 0, 0] > out[0, 0, 0, -1])
        flips.add(flipped)
        plain = out.flip(-1) if flipped else out
        y, x = divmod(int(plain[0, 0, 0, 0]), 10)
        assert torch.equal(plain, clip[..., y : y + 6, x : x + 6])  # the same window in every frame and channel
    assert flips == {True, False}
    assert torch.equal(center_crop(clip, 6), clip[..., 1:7, 2:8])


def test_video_scores_average_the_clips_softmax():
    clips = torch.randn(2, 5, 3, 4, 6, 6)  # (B, N, C, T, H, W)
    head = torch.nn.Linear(3, 7)
    model = lambda x: head(x.mean(dim=(2, 3, 4)))  # (B·N, C, T, H, W) -> (B·N, 7)
    scores = average_clip_scores(model, clips)
    expected = torch.stack([torch.stack([model(c[None])[0].softmax(-1) for c in video]).mean(0) for video in clips])
    assert scores.shape == (2, 7) and torch.allclose(scores, expected, atol=1e-6)


# ---------------------------------------------------------------- the data set

def test_a_training_sample_is_one_clip_of_consecutive_frames_cropped_and_flipped(tmp_path):
    path = write_video(tmp_path / "v.mp4", 20)
    ds = VideoClipDataset([(path, 3)], train=True, sampling=SMALL)
    assert ds.frame_counts == [20]
    starts, flips = set(), set()
    for seed in range(16):
        x, label = SeededSamples(ds)[(0, seed)]
        assert label == 3 and x.shape == (3, 4, 24, 24) and x.dtype == torch.float32
        assert 0 <= float(x.min()) and float(x.max()) <= 1
        frames = clip_frames(x)
        assert frames == list(range(frames[0], frames[0] + 4)) and frames[0] % 4 == 0
        starts.add(frames[0])
        flips.add(is_flipped(x[:, 0]))
        assert len({is_flipped(x[:, k]) for k in range(4)}) == 1
        again, _ = SeededSamples(ds)[(0, seed)]
        assert torch.equal(x, again)  # the seed decides clip, crop and flip
    assert starts == {0, 4, 8, 12, 16} and flips == {True, False}


def test_frames_are_resized_to_the_short_edge_before_the_crop(tmp_path):
    path = write_video(tmp_path / "v.mp4", 8)
    ds = VideoClipDataset([(path, 0)], train=True, sampling=ClipSampling(clip_len=4, short_edge=16, crop=16, test_clips=2))
    torch.manual_seed(0)
    x, _ = ds[0]
    assert x.shape == (3, 4, 16, 16)  # 16×20 frames, cropped to 16×16: most of each half remains
    assert clip_frames(x) in ([0, 1, 2, 3], [4, 5, 6, 7])


def test_a_test_sample_stacks_uniformly_spaced_center_crops(tmp_path):
    path = write_video(tmp_path / "v.avi", 20, CONTAINERS[2])
    ds = VideoClipDataset([(path, 1)], train=False, sampling=SMALL)
    x, label = ds[0]
    assert label == 1 and x.shape == (5, 3, 4, 24, 24)  # (N, C, T, H, W)
    assert ds.clip_starts(0) == [0, 4, 8, 12, 16]
    assert [clip_frames(c) for c in x] == [list(range(s, s + 4)) for s in (0, 4, 8, 12, 16)]
    assert not any(is_flipped(c[:, 0]) for c in x)
    assert torch.equal(x, ds[0][0])  # deterministic
    assert torch.equal(x[0], center_crop(vc.frames_to_clip(read_frames(path, [0, 1, 2, 3])), 24))


def test_videos_shorter_than_a_clip_are_looped(tmp_path):
    path = write_video(tmp_path / "short.mp4", 3)
    torch.manual_seed(0)
    x, _ = VideoClipDataset([(path, 0)], train=True, sampling=SMALL)[0]
    assert clip_frames(x) == [0, 1, 2, 0]
    x, _ = VideoClipDataset([(path, 0)], train=False, sampling=SMALL)[0]
    assert [clip_frames(c) for c in x] == [[0, 1, 2, 0]] * 5


def test_a_corrupt_video_is_skipped_with_a_warning_naming_it(tmp_path):
    good = write_video(tmp_path / "good.mp4", 5)
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(1).bytes(4000))
    with pytest.warns(UserWarning, match=r"skipping unreadable video .*corrupt\.mp4"):
        ds = VideoClipDataset([(bad, 0), (good, 1)], train=True, sampling=SMALL, what="tiny")
    assert len(ds) == 1 and ds.targets == [1] and ds.skipped[0][0] == str(bad)
    other = tmp_path / "empty.mp4"
    other.write_bytes(b"")
    with pytest.raises(SdasError, match=r"none of the 2 video files can be read.*corrupt\.mp4"):
        VideoClipDataset([(bad, 0), (other, 1)], train=True, sampling=SMALL)


def test_a_video_that_fails_mid_stream_gives_way_to_the_next(tmp_path, monkeypatch):
    a, b = write_video(tmp_path / "a.mp4", 5), write_video(tmp_path / "b.mp4", 5)
    ds = VideoClipDataset([(a, 0), (b, 1)], train=False, sampling=SMALL)
    real = vc.read_frames

    def failing(path, *args, **kwargs):
        if Path(path).name == "a.mp4":
            raise UnreadableVideo(f"cannot decode video {str(path)!r}: truncated")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(vc, "read_frames", failing)
    with pytest.warns(UserWarning, match=r"a\.mp4"):
        _, label = ds[0]
    assert label == 1
    monkeypatch.setattr(vc, "read_frames", lambda *a, **k: (_ for _ in ()).throw(UnreadableVideo("broken")))
    with pytest.raises(SdasError, match="every video failed"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds[0]


def test_probe_results_are_cached_by_path_size_and_time(tmp_path, monkeypatch):
    a = write_video(tmp_path / "a.mp4", 5)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    cache = tmp_path / "frames.json"
    with pytest.warns(UserWarning):
        VideoClipDataset([(a, 0), (bad, 1)], train=True, sampling=SMALL, index_cache=cache)
    stored = json.loads(cache.read_text())["videos"]
    assert stored[str(a.absolute())]["frames"] == 5 and "error" in stored[str(bad.absolute())]
    monkeypatch.setattr(vc, "probe_video", lambda p: pytest.fail(f"probed {p} again"))
    with pytest.warns(UserWarning, match="bad.mp4"):
        ds = VideoClipDataset([(a, 0), (bad, 1)], train=True, sampling=SMALL, index_cache=cache)
    assert ds.frame_counts == [5]
    monkeypatch.undo()
    write_video(a, 7)  # a changed file is probed again
    assert VideoClipDataset([(a, 0)], train=True, sampling=SMALL, index_cache=cache).frame_counts == [7]


def test_sampling_settings_are_checked():
    assert (vc.PAPER_CLIPS.clip_len, vc.PAPER_CLIPS.short_edge, vc.PAPER_CLIPS.crop, vc.PAPER_CLIPS.test_clips) == (16, 128, 112, 20)
    with pytest.raises(SdasError, match="crop 130 is larger than short_edge 128"):
        ClipSampling(crop=130)
    with pytest.raises(SdasError, match="no videos"):
        VideoClipDataset([], train=True)


# ---------------------------------------------------------------- Kinetics10 (Table 3)

# The 400 Kinetics-400 class names, alphabetical (the official label list).
KINETICS400 = frozenset("""\
abseiling|air drumming|answering questions|applauding|applying cream|archery|arm wrestling|arranging flowers|assembling computer|auctioning
baby waking up|baking cookies|balloon blowing|bandaging|barbequing|bartending|beatboxing|bee keeping|belly dancing|bench pressing
bending back|bending metal|biking through snow|blasting sand|blowing glass|blowing leaves|blowing nose|blowing out candles|bobsledding|bookbinding
bouncing on trampoline|bowling|braiding hair|breading or breadcrumbing|breakdancing|brush painting|brushing hair|brushing teeth|building cabinet|building shed
bungee jumping|busking|canoeing or kayaking|capoeira|carrying baby|cartwheeling|carving pumpkin|catching fish|catching or throwing baseball|catching or throwing frisbee
catching or throwing softball|celebrating|changing oil|changing wheel|checking tires|cheerleading|chopping wood|clapping|clay pottery making|clean and jerk
cleaning floor|cleaning gutters|cleaning pool|cleaning shoes|cleaning toilet|cleaning windows|climbing a rope|climbing ladder|climbing tree|contact juggling
cooking chicken|cooking egg|cooking on campfire|cooking sausages|counting money|country line dancing|cracking neck|crawling baby|crossing river|crying
curling hair|cutting nails|cutting pineapple|cutting watermelon|dancing ballet|dancing charleston|dancing gangnam style|dancing macarena|deadlifting|decorating the christmas tree
digging|dining|disc golfing|diving cliff|dodgeball|doing aerobics|doing laundry|doing nails|drawing|dribbling basketball
drinking|drinking beer|drinking shots|driving car|driving tractor|drop kicking|drumming fingers|dunking basketball|dying hair|eating burger
eating cake|eating carrots|eating chips|eating doughnuts|eating hotdog|eating ice cream|eating spaghetti|eating watermelon|egg hunting|exercising arm
exercising with an exercise ball|extinguishing fire|faceplanting|feeding birds|feeding fish|feeding goats|filling eyebrows|finger snapping|fixing hair|flipping pancake
flying kite|folding clothes|folding napkins|folding paper|front raises|frying vegetables|garbage collecting|gargling|getting a haircut|getting a tattoo
giving or receiving award|golf chipping|golf driving|golf putting|grinding meat|grooming dog|grooming horse|gymnastics tumbling|hammer throw|headbanging
headbutting|high jump|high kick|hitting baseball|hockey stop|holding snake|hopscotch|hoverboarding|hugging|hula hooping
hurdling|hurling (sport)|ice climbing|ice fishing|ice skating|ironing|javelin throw|jetskiing|jogging|juggling balls
juggling fire|juggling soccer ball|jumping into pool|jumpstyle dancing|kicking field goal|kicking soccer ball|kissing|kitesurfing|knitting|krumping
laughing|laying bricks|long jump|lunge|making a cake|making a sandwich|making bed|making jewelry|making pizza|making snowman
making sushi|making tea|marching|massaging back|massaging feet|massaging legs|massaging person's head|milking cow|mopping floor|motorcycling
moving furniture|mowing lawn|news anchoring|opening bottle|opening present|paragliding|parasailing|parkour|passing American football (in game)|passing American football (not in game)
peeling apples|peeling potatoes|petting animal (not cat)|petting cat|picking fruit|planting trees|plastering|playing accordion|playing badminton|playing bagpipes
playing basketball|playing bass guitar|playing cards|playing cello|playing chess|playing clarinet|playing controller|playing cricket|playing cymbals|playing didgeridoo
playing drums|playing flute|playing guitar|playing harmonica|playing harp|playing ice hockey|playing keyboard|playing kickball|playing monopoly|playing organ
playing paintball|playing piano|playing poker|playing recorder|playing saxophone|playing squash or racquetball|playing tennis|playing trombone|playing trumpet|playing ukulele
playing violin|playing volleyball|playing xylophone|pole vault|presenting weather forecast|pull ups|pumping fist|pumping gas|punching bag|punching person (boxing)
push up|pushing car|pushing cart|pushing wheelchair|reading book|reading newspaper|recording music|riding a bike|riding camel|riding elephant
riding mechanical bull|riding mountain bike|riding mule|riding or walking with horse|riding scooter|riding unicycle|ripping paper|robot dancing|rock climbing|rock scissors paper
roller skating|running on treadmill|sailing|salsa dancing|sanding floor|scrambling eggs|scuba diving|setting table|shaking hands|shaking head
sharpening knives|sharpening pencil|shaving head|shaving legs|shearing sheep|shining shoes|shooting basketball|shooting goal (soccer)|shot put|shoveling snow
shredding paper|shuffling cards|side kick|sign language interpreting|singing|situp|skateboarding|ski jumping|skiing (not slalom or crosscountry)|skiing crosscountry
skiing slalom|skipping rope|skydiving|slacklining|slapping|sled dog racing|smoking|smoking hookah|snatch weight lifting|sneezing
sniffing|snorkeling|snowboarding|snowkiting|snowmobiling|somersaulting|spinning poi|spray painting|spraying|springboard diving
squat|sticking tongue out|stomping grapes|stretching arm|stretching leg|strumming guitar|surfing crowd|surfing water|sweeping floor|swimming backstroke
swimming breast stroke|swimming butterfly stroke|swing dancing|swinging legs|swinging on something|sword fighting|tai chi|taking a shower|tango dancing|tap dancing
tapping guitar|tapping pen|tasting beer|tasting food|testifying|texting|throwing axe|throwing ball|throwing discus|tickling
tobogganing|tossing coin|tossing salad|training dog|trapezing|trimming or shaving beard|trimming trees|triple jump|tying bow tie|tying knot (not on a tie)
tying tie|unboxing|unloading truck|using computer|using remote controller (not gaming)|using segway|vault|waiting in line|walking the dog|washing dishes
washing feet|washing hair|washing hands|water skiing|water sliding|watering plants|waxing back|waxing chest|waxing eyebrows|waxing legs
weaving basket|welding|whistling|windsurfing|wrapping present|wrestling|writing|yawning|yoga|zumba""".replace("\n", "|").split("|"))

TABLE3 = {  # coarse class -> number of fine classes, in Table 3's order
    "basketball": 4, "biking": 4, "bodybuilding": 8, "cooking": 9, "dancing": 14,
    "eating": 9, "golfing": 3, "skiing": 6, "soccer": 4, "swimming": 5,
}


def test_kinetics10_is_table_3():
    m = kinetics10_mapping()
    assert dict(zip(m.coarse, m.group_sizes)) == TABLE3 and list(m.coarse) == list(TABLE3)
    assert len(m.fine) == len(set(m.fine)) == 66
    assert m.fine[:4] == ("dribbling basketball", "dunking basketball", "playing basketball", "shooting basketball")
    assert m.coarse_of("jumping into pool") == "dancing"  # as printed in Table 3
    assert ClassMapping.parse(KINETICS10_CSV.read_text()) == m


def test_kinetics10_names_are_real_kinetics_spellings():
    m = kinetics10_mapping()
    for name in m.fine:
        assert re.fullmatch(r"[a-z]+( [a-z()]+)*", name), name  # lowercase words, single spaces
        assert "- " not in name and not name.endswith("-"), name  # no hyphenation left from the PDF
    assert len(KINETICS400) == 400
    not_in_400 = {f for f in m.fine if f not in KINETICS400}
    # Table 3 spells its classes as Kinetics-600 does: 10 are not Kinetics-400 classes, one was renamed.
    assert not_in_400 == KINETICS600_ONLY | set(ALIASES)
    assert all(alias in KINETICS400 for aliases in ALIASES.values() for alias in aliases)
    assert len([f for f in m.fine if f in KINETICS400]) == 55


def write_annotations(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
        w.writerows(rows)
    return path


def kinetics_rows(classes, split, per_class=1):
    """``per_class`` (label, id, start, end, split) rows per class; ids are 11 characters like YouTube's."""
    return [(c, f"{split[0]}{zlib.crc32(c.encode()) % 10**7:07d}{j}_-Q", 10 * j, 10 * j + 10, split) for c in classes for j in range(per_class)]


def make_kinetics(root: Path, classes, *, video=None, skip=(), val_classes=None):
    """Annotations under root/annotations/; train videos in class folders (the ActivityNet crawler's
    layout), val videos flat (the CVDF tarballs'). ``video(path)`` writes a file (default: empty)."""
    video = video or (lambda p: (p.parent.mkdir(parents=True, exist_ok=True), p.write_bytes(b""))[-1])
    rows = {"train": kinetics_rows(classes, "train"), "val": kinetics_rows(val_classes or classes, "val")}
    for split, split_rows in rows.items():
        write_annotations(root / "annotations" / f"{split}.csv", split_rows)
        for label, yid, start, end, _ in split_rows:
            if (split, label) in skip:
                continue
            name = f"{yid}_{start:06d}_{end:06d}.mp4"
            video(root / split / label.replace(" ", "_") / name if split == "train" else root / split / name)
    return rows


def test_kinetics10_index_merges_the_66_classes_into_10(tmp_path):
    m = kinetics10_mapping()
    make_kinetics(tmp_path, m.fine + ("abseiling", "zumba"), skip={("val", "golf putting"), ("val", "situp")})
    with pytest.warns(UserWarning, match=r"2 of 66 val videos listed in val.csv are not in"):
        index = build_kinetics_index(tmp_path, mapping=m)
    assert index.classes == m.coarse and len(index.train) == 66 and len(index.test) == 64
    for path, label in index.train:  # every video carries the coarse label of its fine class
        fine = path.parent.name.replace("_", " ")
        assert m.coarse[label] == m.coarse_of(fine)
    assert sum(1 for _, label in index.train if m.coarse[label] == "dancing") == 14
    assert "2 listed val videos not on disk" in index.notes
    with pytest.warns(UserWarning, match="2 of 66 val videos"):
        fine = build_kinetics_index(tmp_path, mapping=m, labels="fine")
    assert fine.classes == m.fine and sorted(label for _, label in fine.train) == list(range(66))
    with pytest.warns(UserWarning, match="2 of 68 val videos"):
        every = build_kinetics_index(tmp_path)  # no mapping: every class of the annotations, alphabetical
    assert every.name == "kinetics" and every.classes == tuple(sorted(m.fine + ("abseiling", "zumba")))


def test_kinetics10_names_a_missing_class(tmp_path):
    m = kinetics10_mapping()
    make_kinetics(tmp_path, [f for f in m.fine if f != "skiing mono"])
    with pytest.raises(SdasError, match=r"1 class\(es\) of the mapping are not in .*train.csv.*'skiing mono'"):
        build_kinetics_index(tmp_path, mapping=m)


def test_kinetics400_annotations_miss_ten_table_3_classes(tmp_path):
    m = kinetics10_mapping()
    k400 = [{"cooking sausages (not on barbeque)": "cooking sausages"}.get(f, f) for f in m.fine if f not in KINETICS600_ONLY]
    assert all(f in KINETICS400 for f in k400)
    make_kinetics(tmp_path, k400)
    with pytest.raises(SdasError, match=r"10 class\(es\).*'skiing mono'.*Kinetics-600 classes that Kinetics-400 lacks"):
        build_kinetics_index(tmp_path, mapping=m)
    with pytest.warns(UserWarning, match="10 class"):
        index = build_kinetics_index(tmp_path, mapping=m, allow_missing_classes=True)
    assert len(index.classes) == 10 and len(index.train) == 56
    sausages = [label for p, label in index.train if p.parent.name == "cooking_sausages"]
    assert [m.coarse[label] for label in sausages] == ["cooking"]  # Kinetics-400's spelling is the same class


def test_kinetics_layout_errors_name_what_is_missing(tmp_path):
    with pytest.raises(SdasError, match=r"train annotations not found.*annotations/train.csv.*cvdfoundation"):
        build_kinetics_index(tmp_path, mapping=kinetics10_mapping())
    make_kinetics(tmp_path, ["abseiling"])
    for split in ("train", "val"):
        for f in (tmp_path / split).rglob("*.mp4"):
            f.unlink()
    with pytest.raises(SdasError, match=r"none of the 1 train videos listed .* is in"):
        build_kinetics_index(tmp_path)
    bad = tmp_path / "odd.csv"
    bad.write_text("name,youtube_id\nx,y\n")
    with pytest.raises(SdasError, match=r"lack the column\(s\) 'label', 'time_start', 'time_end'"):
        build_kinetics_index(tmp_path, train_csv=bad)


def test_kinetics10_loads_real_clips(tmp_path):
    m = kinetics10_mapping()
    one_per_group = [fines[0] for _, fines in m.groups]
    make_kinetics(tmp_path, one_per_group, val_classes=one_per_group[:2], video=lambda p: write_video(p, 6))
    # Table 3 lists 56 more classes; annotate them too, without videos (they are left out with a warning).
    rows = kinetics_rows(m.fine, "train")
    write_annotations(tmp_path / "annotations" / "train.csv", [r for r in rows if r[0] not in one_per_group] + kinetics_rows(one_per_group, "train"))
    write_annotations(tmp_path / "annotations" / "val.csv", kinetics_rows(m.fine, "val"))
    with pytest.warns(UserWarning, match="not in"):
        data = load_kinetics10_data(tmp_path, sampling=SMALL, index_cache=tmp_path / "frames.json")
    assert (data.name, data.num_classes, data.input_shape) == ("kinetics10", 10, (3, 4, 24, 24))
    assert len(data.train) == 10 and len(data.test) == 2 and "kinetics10" in data.description
    x, label = data.train[0]
    assert x.shape == (3, 4, 24, 24) and data.test[0][0].shape == (5, 3, 4, 24, 24)
    assert sorted(data.train.targets) == list(range(10))
    with pytest.raises(SdasError, match=r"no training video on disk for class\(es\) 'breakdancing', 'cooking egg'"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_kinetics_data(tmp_path, sampling=SMALL)  # without a mapping every annotated class counts: 56 have no video
    make_kinetics(tmp_path / "k", ["zumba", "abseiling"], video=lambda p: write_video(p, 6))
    every = load_kinetics_data(tmp_path / "k", sampling=SMALL)
    assert every.name == "kinetics" and every.num_classes == 2
    assert [(p.parent.name, label) for p, label in every.train.samples] == [("zumba", 1), ("abseiling", 0)]  # alphabetical labels


# ---------------------------------------------------------------- UCF101 and HMDB51

def make_ucf101(root: Path, video=None):
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n3 YoYo\n")
    train = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", "HandstandPushups/v_HandStandPushups_g08_c01.avi 2",
             "YoYo/v_YoYo_g08_c01.avi 3", "YoYo/v_YoYo_g09_c01.avi 3"]
    test = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g01_c01.avi"]
    (lists / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n")  # the official lists end lines with CRLF
    (lists / "testlist01.txt").write_text("\r\n".join(test) + "\r\n")
    video = video or (lambda p: p.write_bytes(b""))
    for line in train + test:
        relative = line.split()[0]
        if "HandStand" in relative:  # on disk the case differs from the list: matched case-insensitively
            relative = relative.replace("HandstandPushups/", "HandStandPushups/")
        path = root / "UCF-101" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        video(path)


def test_ucf101_reads_the_official_split_lists(tmp_path):
    make_ucf101(tmp_path)
    index = ucf101_index(tmp_path, fold=1)
    assert index.classes == ("ApplyEyeMakeup", "HandstandPushups", "YoYo")
    assert [(p.name, label) for p, label in index.train] == [
        ("v_ApplyEyeMakeup_g08_c01.avi", 0), ("v_HandStandPushups_g08_c01.avi", 1), ("v_YoYo_g08_c01.avi", 2), ("v_YoYo_g09_c01.avi", 2)]
    assert [label for _, label in index.test] == [0, 1]
    assert all(p.is_file() for p, _ in index.train + index.test)
    (tmp_path / "UCF-101" / "YoYo" / "v_YoYo_g09_c01.avi").unlink()
    with pytest.raises(SdasError, match=r"1 of the 4 train videos .* not in .*YoYo/v_YoYo_g09_c01.avi.*UCF101.rar"):
        ucf101_index(tmp_path)
    with pytest.warns(UserWarning, match="1 train videos are not on disk"):
        assert len(ucf101_index(tmp_path, allow_missing_videos=True).train) == 3
    with pytest.raises(SdasError, match=re.escape("trainlist02.txt, testlist02.txt not found") + ".*" + re.escape(UCF101_SPLITS_URL)):
        ucf101_index(tmp_path, fold=2)
    with pytest.raises(SdasError, match="fold must be 1, 2 or 3"):
        ucf101_index(tmp_path, fold=4)


def test_ucf101_loads_avi_clips(tmp_path):
    make_ucf101(tmp_path, video=lambda p: write_video(p, 9, CONTAINERS[2]))
    data = load_ucf101_data(tmp_path, sampling=SMALL)
    assert (data.num_classes, len(data.train), len(data.test)) == (3, 4, 2)
    x, label = data.test[1]
    assert label == 1 and x.shape == (5, 3, 4, 24, 24)
    assert [clip_frames(c)[0] for c in x] == uniform_clip_starts(9, 4, 5)


def make_hmdb51(root: Path, video=None):
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    tags = {"brush_hair": {"a.avi": 1, "b.avi": 2, "c.avi": 0}, "fall_floor": {"d.avi": 2, "e.avi": 1, "f.avi": 1}}
    for cls, files in tags.items():
        (splits / f"{cls}_test_split1.txt").write_text("".join(f"{f} {t} \n" for f, t in files.items()))
        (splits / f"{cls}_test_split2.txt").write_text("".join(f"{f} {2 if t == 1 else 1} \n" for f, t in files.items()))
        for f in files:
            path = root / "hmdb51_org" / cls / f
            path.parent.mkdir(parents=True, exist_ok=True)
            (video or (lambda p: p.write_bytes(b"")))(path)


def test_hmdb51_reads_the_tagged_split_files(tmp_path):
    make_hmdb51(tmp_path)
    index = hmdb51_index(tmp_path, fold=1)
    assert index.classes == ("brush_hair", "fall_floor")
    assert sorted((p.name, label) for p, label in index.train) == [("a.avi", 0), ("e.avi", 1), ("f.avi", 1)]
    assert sorted((p.name, label) for p, label in index.test) == [("b.avi", 0), ("d.avi", 1)]  # tag 0 (c.avi) is unused
    assert sorted(p.name for p, _ in hmdb51_index(tmp_path, fold=2).test) == ["a.avi", "e.avi", "f.avi"]
    with pytest.raises(SdasError, match=r"no split files <class>_test_split3.txt.*" + re.escape(HMDB51_URL)):
        hmdb51_index(tmp_path, fold=3)
    (tmp_path / "hmdb51_org" / "fall_floor" / "d.avi").unlink()
    with pytest.raises(SdasError, match=r"1 of the 2 test videos .*fall_floor/d.avi"):
        hmdb51_index(tmp_path)


def test_hmdb51_loads_avi_clips(tmp_path):
    make_hmdb51(tmp_path, video=lambda p: write_video(p, 5, CONTAINERS[3]))
    data = load_hmdb51_data(tmp_path, sampling=SMALL)
    assert (data.num_classes, len(data.train), len(data.test), data.input_shape) == (2, 3, 2, (3, 4, 24, 24))
    torch.manual_seed(0)
    x, label = data.train[0]
    assert label == 0 and x.shape == (3, 4, 24, 24)
    assert clip_frames(x) == [0, 1, 2, 3]  # 5 frames hold one whole clip of 4
