"""Running the ``metahpo`` command as a user does, for the command-line tests."""

import subprocess
import sys


def run(cwd, *args):
    """``python -m metahpo ARGS`` in ``cwd``; the finished process, output captured."""
    return subprocess.run([sys.executable, "-m", "metahpo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
