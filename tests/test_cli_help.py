"""``--help`` documents the chosen preset: every preset flag with its hyphen spelling first, the
field's meaning (the dataclass metadata in sdas_lib/run/presets.py) and the preset's value."""

import dataclasses
import re
from pathlib import Path

import pytest

import sdas_lib.cli as cli
from sdas_lib.cli import build_parser, main
from sdas_lib.run.presets import (
    PAPER, TINY, TRAIN_IMAGENET, TRAIN_TINY, VIDEO_PAPER, VIDEO_TRAIN_PAPER, VIDEO_TRAIN_TINY, SearchPreset, TrainPreset,
    VideoSearchPreset, VideoTrainPreset, field_help, preset_fields,
)


@pytest.fixture(autouse=True)
def fixed_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps help to the terminal width


def help_of(capsys, *argv) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def option_help(text: str, flag: str) -> str:
    """The help entry of ``flag``: its line and the wrapped lines after it, joined by single spaces."""
    lines = text.splitlines()
    start = [i for i, line in enumerate(lines) if re.match(rf"  {re.escape(flag)}[ ,]|  {re.escape(flag)}$", line)]
    assert len(start) == 1, f"{flag} not documented once in:\n{text}"
    block = [lines[start[0]]]
    for line in lines[start[0] + 1:]:
        if not line.startswith("      "):  # the next option, a blank line or a section title
            break
        block.append(line)
    return " ".join(" ".join(block).split())


def test_search_help_shows_the_tiny_preset(capsys):
    text = help_of(capsys, "search", "--preset", "tiny")
    assert "preset overrides (defaults: the values of --preset tiny)" in text
    assert option_help(text, "--arch-lr").endswith("(default: 0.03)")
    assert option_help(text, "--epochs").endswith(f"(default: {TINY.epochs})")
    assert option_help(text, "--dataset").endswith("(default: cluttered_digits)")
    assert option_help(text, "--threads").endswith("(default: 1)")


def test_search_help_shows_the_paper_preset(capsys):
    text = help_of(capsys, "search", "--preset", "paper")
    assert "preset overrides (defaults: the values of --preset paper)" in text
    assert option_help(text, "--arch-lr").endswith("(default: 0.0003)")  # 3e-4
    assert option_help(text, "--epochs").endswith("(default: 50)")
    assert option_help(text, "--dataset").endswith("(default: cifar10)")
    assert option_help(text, "--channels-last").endswith("(default: True)")


def test_search_help_without_a_preset_is_tiny_and_help_may_come_first(capsys):
    assert option_help(help_of(capsys, "search"), "--arch-lr").endswith("(default: 0.03)")
    assert main(["search", "--help", "--preset=paper"]) == 0  # --help before --preset, and --preset=NAME
    assert option_help(capsys.readouterr().out, "--arch-lr").endswith("(default: 0.0003)")


def test_train_help_shows_the_chosen_preset(capsys):
    text = help_of(capsys, "train", "--preset", "imagenet")
    assert "preset overrides (defaults: the values of --preset imagenet)" in text
    assert option_help(text, "--lr").endswith("(default: 0.1)")
    assert option_help(text, "--weight-decay").endswith("(default: 3e-05)")
    assert option_help(text, "--lr-schedule").endswith("(default: exponential)")
    assert option_help(help_of(capsys, "train", "--preset", "tiny"), "--lr").endswith(f"(default: {TRAIN_TINY.lr})")
    assert option_help(help_of(capsys, "train", "--preset", "paper"), "--lr").endswith("(default: 0.025)")


@pytest.mark.parametrize("command, preset", [("search", PAPER), ("train", TRAIN_IMAGENET)])
def test_every_field_is_documented_hyphen_first_with_its_meaning_and_value(capsys, command, preset):
    text = help_of(capsys, command, "--preset", preset.name)
    for f in preset_fields(type(preset)):
        hyphen = f.name.replace("_", "-")
        entry = option_help(text, f"--{hyphen}")
        if f.type == "bool":
            spellings = f"--{hyphen}, --no-{hyphen}" + (f", --{f.name}, --no-{f.name}" if "_" in f.name else "")
        else:
            spellings = f"--{hyphen}" + (f", --{f.name}" if "_" in f.name else "")
            spellings += " " + {"int": "INT", "float": "FLOAT", "str": "STR"}[f.type]
        assert entry.startswith(spellings + " "), entry
        assert field_help(f) in entry, entry  # the meaning, from the dataclass metadata
        value = getattr(preset, f.name)
        assert entry.endswith(f"(default: {value if isinstance(value, str) else repr(value)})"), entry


