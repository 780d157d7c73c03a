"""Several processes, one run: torchrun with gloo on the CPU (sdas_lib/run/distributed.py).

The slow tests start ``torchrun --nproc_per_node=2`` (``python -m torch.distributed.run``) for tiny
searches and retrainings. Each rank writes the digest of its own α/β, weights and decisions at
every decision through the test-only path ``SDAS_TEST_RANK_LOG`` (sdas_lib/run/faults.py), so the
tests compare what every rank held, not only what rank 0 wrote. The fast tests check the pieces
(batch sharding, the collectives on a real 2-process gloo group) in seconds.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from sdas_lib.cli import main
from sdas_lib.data import EpochBatches
from sdas_lib.data.batching import iterate_dataset
from sdas_lib.errors import SdasError
from sdas_lib.run.checkpoints import safe_load
from sdas_lib.run.distributed import BACKENDS, RankDisagreement, RankFailure, Ranks, resolve_backend
from sdas_lib.run.faults import KILL_ENV, PERTURB_ENV, RANK_LOG_ENV

ROOT = Path(__file__).resolve().parents[1]
# A micro search of 2 epochs x 7 iterations (T = 14), checkpoints at t = 3, 6, 7 (epoch end), 9, 12, 14.
SEARCH = ["search", "--preset", "micro", "--schedule", "A", "--seed", "1", "--epochs", "2", "--no-progress"]
# A micro retraining of 2 epochs x 11 iterations with cutout and drop path (per-rank random streams).
TRAIN = [
    "train", "--preset", "micro", "--genotype", "darts_v2", "--seed", "2", "--epochs", "2", "--checkpoint_every", "4",
    "--no-progress",
]
VIDEO_SEARCH = ["search", "--task", "video", "--preset", "micro", "--schedule", "C", "--seed", "0", "--no-progress"]


# -- the pieces, fast ---------------------------------------------------------------------------


class Numbers(Dataset):
    """A file-backed stand-in: sample i is (i under the sample's seed, i)."""

    def __len__(self):
        return 40

    def __getitem__(self, i):
        return torch.tensor([float(i), torch.rand(()).item()]), i


@pytest.mark.parametrize("dataset", [TensorDataset(torch.arange(40.0)[:, None], torch.arange(40)), Numbers()])
def test_the_ranks_shares_of_each_batch_make_up_the_global_batch_in_order(dataset):
    whole = EpochBatches(dataset, range(40), 12, seed=3)
    shares = [EpochBatches(dataset, range(40), 12, seed=3, shard=(r, 3)) for r in range(3)]
    assert all(len(s) == len(whole) == 3 for s in shares)  # T does not depend on the number of processes
    for epoch, start in ((0, 0), (1, 1)):
        for batch, *parts in zip(whole.iterate(epoch, start), *(s.iterate(epoch, start) for s in shares)):
            assert all(len(p[1]) == 4 for p in parts)
            assert torch.equal(torch.cat([p[0] for p in parts]), batch[0])  # the same augmentation seeds too
            assert torch.equal(torch.cat([p[1] for p in parts]), batch[1])


def test_a_batch_that_does_not_split_evenly_over_the_processes_is_a_clear_error():
    with pytest.raises(SdasError, match=r"batch size 10 cannot be split evenly over 4 processes.*multiple of 4"):
        EpochBatches(TensorDataset(torch.zeros(40, 1)), range(40), 10, seed=0, shard=(1, 4))


@pytest.mark.parametrize("dataset", [TensorDataset(torch.arange(23.0), torch.arange(23)), Numbers()])
def test_the_ranks_shares_of_the_test_set_cover_it_once(dataset):
    seen = [int(y) for r in range(3) for _, ys in iterate_dataset(dataset, 5, shard=(r, 3)) for y in ys]
    assert sorted(seen) == list(range(len(dataset)))


def test_backend_choice():
    assert resolve_backend("auto", torch.device("cpu")) == "gloo"
    assert resolve_backend(None, torch.device("cuda")) == "nccl"
    assert resolve_backend("GLOO", torch.device("cuda")) == "gloo"
    with pytest.raises(SdasError, match="--backend nccl needs GPUs"):
        resolve_backend("nccl", torch.device("cpu"))
    with pytest.raises(SdasError, match="choose one of: auto, gloo, nccl"):
        resolve_backend("mpi", torch.device("cpu"))
    assert BACKENDS == ("auto", "gloo", "nccl")


def test_a_job_on_this_machine_is_recognized_as_loopback():
    from sdas_lib.run.distributed import _is_loopback, _loopback_interface

    assert _is_loopback("localhost") and _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert not _is_loopback("10.1.2.3") and not _is_loopback("")
    assert _loopback_interface() in ("lo", "lo0")


def test_only_run_commands_start_under_torchrun(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["count"]) == 2
    err = capsys.readouterr().err
    assert "'count' does not run under torchrun: only search, train, baseline do" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collectives(rank: int, world: int, port: int, results, order_file: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    ranks = Ranks(rank=rank, world=world, local_rank=rank, backend="gloo")
    out = {}
    try:
        grads = [torch.full((2, 3), float(rank)), torch.full((4,), 10.0 * rank)]
        ranks.average_(grads)
        out["average"] = [g.tolist() for g in grads]
        out["sum"] = ranks.sum_values(1.5, rank)
        ranks.check_agreement(b"same", "α/β", 5)
        try:
            ranks.check_agreement(bytes([rank]), "α/β", 7, "the last good checkpoint is x")
        except RankDisagreement as err:
            out["disagreement"] = str(err)
        def fails_on_rank_0():
            raise SdasError("run folder 'x' already holds files")
        try:
            ranks.from_main(fails_on_rank_0)
        except SdasError as err:
            out["from_main"] = (type(err).__name__, str(err), getattr(err, "everywhere", False))
        out["shared"] = ranks.from_main(lambda: {"ckpt": rank})
        def fails_on_rank_1():
            if rank == 1:
                raise SdasError("CIFAR10 not found in 'data'")
            return "loaded"
        try:
            ranks.all_succeed(fails_on_rank_1)
        except SdasError as err:
            out["all_succeed"] = (type(err).__name__, str(err), getattr(err, "everywhere", False))
        def load():  # rank 0 is slow: ranks that did not wait for it would write first
            if rank == 0:
                time.sleep(0.5)
            with open(order_file, "a") as f:
                f.write(f"{rank}\n")
            return rank
        out["local_first"] = ranks.local_first(load)
        bn = torch.nn.BatchNorm1d(2)
        bn.running_mean.fill_(rank)
        ranks.broadcast_buffers(bn)
        out["buffers"] = bn.running_mean.tolist()
    finally:
        dist.destroy_process_group()
    results.put((rank, out))


def test_the_collectives_on_a_two_process_gloo_group(tmp_path):
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    order = tmp_path / "order.txt"
    procs = [ctx.Process(target=_collectives, args=(r, 2, port, results, str(order))) for r in range(2)]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    for r in range(2):
        o = got[r]
        assert o["average"] == [[[0.5] * 3] * 2, [5.0] * 4]  # the mean over the ranks, on every rank
        assert o["sum"] == (3.0, 1.0)
        assert "the 2 processes disagree at iteration 7: α/β differ (rank 0: 00" in o["disagreement"]
        assert "rank 1: 01" in o["disagreement"] and o["disagreement"].endswith("the last good checkpoint is x")
        assert o["shared"] == {"ckpt": 0}  # rank 0's result on every rank
        assert o["buffers"] == [0.0, 0.0]  # rank 0's running statistics
    assert got[0]["from_main"] == ("SdasError", "run folder 'x' already holds files", True)
    assert got[1]["from_main"] == ("RankFailure", "run folder 'x' already holds files", True)
    # An error on rank 1 alone stops rank 0 too, printed once (everywhere), naming the rank.
    assert got[0]["all_succeed"] == ("RankFailure", "rank 1: CIFAR10 not found in 'data'", True)
    assert got[1]["all_succeed"] == ("SdasError", "CIFAR10 not found in 'data'", True)
    assert got[0]["local_first"] == 0 and got[1]["local_first"] == 1  # each rank's own result
    assert order.read_text() == "0\n1\n"  # rank 0 first (it may download), then the others


# -- torchrun, slow -----------------------------------------------------------------------------


def torchrun(args, out, nproc=2, env=None, rank_log=None, wait=True, timeout=300, launcher=("--standalone",), cwd=ROOT):
    """``torchrun --nproc_per_node=nproc -m sdas_lib ARGS --out OUT`` (a CompletedProcess, or the Popen)."""
    e = {k: v for k, v in os.environ.items() if k not in (KILL_ENV, PERTURB_ENV, RANK_LOG_ENV)}
    e.update(OMP_NUM_THREADS="1", **(env or {}))
    if rank_log is not None:
        rank_log.mkdir(parents=True, exist_ok=True)
        e[RANK_LOG_ENV] = str(rank_log)
    cmd = [sys.executable, "-m", "torch.distributed.run", *launcher, f"--nproc_per_node={nproc}", "-m", "sdas_lib",
           *args, "--out", str(out)]
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)


def single(args, out, timeout=300):
    e = {k: v for k, v in os.environ.items() if k not in (KILL_ENV, PERTURB_ENV, RANK_LOG_ENV, "WORLD_SIZE", "RANK")}
    return subprocess.run([sys.executable, "-m", "sdas_lib", *args, "--out", str(out)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout)


def rank_lines(folder: Path, rank: int) -> list[dict]:
    return [json.loads(line) for line in (folder / f"rank{rank}.jsonl").read_text().splitlines()]


def digests(folder: Path, rank: int) -> list[tuple[int, int, str]]:
    return [(d["t"], d["decisions"], d["digest"]) for d in rank_lines(folder, rank) if "digest" in d]


def metrics(folder: Path) -> list[dict]:
    with open(folder / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def assert_same_search(a: Path, b: Path) -> None:
    for f in ("genotype.json", "decisions.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert metrics(a) == metrics(b)


@pytest.fixture(scope="module")
def search_reference(tmp_path_factory):
    """An uninterrupted 2-process search: (run folder, rank log folder)."""
    base = tmp_path_factory.mktemp("dist_search")
    r = torchrun(SEARCH, base / "run", rank_log=base / "ranks")
    assert r.returncode == 0, r.stderr[-3000:]
    return base / "run", base / "ranks"


@pytest.mark.slow
def test_a_two_process_search_completes_with_identical_ranks_and_writes_its_outputs_once(search_reference, tmp_path):
    out, ranks = search_reference
    d0, d1 = digests(ranks, 0), digests(ranks, 1)
    history = json.loads((out / "decisions.json").read_text())
    decided_at = sorted({d["iteration"] for d in history["decisions"]})
    assert [t for t, _, _ in d0] == decided_at and len(d0) >= 5  # a digest at every iteration that decided
    assert d0 == d1  # every rank held the same α/β, weights and decisions at every decision
    log = (out / "log.txt").read_text()
    assert log.count("SDAS search: schedule A") == 1 and log.count("wrote ") == 1 and log.count("decision #36 ") == 1
    config = json.loads((out / "config.json").read_text())
    assert config["distributed"] == {"processes": 2, "backend": "gloo"}
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())
    # T and the schedule do not change with the number of processes: the same decisions per iteration.
    one = tmp_path / "one"
    r = single(SEARCH, one)
    assert r.returncode == 0, r.stderr[-2000:]
    one_history = json.loads((one / "decisions.json").read_text())
    assert one_history["T"] == history["T"] == 14
    per_iteration = lambda h: [d["iteration"] for d in h["decisions"]]  # noqa: E731
    assert per_iteration(one_history) == per_iteration(history)


@pytest.mark.slow
def test_a_sweep_reuses_a_complete_search_made_under_torchrun(search_reference, tmp_path):
    import shutil

    from sdas_lib.core.genotype import Genotype
    from sdas_lib.run.sweep import genotype_line, sweep

    shutil.copytree(search_reference[0], tmp_path / "search-A-s1")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "search-A-s1").iterdir()}
    table = sweep(["A"], [1], tmp_path, preset="micro", overrides={"epochs": 2}, jobs=1, progress=False, log=lambda s: None)
    assert table["status"].tolist() == ["skipped"]
    assert table["genotype"][0] == genotype_line(Genotype.load(search_reference[0] / "genotype.json"))
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "search-A-s1").iterdir()} == before


