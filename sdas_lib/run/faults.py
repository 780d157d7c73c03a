"""Interruptions: a graceful Ctrl-C for long runs, and kill points for the resume tests.

Ctrl-C during :meth:`Searcher.run` or :meth:`Trainer.run` (inside :func:`graceful_interrupt`)
finishes the current iteration, writes a checkpoint and then raises :class:`KeyboardInterrupt`;
a second Ctrl-C interrupts at once (the last checkpoint on disk stays valid either way).

Test hook: with the environment variable ``SDAS_TEST_KILL_AT=EVENT:N`` a run kills its own
process with SIGKILL (no clean-up, like a lost machine) the first time ``EVENT`` reaches ``N``:

- ``iteration:N``: in iteration t = N, after its w step and before its α/β step;
- ``decision:N``: right after the N-th one-step decision of a search, before any checkpoint;
- ``checkpoint:N``: during the N-th checkpoint write of this process, with half of the temporary
  file written and the rename not yet done.

Unset (always, outside the tests) it costs one dictionary lookup per call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

KILL_ENV = "SDAS_TEST_KILL_AT"
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
    if name == event and value >= int(n):
        os.kill(os.getpid(), signal.SIGKILL)


def checkpoint_write_point() -> None:
    """Kill point inside a checkpoint write; counts this process's checkpoint writes."""
    global _checkpoint_writes
    _checkpoint_writes += 1
    kill_point("checkpoint", _checkpoint_writes)


class InterruptFlag:
    """Set by the first Ctrl-C inside :func:`graceful_interrupt`; the loop polls ``requested``."""

    def __init__(self) -> None:
        self.requested = False


@contextlib.contextmanager
def graceful_interrupt() -> Iterator[InterruptFlag]:
    """Turn the first SIGINT into a flag the loop checks between iterations.

    A second SIGINT raises :class:`KeyboardInterrupt` at once. Outside the main thread (where
    signal handlers cannot be set) SIGINT behaves as usual.
    """
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:  # None: a handler not installed from Python; Python's own is the closest
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