def test_every_preset_field_has_its_help_in_the_dataclass_only():
    source = Path(cli.__file__).read_text()
    for cls in (SearchPreset, TrainPreset):
        for f in dataclasses.fields(cls):
            text = f.metadata.get("help")
            assert isinstance(text, str) and 3 <= len(text) <= 100, (cls.__name__, f.name, text)
            assert field_help(f) == text
            assert text not in source  # one source of truth: cli.py reads the metadata
    assert "(§5.3)" in field_help({f.name: f for f in dataclasses.fields(SearchPreset)}["train_portion"])


def test_both_spellings_override_and_absent_flags_leave_the_preset_alone():
    argv = ["search", "--preset", "paper", "--out", "x", "--arch_lr", "0.01", "--batch-size", "8", "--no-channels-last",
            "--w_weight_decay", "1e-4", "--train-portion", "0.25"]
    args = build_parser(argv).parse_args(argv)
    assert cli._overrides(args, SearchPreset) == {
        "arch_lr": 0.01, "batch_size": 8, "channels_last": False, "w_weight_decay": 1e-4, "train_portion": 0.25,
    }
    argv = ["train", "--preset", "imagenet", "--genotype", "darts_v2", "--out", "x", "--lr-gamma", "0.9", "--label_smoothing", "0"]
    args = build_parser(argv).parse_args(argv)
    assert cli._overrides(args, TrainPreset) == {"lr_gamma": 0.9, "label_smoothing": 0.0}


def test_help_of_an_unknown_preset_is_one_error_line(capsys):
    assert main(["search", "--preset", "huge", "--help"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: unknown preset 'huge'; choose one of: 'tiny', 'paper', 'micro'\n"


def test_task_video_help_shows_the_video_presets(capsys):
    text = help_of(capsys, "search", "--task", "video")
    assert "preset overrides (defaults: the values of --preset tiny --task video)" in text
    assert option_help(text, "--dataset").endswith("(default: moving_digits)")
    assert option_help(text, "--clip-len").endswith("(default: 4)")
    assert option_help(text, "--op-set").endswith("(default: video_oadv)")
    assert option_help(text, "--task").startswith("--task {image,video} image (default) or video")
    text = help_of(capsys, "train", "--preset", "paper", "--task", "video")
    assert option_help(text, "--C2").endswith("(default: 128)") and option_help(text, "--test-clips").endswith("(default: 20)")
    assert "--clip-len" not in help_of(capsys, "search")  # image presets have no clips


@pytest.mark.parametrize("command, preset", [("search", VIDEO_PAPER), ("train", VIDEO_TRAIN_PAPER), ("baseline", VIDEO_TRAIN_TINY)])
def test_every_video_field_is_documented_with_its_value(capsys, command, preset):
    from sdas_lib.cli import BASELINE_UNUSED

    task = [] if command == "baseline" else ["--task", "video"]
    text = help_of(capsys, command, "--preset", preset.name, *task)
    for f in preset_fields(type(preset)):
        hyphen = f.name.replace("_", "-")
        if command == "baseline" and f.name in BASELINE_UNUSED:
            assert f"--{hyphen} " not in text  # the baselines are not cell networks
            continue
        entry = option_help(text, f"--{hyphen}")
        assert field_help(f) in entry
        value = getattr(preset, f.name)
        assert entry.endswith(f"(default: {value if isinstance(value, str) else repr(value)})"), entry
    for cls in (VideoSearchPreset, VideoTrainPreset):
        for f in dataclasses.fields(cls):
            assert 3 <= len(field_help(f)) <= 100, (cls.__name__, f.name)


def test_baseline_help_names_the_architectures(capsys):
    text = help_of(capsys, "baseline")
    assert "one of res50-2d, res101-2d, resnext50-2d, resnext101-2d, res50-3d" in option_help(text, "--arch")
    assert option_help(text, "--width").endswith("(default: 1; Table 8: 4)")