@pytest.mark.slow
def test_a_killed_two_process_search_resumes_under_torchrun_to_the_same_result(search_reference, tmp_path):
    out = tmp_path / "run"
    r = torchrun(SEARCH, out, env={KILL_ENV: "iteration:11"})  # after the checkpoint of t = 9
    assert r.returncode != 0
    assert (out / "checkpoint.pt").exists() and not (out / "genotype.json").exists()
    assert safe_load(out / "checkpoint.pt")["t"] == 9
    # One process cannot take over a checkpoint of two: the batch shares and random states differ.
    r = single([*SEARCH, "--resume"], out)
    assert r.returncode == 2 and "its checkpoint was made by 2 process(es) and this run has 1" in r.stderr
    assert "resume it under torchrun --nproc_per_node 2" in r.stderr
    r = torchrun([*SEARCH, "--resume"], out, rank_log=tmp_path / "ranks")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed at iteration 9 (epoch 2, batch 2)" in r.stdout
    assert_same_search(out, search_reference[0])
    assert digests(tmp_path / "ranks", 0) == digests(tmp_path / "ranks", 1)
    assert digests(tmp_path / "ranks", 0) == [d for d in digests(search_reference[1], 0) if d[0] > 9]


@pytest.mark.slow
def test_workers_that_torchrun_restarts_continue_the_run_to_the_same_result(search_reference, tmp_path):
    """--max-restarts: both workers die at iteration 11 (the test hook kills in the first attempt
    only); torchrun restarts them with the same command, --force included, and they resume."""
    out = tmp_path / "run"
    r = torchrun([*SEARCH, "--force"], out, env={KILL_ENV: "iteration:11"}, launcher=("--standalone", "--max-restarts=1"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("torchrun restart 1: continuing the run in") == 1
    assert "resumed at iteration 9 (epoch 2, batch 2)" in r.stdout
    assert_same_search(out, search_reference[0])


@pytest.mark.slow
@pytest.mark.parametrize("target, sig", [("rank 1", signal.SIGINT), ("agent", signal.SIGTERM)])
def test_a_signal_to_one_rank_or_to_torchrun_stops_every_rank_at_one_iteration_and_resumes_exactly(
    search_reference, tmp_path, target, sig
):
    """SIGINT to rank 1 alone; SIGTERM to torchrun's agent, which forwards it to both workers."""
    out, ranks = tmp_path / "run", tmp_path / "ranks"
    proc = torchrun(SEARCH, out, rank_log=ranks, wait=False)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # rank 1 under way: past its first decision
        if (ranks / "rank1.jsonl").exists() and len(digests(ranks, 1)) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be signalled"
    os.kill(rank_lines(ranks, 1)[0]["pid"] if target == "rank 1" else proc.pid, sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    line = next(ln for ln in stdout.splitlines() if ln.startswith("interrupted at iteration"))
    if target == "rank 1":
        assert "(SIGINT on rank 1; all 2 processes stopped here); checkpoint written" in line
    else:  # the agent signals both workers, one after the other: one or both may be named
        assert "(SIGTERM on rank " in line and "; all 2 processes stopped here); checkpoint written" in line
    stopped_at = int(line.split()[3])
    ckpt = safe_load(out / "checkpoint.pt")
    assert ckpt["t"] == stopped_at and len(ckpt["rank_rng"]) == 2
    assert stderr.count("interrupted; the last checkpoint is kept") == 1  # printed by rank 0 only
    r = torchrun([*SEARCH, "--resume"], out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"resumed at iteration {stopped_at} " in r.stdout
    assert_same_search(out, search_reference[0])


@pytest.mark.slow
def test_ranks_that_disagree_stop_with_a_clear_error_and_no_hang(tmp_path):
    start = time.time()
    r = torchrun(SEARCH, tmp_path / "run", env={PERTURB_ENV: "1:4"}, timeout=180)
    assert r.returncode != 0
    errors = [ln for ln in r.stderr.splitlines() if "error: the 2 processes disagree" in ln]
    assert len(errors) == 1, r.stderr[-3000:]  # raised on every rank, printed once
    assert "disagree at iteration 4: α/β, weights or decisions differ (rank 0: " in errors[0]
    assert "; rank 1: " in errors[0] and "the last good checkpoint is" in errors[0]
    assert time.time() - start < 120


@pytest.fixture(scope="module")
def train_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist_train") / "run"
    r = torchrun(TRAIN, out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.mark.slow
def test_a_two_process_retraining_completes_and_resumes_after_a_kill_to_the_same_weights(train_reference, tmp_path):
    ref = train_reference
    assert json.loads((ref / "config.json").read_text())["distributed"]["processes"] == 2
    assert (ref / "log.txt").read_text().count("retrain: network") == 1
    result = json.loads((ref / "result.json").read_text())
    assert result["iterations"] == 22 and 0 <= result["test_acc"] <= 1
    out = tmp_path / "run"
    r = torchrun(TRAIN, out, env={KILL_ENV: "iteration:14"})  # mid epoch 2, after the checkpoint of t = 12
    assert r.returncode != 0 and not (out / "weights.pt").exists()
    r = torchrun([*TRAIN, "--resume"], out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed at iteration 12 " in r.stdout
    wa, wb = safe_load(out / "weights.pt"), safe_load(ref / "weights.pt")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ra, rb = (json.loads((f / "result.json").read_text()) for f in (out, ref))
    ra.pop("seconds"), rb.pop("seconds")
    assert ra == rb
    assert metrics(out) == metrics(ref)


@pytest.mark.slow
def test_a_tiny_video_search_runs_under_torchrun(tmp_path):
    out, ranks = tmp_path / "run", tmp_path / "ranks"
    r = torchrun(VIDEO_SEARCH, out, rank_log=ranks)
    assert r.returncode == 0, r.stderr[-3000:]
    genotype = json.loads((out / "genotype.json").read_text())
    assert genotype["op_set"].startswith("video_")
    assert digests(ranks, 0) == digests(ranks, 1) and len(digests(ranks, 0)) >= 3


@pytest.mark.slow
def test_two_nodes_on_loopback_run_the_same_search_as_one_node_and_only_rank_0_writes(search_reference, tmp_path):
    """Multi-node as a rendezvous of two torchrun agents (one process each) on 127.0.0.1, each in
    its own working directory with a relative --out, as two machines without a shared disk: one
    run folder must appear, on rank 0's "machine", and nothing on the other."""
    port = _free_port()
    launcher = ("--nnodes=2", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=sdas-test")
    nodes = [tmp_path / "node-a", tmp_path / "node-b"]
    agents = []
    for node in nodes:
        node.mkdir()
        agents.append(torchrun(SEARCH, "run", nproc=1, wait=False, launcher=launcher, cwd=node))
    outputs = [a.communicate(timeout=300) for a in agents]
    assert all(a.returncode == 0 for a in agents), [o[1][-2000:] for o in outputs]
    written = [n for n in nodes if (n / "run").exists()]
    assert len(written) == 1 and not any(p.name != "run" for n in nodes for p in n.iterdir())
    assert_same_search(written[0] / "run", search_reference[0])
    assert sorted(p.name for p in (written[0] / "run").iterdir()) == sorted(p.name for p in search_reference[0].iterdir())


@pytest.mark.slow
def test_three_processes_resume_bit_for_bit(tmp_path):
    """With 3 ranks an all-reduce's sums depend on where a gradient sits in DDP's buckets, and DDP
    lays them out anew after its first backward pass: a resumed retraining (a fresh DDP) matches
    the uninterrupted one bit for bit only because sdas fixes the layout when it wraps the model."""
    train = [*TRAIN, "--batch_size", "96"]  # 14 iterations an epoch; checkpoints at t = 4, 8, 12, 14, 16, ...
    ref, out = tmp_path / "ref", tmp_path / "run"
    r = torchrun(train, ref, nproc=3)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((ref / "config.json").read_text())["distributed"]["processes"] == 3
    r = torchrun(train, out, nproc=3, env={KILL_ENV: "iteration:18"})
    assert r.returncode != 0 and safe_load(out / "checkpoint.pt")["t"] == 16
    r = torchrun([*train, "--resume"], out, nproc=3)
    assert r.returncode == 0, r.stderr[-3000:]
    wa, wb = safe_load(out / "weights.pt"), safe_load(ref / "weights.pt")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert metrics(out) == metrics(ref)
