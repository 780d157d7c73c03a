"""Resumable runs: a search or retraining killed at any moment and resumed ends exactly like one
never interrupted; checkpoints are atomic, versioned and checked on load; NaN stops a run cleanly.

The subprocess tests kill the CLI with SIGKILL at chosen points through the test hook
``SDAS_TEST_KILL_AT`` (sdas_lib/faults.py) and resume it with ``--resume``.
"""

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sdas_lib.run.checkpoints import safe_load
from torch.utils.data import Dataset

from sdas_lib.data import EpochBatches
from sdas_lib.errors import NonFiniteLoss, SdasError
from sdas_lib.run.faults import KILL_ENV
from sdas_lib.run.checkpoints import load_checkpoint_file, save_checkpoint_file
from sdas_lib.run.presets import TINY
from sdas_lib.run.search import Searcher

ROOT = Path(__file__).resolve().parents[1]
# A tiny CLI search: 2 epochs of 7 iterations, checkpoints at t = 2, 4, 6, 7 (epoch end), 8, ...
SEARCH = [
    "search", "--preset", "tiny", "--schedule", "A", "--seed", "1", "--epochs", "2", "--warmup_iterations", "0", "--resolution", "8",
    "--C1", "8", "--C2", "16", "--batch_size", "96", "--bn_recalibration_batches", "2", "--threads", "1",
    "--checkpoint_every", "2", "--no-progress",
]
# A tiny CLI retraining: 2 epochs of 11 iterations with cutout and drop path (both use the random state).
TRAIN = [
    "train", "--preset", "tiny", "--genotype", "darts_v2", "--seed", "2", "--epochs", "2", "--K", "1", "--C1", "8",
    "--C2", "16", "--batch_size", "128", "--threads", "1", "--checkpoint_every", "4", "--no-progress",
]


def cli(args, out, kill_at=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    if kill_at:
        env[KILL_ENV] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "sdas_lib", *args, "--out", str(out)], capture_output=True, text=True,
        timeout=timeout, env=env, cwd=ROOT,
    )


def metrics(folder: Path) -> list[dict]:
    """metrics.csv without the wall-clock column, as floats."""
    with open(folder / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def assert_same_metrics(a: Path, b: Path) -> None:
    ma, mb = metrics(a), metrics(b)
    assert len(ma) == len(mb)
    for ra, rb in zip(ma, mb):
        assert ra.keys() == rb.keys()
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=1e-9, abs=1e-12, nan_ok=True), k


# -- fast, in-process ------------------------------------------------------------------------------


class RandomView(Dataset):
    """A file-backed stand-in: sample i is i plus fresh noise, like a random crop/flip/cutout."""

    def __len__(self):
        return 40

    def __getitem__(self, i):
        return torch.rand(3) + i, i % 4


def test_file_backed_batches_resume_mid_epoch_with_the_same_augmentation():
    batches = EpochBatches(RandomView(), range(40), 8, seed=5)
    torch.manual_seed(0)
    full = list(batches.iterate(epoch=2))
    torch.manual_seed(123)  # another global random state, as after a resume
    tail = list(batches.iterate(epoch=2, start=3))
    assert len(full) == 5 and len(tail) == 2
    for (xa, ya), (xb, yb) in zip(full[3:], tail):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    before = torch.get_rng_state()
    list(batches.iterate(epoch=0))
    assert torch.equal(before, torch.get_rng_state())  # loading leaves the caller's random stream alone
    other = list(batches.iterate(epoch=3))
    assert not torch.equal(full[0][0], other[0][0])  # and each epoch draws anew


