"""Training commands in process groups of their own, tied to the metahpo process that runs them.

A command runs in a session of its own so that a timeout or an interruption ends it together
with the processes it started (:func:`kill`). On Linux it also asks the kernel for SIGTERM when
the thread that started it ends (``PR_SET_PDEATHSIG``): Ctrl-C and SIGTERM reach metahpo as
exceptions that stop its commands, but SIGKILL (a scheduler past its grace period, the
out-of-memory killer) cannot be caught, and without the death signal the trainings of a killed
metahpo process ran on, unwatched. Elsewhere (macOS) they still do.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import Any, Callable

#: Seconds between SIGTERM and SIGKILL when a command is stopped.
KILL_GRACE_S = 5.0
PR_SET_PDEATHSIG = 1


def start(argv: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(argv, **kwargs)`` in a new session, ended by SIGTERM (on Linux) when
    the calling thread ends before it."""
    return subprocess.Popen(argv, start_new_session=True, preexec_fn=_death_signal(), **kwargs)


def kill(process: subprocess.Popen) -> None:
    """End ``process`` and the processes it started: SIGTERM to its group, SIGKILL after
    ``KILL_GRACE_S`` seconds."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _death_signal() -> Callable[[], None] | None:
    """What the child runs before the command on Linux: ask for SIGTERM when its parent thread
    ends, and end at once if the parent is gone already (it died between fork and this call)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(128 + int(signal.SIGTERM))

    return arm
