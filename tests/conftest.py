import dataclasses

import pytest
import torch

from sdas_lib.run.presets import TINY

# Tests may run beside other work on a 2-core machine; OpenMP threads that outnumber free cores
# spin and slow small ops down tenfold, so the suite computes on one thread.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread in every test, whatever an earlier test or command set (see above)."""
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)


@pytest.fixture
def micro_preset():
    """The tiny preset shrunk to seconds: 8x8 digits, narrow cells, one epoch of 7 iterations."""
    return dataclasses.replace(TINY, warmup_iterations=0, resolution=8, C1=8, C2=16, epochs=1, batch_size=96, bn_recalibration_batches=2, checkpoint_every=3, threads=1)


def tracked_files():
    """Every file of the repository's figures/ and notebooks/ with its bytes: the smoke run must not touch them."""
    from sdas_lib.course import ROOT

    return {p: p.read_bytes() for folder in ("figures", "notebooks") for p in sorted((ROOT / folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def course_smoke(tmp_path_factory):
    """Every notebook run in course order at the micro preset, all outputs under a temporary folder:
    (folder, parameters, one row per notebook). Shared by the notebook tests and the browser test,
    which opens the executed copies without running them again."""
    from sdas_lib.course import run_course, smoke_parameters

    tmp = tmp_path_factory.mktemp("course")
    params = smoke_parameters(tmp)
    before = tracked_files()
    rows = run_course(build=tmp / "build", parameters=params, log=lambda line: None, timeout=900)
    assert tracked_files() == before
    return tmp, params, rows
