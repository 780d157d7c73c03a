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
    return dataclasses.replace(TINY, resolution=8, C1=8, C2=16, epochs=1, batch_size=96, bn_recalibration_batches=2, checkpoint_every=3, threads=1)