def test_checkpoint_rotation_keeps_the_previous_one_and_a_failed_write_changes_nothing(tmp_path, monkeypatch):
    fmt = dict(format="f", version=1)
    save_checkpoint_file(tmp_path, {**fmt, "t": 1})
    save_checkpoint_file(tmp_path, {**fmt, "t": 2})
    assert safe_load(tmp_path / "checkpoint.prev.pt")["t"] == 1
    assert load_checkpoint_file(tmp_path, "f", 1)[0]["t"] == 2

    def crash():
        raise OSError("disk full")

    monkeypatch.setattr("sdas_lib.run.checkpoints.checkpoint_write_point", crash)
    with pytest.raises(OSError):
        save_checkpoint_file(tmp_path, {**fmt, "t": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.prev.pt", "checkpoint.pt"]  # no temporary left
    assert load_checkpoint_file(tmp_path, "f", 1)[0]["t"] == 2
    with pytest.raises(SdasError, match="checkpoint.pt has format version 1, this sdas_lib reads 2"):
        load_checkpoint_file(tmp_path, "f", 2)


# One epoch of 7 iterations on 8x8 digits; checkpoints at t = 2, 4, 6 and 7 (epoch end).
MICRO = dataclasses.replace(
    TINY, warmup_iterations=0, resolution=8, C1=8, C2=16, epochs=1, batch_size=96, bn_recalibration_batches=2, checkpoint_every=2, threads=1,
)


def quiet(preset, out, **kw):
    return Searcher(preset, "B", seed=4, out_dir=out, progress=False, log=lambda s: None, **kw)


@pytest.fixture(scope="module")
def micro_reference(tmp_path_factory):
    """An uninterrupted in-process run: (result, run folder)."""
    out = tmp_path_factory.mktemp("micro") / "ref"
    return quiet(MICRO, out).run(), out


@pytest.mark.slow
def test_truncated_checkpoint_is_detected_and_the_previous_one_resumes_exactly(micro_reference, tmp_path):
    p = MICRO
    reference, ref_dir = micro_reference

    class Crash(Exception):
        pass

    class Crashing(Searcher):
        def discretize(self):
            if self.t == 7:
                raise Crash  # checkpoints exist at t = 4 (prev) and 6
            return super().discretize()

    out = tmp_path / "cut"
    with pytest.raises(Crash):
        Crashing(p, "B", seed=4, out_dir=out, progress=False, log=lambda s: None).run()
    ckpt = out / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 3])  # truncated, as by a full disk
    lines = []
    resumed = Searcher(p, "B", seed=4, out_dir=out, resume=True, progress=False, log=lines.append)
    assert resumed.t == 4
    warning = [ln for ln in lines if ln.startswith("warning: checkpoint.pt is corrupt or truncated (")]
    assert warning and warning[0].endswith("; kept as checkpoint.corrupt.pt; resuming from checkpoint.prev.pt")
    result = resumed.run()
    assert result.genotype == reference.genotype
    assert [d.to_dict() for d in result.history] == [d.to_dict() for d in reference.history]
    for f in ("genotype.json", "decisions.json"):
        assert (out / f).read_bytes() == (ref_dir / f).read_bytes()
    assert_same_metrics(out, ref_dir)


def test_both_checkpoints_corrupt_is_a_clear_error_that_changes_nothing(micro_preset, tmp_path):
    out = tmp_path / "run"
    s = quiet(micro_preset, out)
    s.save_checkpoint()
    s.save_checkpoint()
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (out / name).write_bytes((out / name).read_bytes()[:100])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(SdasError) as err:
        quiet(micro_preset, out, resume=True)
    msg = str(err.value)
    assert msg.startswith(f"cannot resume {str(out)!r}: checkpoint.pt is corrupt or truncated (")
    assert "checkpoint.prev.pt is corrupt or truncated" in msg and msg.endswith("start the run again with --force")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow
def test_nan_loss_stops_naming_the_iteration_and_the_last_good_checkpoint(micro_preset, tmp_path):
    p = dataclasses.replace(micro_preset, checkpoint_every=3)

    class BlowUp(Searcher):
        def w_step(self, x, y):
            if self.t == 4:  # a learning-rate blow-up in the w step of t = 4
                self.w_opt.param_groups[0]["lr"] = 1e30
            return super().w_step(x, y)

    out = tmp_path / "nan"
    run = BlowUp(p, "A", seed=0, out_dir=out, progress=False, log=lambda s: None)
    with pytest.raises(NonFiniteLoss) as err:
        run.run()
    ckpt = out / "checkpoint.pt"
    assert str(err.value) == (
        f"validation loss became nan at iteration 4 (epoch 1); the last good checkpoint is {ckpt} "
        f"(iteration 3). Lower the learning rate (--w_lr / --arch_lr) and start again with --force"
    )
    assert safe_load(ckpt)["t"] == 3  # kept, and it is the good one
    # It is usable: a resume (after lowering the learning rate back) starts from finite weights.
    resumed = Searcher(p, "A", seed=0, out_dir=out, resume=True, progress=False, log=lambda s: None)
    assert resumed.t == 3 and all(torch.isfinite(w).all() for w in resumed.net.parameters())


