"""The one exception type for mistakes a user can make.

Bad search spaces, unknown optimizers, unreadable storages, missing data folders, corrupt
checkpoints: each raises :class:`MetaHPOError` with a message that says what is wrong and what to
do. The CLI prints that message on one line and exits non-zero, without a traceback.
"""


class MetaHPOError(ValueError):
    """A problem with the user's input (configuration, files, arguments), not a bug in metahpo."""


class CommandFailed(RuntimeError):
    """A training command's run failed, for a reason its message states in full: its exit
    status with the end of its standard error, its timeout, a malformed line it printed. The
    trial fails with that message, and the log shows it without metahpo's own call stack,
    which would say nothing about the run."""
