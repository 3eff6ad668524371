"""The ``metahpo`` command.

Each subcommand lives in a small ``_cmd_*`` function (in :mod:`metahpo.cli.studies`: tune,
demo, ask, tell; in :mod:`metahpo.cli.records`: studies, enqueue; in :mod:`metahpo.cli.research`:
meta-train, bench, report, portfolio, optimizers) that parses nothing itself and wires the
public API together. A :class:`~metahpo.errors.MetaHPOError` (a mistake the user can fix) prints
one line ``metahpo: error: ...`` and exits with status 2, without a traceback; a file that cannot
be read or written (an ``OSError``) prints the system's message the same way, with status 1, as
does a ``tune`` or ``demo`` whose study ends without a complete trial (a script that calls them
learns that every training failed from the status, not only from the log). SIGTERM
(``kill``, a cluster's scheduler ending a job) stops a command as Ctrl-C does: the running
trials are recorded as interrupted and the training commands of ``tune --command`` are stopped,
instead of the process vanishing with its trials left running.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any, Sequence

from metahpo.cli import records, research, studies
from metahpo.errors import MetaHPOError
from metahpo.trial import TuningInterrupted


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metahpo",
        description="Hyperparameter optimization for deep learning with a meta-learned optimizer.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    studies.add_commands(sub)
    records.add_commands(sub)
    research.add_commands(sub)
    return parser


class Terminated(TuningInterrupted):
    """SIGTERM arrived: raised in the main thread so that the command unwinds as on Ctrl-C (a
    :class:`~metahpo.trial.TuningInterrupted`, so that ``tune`` records the running trial as
    interrupted on request: not failed, and not counted towards ``--max-retries``)."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is not None and hasattr(args, "argv"):
        args.argv = list(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    status = 0
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        status = args.func(args) or 0
    except MetaHPOError as exc:
        print(f"metahpo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metahpo: interrupted; finished trials are recorded", file=sys.stderr)
        return 130
    except Terminated:
        print("metahpo: terminated (SIGTERM); finished trials are recorded", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        # The reader of the output went away (``metahpo optimizers | head``): stop quietly, as
        # the Python documentation advises (stdout to devnull, so that the exit flush cannot
        # fail again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        # A file the command was told to read or write (a CSV, an output folder) cannot be:
        # the system's message names it, and a traceback would add nothing.
        print(f"metahpo: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return status


if __name__ == "__main__":
    sys.exit(main())