@pytest.mark.slow
def test_ctrl_c_finishes_the_iteration_writes_a_checkpoint_and_resumes_exactly(micro_reference, tmp_path):
    p = dataclasses.replace(MICRO, checkpoint_every=100)  # no periodic checkpoint before t = 5
    reference, ref_dir = micro_reference

    class CtrlC(Searcher):
        def w_step(self, x, y):
            if self.t == 5:
                os.kill(os.getpid(), signal.SIGINT)  # arrives mid-iteration
            return super().w_step(x, y)

    lines = []
    out = tmp_path / "cut"
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when started in the background
    with pytest.raises(KeyboardInterrupt):
        CtrlC(p, "B", seed=4, out_dir=out, progress=False, log=lines.append).run()
    assert lines[-1] == "interrupted at iteration 5 of 7; checkpoint written. Run the same command with --resume to continue"
    assert safe_load(out / "checkpoint.pt")["t"] == 5
    assert signal.getsignal(signal.SIGINT) is before  # the handler the run found is restored
    result = quiet(p, out, resume=True).run()
    assert result.genotype == reference.genotype
    for f in ("genotype.json", "decisions.json"):
        assert (out / f).read_bytes() == (ref_dir / f).read_bytes()
    assert_same_metrics(out, ref_dir)


# -- slow: the real CLI, killed with SIGKILL -------------------------------------------------------


