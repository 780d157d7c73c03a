"""``python -m sdas_lib``: the command line (:mod:`sdas_lib.cli`)."""

import os
import sys

from .cli import main, under_torchrun

code = main()
if under_torchrun() and "sdas_lib.run.distributed" in sys.modules:
    # A torchrun worker that joined the job ends without the interpreter's shutdown. Gloo's worker
    # threads outlive destroy_process_group once DistributedDataParallel has used the group; a thread
    # that frees the last collective's tensors then waits for the GIL of a finalizing interpreter and
    # the process aborts (SIGABRT, "terminate called without an active exception", after every output
    # was written; it struck restarted workers now and then here; pytorch/pytorch#179291). Every
    # file the command wrote is closed by now: only the standard streams need flushing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
sys.exit(code)
