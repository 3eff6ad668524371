"""Running the ``metahpo`` command as a user does, for the command-line tests."""

import contextlib
import io
import os
import subprocess
import sys


def run(cwd, *args):
    """``python -m metahpo ARGS`` in ``cwd``; the finished process, output captured."""
    return subprocess.run([sys.executable, "-m", "metahpo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def run_here(cwd, *args):
    """``metahpo ARGS`` in ``cwd`` as :func:`run` gives it, but called in this process
    (``metahpo.cli.main``): for the many mistakes whose one-line error is checked, where a
    Python process per check cost over a second each (the suite's process runs of the same
    command cover what a process adds: the exit status, the stream the error goes to)."""
    import optuna

    from metahpo.cli import main

    out, err = io.StringIO(), io.StringIO()
    before, verbosity = os.getcwd(), optuna.logging.get_verbosity()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(before)
        optuna.logging.set_verbosity(verbosity)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
