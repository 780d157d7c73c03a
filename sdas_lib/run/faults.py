"""Interruptions: a graceful Ctrl-C or SIGTERM for long runs, and test hooks for the resume and
distributed tests.

Ctrl-C (SIGINT) or SIGTERM during the loop of :meth:`Searcher.run` or :meth:`Trainer.run`
(inside :func:`graceful_interrupt`) finishes the current iteration, writes a checkpoint and then
raises :class:`KeyboardInterrupt`. A second Ctrl-C of a single process interrupts at once (the last
checkpoint on disk stays valid either way); a repeated SIGTERM does not, nor does any repeat under
torchrun, where one stop can reach a worker twice (a scheduler signals every process, and
torchrun's agent forwards the signal it got as well). Under torchrun the ranks agree after every
iteration whether any of them was signalled, so all stop after the same iteration. The agent
sends SIGKILL ``--shutdown-timeout`` seconds (30) after forwarding a signal.

Test hook: with the environment variable ``SDAS_TEST_KILL_AT=EVENT:N`` a run kills its own
process with SIGKILL (no clean-up, like a lost machine) the first time ``EVENT`` reaches ``N``:

- ``iteration:N``: in iteration t = N, after its w step and before its α/β step;
- ``decision:N``: right after the N-th one-step decision of a search, before any checkpoint;
- ``checkpoint:N``: during the N-th checkpoint write of this process, with half of the temporary
  file written and the rename not yet done.

Under torchrun it kills only in the first attempt: a worker that torchrun restarted
(``TORCHELASTIC_RESTART_COUNT`` > 0) runs on.

Sweep test hook: ``SDAS_TEST_KILL_RUN=FOLDER=EVENT:N[,FOLDER=EVENT:N...]`` (inherited by the sweep's
worker processes) sets ``SDAS_TEST_KILL_AT=EVENT:N`` for the run in the folder named ``FOLDER`` only
(``search-C-s1=iteration:5``), so that one worker dies there as a lost machine would and the others run on.

Distributed test hooks (the tests of :mod:`sdas_lib.run.distributed`):

- ``SDAS_TEST_RANK_LOG=DIR``: each rank appends JSON lines to ``DIR/rank<r>.jsonl``: its pid at
  the start, and at every decision the digest of its own α/β, weights and decisions;
- ``SDAS_TEST_PERTURB=R:T``: rank R adds 1e-3 to one α entry at the first decision at or after
  iteration T, so the ranks' check must catch the disagreement.

Unset (always, outside the tests) each costs one dictionary lookup per call.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from typing import Iterator

KILL_ENV = "SDAS_TEST_KILL_AT"
KILL_RUN_ENV = "SDAS_TEST_KILL_RUN"
RANK_LOG_ENV = "SDAS_TEST_RANK_LOG"
PERTURB_ENV = "SDAS_TEST_PERTURB"
KILL_EVENTS = ("iteration", "decision", "checkpoint")
_checkpoint_writes = 0


def kill_point(event: str, value: int) -> None:
    """SIGKILL this process if ``SDAS_TEST_KILL_AT`` is ``event:N`` and ``value`` >= N."""
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    name, _, n = spec.partition(":")
    if name not in KILL_EVENTS or not n.isdigit():
        raise ValueError(f"{KILL_ENV}={spec!r}: expected EVENT:N with EVENT one of {KILL_EVENTS}")
    if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0:
        return  # a worker torchrun restarted (--max-restarts): the kill was the first attempt's
    if name == event and value >= int(n):
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def run_kill_point(folder_name: str) -> Iterator[None]:
    """``SDAS_TEST_KILL_AT`` set, for the run inside, to what ``SDAS_TEST_KILL_RUN`` names for ``folder_name``;
    the environment as it was afterwards. Unset: nothing changes."""
    spec = os.environ.get(KILL_RUN_ENV)
    value = None
    for item in (spec.split(",") if spec else []):
        name, sep, at = item.partition("=")
        if not sep:
            raise ValueError(f"{KILL_RUN_ENV}={spec!r}: expected FOLDER=EVENT:N[,FOLDER=EVENT:N...]")
        if name == folder_name:
            value = at
    if value is None:
        yield
        return
    before = os.environ.get(KILL_ENV)
    os.environ[KILL_ENV] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(KILL_ENV, None)
        else:
            os.environ[KILL_ENV] = before


def checkpoint_write_point() -> None:
    """Kill point inside a checkpoint write; counts this process's checkpoint writes."""
    global _checkpoint_writes
    _checkpoint_writes += 1
    kill_point("checkpoint", _checkpoint_writes)


def rank_record(rank: int, event: dict) -> None:
    """Append ``event`` to ``$SDAS_TEST_RANK_LOG/rank<rank>.jsonl`` when the tests switch it on."""
    folder = os.environ.get(RANK_LOG_ENV)
    if folder:
        with open(os.path.join(folder, f"rank{rank}.jsonl"), "a") as f:
            f.write(json.dumps(event) + "\n")


def perturb_point(rank: int, iteration: int) -> bool:
    """Whether ``SDAS_TEST_PERTURB=R:T`` asks this rank to perturb its α now (once)."""
    global _perturbed
    spec = os.environ.get(PERTURB_ENV)
    if not spec or _perturbed:
        return False
    r, _, t = spec.partition(":")
    if int(r) == rank and iteration >= int(t):
        _perturbed = True
        return True
    return False


_perturbed = False
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class InterruptFlag:
    """Set by the first SIGINT or SIGTERM inside :func:`graceful_interrupt`; the loop polls it."""

    def __init__(self) -> None:
        self.signal = 0  # the number of the signal that asked to stop; 0 while none did

    @property
    def requested(self) -> bool:
        return self.signal != 0


@contextlib.contextmanager
def graceful_interrupt(escalate: bool = True) -> Iterator[InterruptFlag]:
    """Turn the first SIGINT or SIGTERM into a flag the loop checks between iterations.

    Args:
        escalate: a second SIGINT raises :class:`KeyboardInterrupt` at once (a single process;
            under torchrun the loop passes False). A repeated SIGTERM never does.

    Outside the main thread (where signal handlers cannot be set) the signals behave as usual.
    """
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}

    def handler(signum, frame):
        if flag.requested:
            if escalate and signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        flag.signal = signum

    for s in SIGNALS:
        signal.signal(s, handler)
    try:
        yield flag
    finally:  # None: a handler not installed from Python; Python's own is the closest
        for s, h in previous.items():
            default = signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL
            signal.signal(s, h if h is not None else default)
