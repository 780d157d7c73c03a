"""User-facing errors: one class whose message says what is wrong and how to fix it."""

from __future__ import annotations


class SdasError(ValueError):
    """A problem with the user's input (config, path, genotype, checkpoint).

    The CLI prints ``error: <message>`` on one line and exits non-zero instead of a traceback.
    Messages name the problem and the fix, e.g. "unknown op 'sep_conv_9x9' in cell 'normal',
    node 3; choose one of: ...".
    """


def choices(names) -> str:
    """Format a list of valid names for an error message."""
    return ", ".join(repr(n) for n in names)


class NonFiniteLoss(SdasError):
    """A loss became NaN or inf. The run stops with the advice that works: a lower learning rate and --force
    (a --resume would replay the same NaN bit for bit, and refuses a changed learning rate)."""