@pytest.fixture(scope="module")
def search_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "reference"
    r = cli(SEARCH, out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_two_identical_cli_searches_give_byte_identical_genotype_and_history(search_reference, tmp_path):
    r = cli(SEARCH, tmp_path / "again")
    assert r.returncode == 0, r.stderr
    for f in ("genotype.json", "decisions.json"):
        assert (tmp_path / "again" / f).read_bytes() == (search_reference / f).read_bytes()
    assert_same_metrics(tmp_path / "again", search_reference)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kill_at,resumes_at",
    [
        ("iteration:9", 8),    # mid-epoch 2, between the w step and the α/β step of t = 9
        ("decision:11", 4),    # right after the decision that brings the count to 12 (t = 5)
        ("checkpoint:3", 4),   # half-way through writing the checkpoint of t = 6, before its rename
        ("checkpoint:4", 6),   # the same at the epoch-end checkpoint (t = 7)
    ],
)
def test_killed_cli_search_resumes_to_the_same_result(search_reference, tmp_path, kill_at, resumes_at):
    out = tmp_path / "run"
    r = cli(SEARCH, out, kill_at=kill_at)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not (out / "genotype.json").exists()
    if kill_at.startswith("checkpoint"):
        assert any(p.name.startswith(".checkpoint.pt.") for p in out.iterdir())  # the half-written file
    r = cli(SEARCH, out)  # without --resume: refused, nothing touched
    assert r.returncode == 2 and "already holds files; use --resume to continue that run, --force to replace it" in r.stderr
    r = cli([*SEARCH, "--resume"], out)
    assert r.returncode == 0, r.stderr
    assert f"resumed at iteration {resumes_at} (epoch" in r.stdout
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())
    for f in ("genotype.json", "decisions.json"):
        assert (out / f).read_bytes() == (search_reference / f).read_bytes(), f
    assert_same_metrics(out, search_reference)
    r = cli([*SEARCH, "--resume"], out)  # resuming a finished run changes nothing
    assert r.returncode == 0 and "already complete" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_of_the_cli_search_exits_130_and_resumes_to_the_same_result(search_reference, tmp_path, sig):
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    proc = subprocess.Popen([sys.executable, "-m", "sdas_lib", *SEARCH, "--out", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "checkpoint written. Run the same command with --resume to continue" in stdout
    assert "run the same command with --resume" in stderr
    r = cli([*SEARCH, "--resume"], out)
    assert r.returncode == 0, r.stderr
    for f in ("genotype.json", "decisions.json"):
        assert (out / f).read_bytes() == (search_reference / f).read_bytes()
    assert_same_metrics(out, search_reference)


@pytest.fixture(scope="module")
def train_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "reference"
    r = cli(TRAIN, out)
    assert r.returncode == 0, r.stderr
    return out


def assert_same_training(a: Path, b: Path) -> None:
    wa, wb = safe_load(a / "weights.pt"), safe_load(b / "weights.pt")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ra, rb = (json.loads((f / "result.json").read_text()) for f in (a, b))
    ra.pop("seconds"), rb.pop("seconds")
    assert ra == rb
    assert_same_metrics(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["iteration:14", "checkpoint:2", "checkpoint:3"])
def test_killed_cli_retraining_resumes_to_the_same_weights_and_metrics(train_reference, tmp_path, kill_at):
    # Checkpoints at t = 4, 8, 11 (epoch end), 12, ...: iteration 14 is mid-epoch 2 after the
    # checkpoint of t = 12; checkpoint:3 dies writing the epoch-end checkpoint.
    out = tmp_path / "run"
    r = cli(TRAIN, out, kill_at=kill_at)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not (out / "weights.pt").exists()
    r = cli([*TRAIN, "--resume"], out)
    assert r.returncode == 0, r.stderr
    assert "resumed at iteration" in r.stdout
    assert_same_training(out, train_reference)


@pytest.mark.slow
def test_cli_search_killed_before_its_first_checkpoint_starts_over_on_resume(search_reference, tmp_path):
    out = tmp_path / "run"
    r = cli(SEARCH, out, kill_at="iteration:1")  # the first checkpoint comes at t = 2
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert (out / "config.json").is_file() and not (out / "checkpoint.pt").exists()
    r = cli([*SEARCH, "--resume"], out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(f"no checkpoint in {out} yet (stopped before its first one): starting the run over") == 1
    for f in ("genotype.json", "decisions.json"):
        assert (out / f).read_bytes() == (search_reference / f).read_bytes(), f
    assert_same_metrics(out, search_reference)


class _Payload:
    """Unpickling this object would run ``os.system``: what a malicious shared checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_and_the_previous_one_resumes(micro_preset, tmp_path):
    out = tmp_path / "run"
    run = quiet(micro_preset, out)
    run.save_checkpoint()
    run.save_checkpoint()  # checkpoint.pt and checkpoint.prev.pt, both sound
    marker = tmp_path / "code-ran"
    good = safe_load(out / "checkpoint.pt")
    torch.save({**good, "payload": _Payload(marker)}, out / "checkpoint.pt")  # a planted checkpoint
    lines = []
    resumed = Searcher(micro_preset, "B", seed=4, out_dir=out, resume=True, progress=False, log=lines.append)
    assert not marker.exists()  # nothing ran
    refusal = [ln for ln in lines if ln.startswith("warning: checkpoint.pt is unsafe:")]
    assert refusal and refusal[0].endswith("it was not loaded; kept as checkpoint.unsafe.pt; resuming from checkpoint.prev.pt")
    assert (out / "checkpoint.unsafe.pt").is_file() and resumed.last_checkpoint == 0
    # With no other checkpoint, the refusal is the error, naming the file as unsafe.
    (out / "checkpoint.prev.pt").unlink()
    torch.save({**good, "payload": _Payload(marker)}, out / "checkpoint.pt")
    with pytest.raises(SdasError, match=r"cannot resume .*: checkpoint.pt is unsafe: reading it would unpickle"):
        quiet(micro_preset, out, resume=True)
    assert not marker.exists()


@pytest.mark.slow
def test_the_advice_after_a_nan_loss_works(tmp_path, capsys):
    from sdas_lib.cli import main

    out = tmp_path / "nan"
    search = ["search", "--preset", "micro", "--schedule", "C", "--threads", "1", "--no-progress", "--out", str(out)]
    assert main([*search, "--w_lr", "1e38"]) == 2  # the first w step blows the weights up
    err = capsys.readouterr().err.strip().splitlines()[-1]
    advice = "Lower the learning rate (--w_lr / --arch_lr) and start again with --force"
    assert err.startswith("error: validation loss became nan at iteration 1") and err.endswith(advice), err
    assert main([*search, "--w_lr", "0.025", "--force"]) == 0  # the advice, followed to the letter
    assert (out / "genotype.json").is_file() and "became nan" not in (out / "log.txt").read_text()
