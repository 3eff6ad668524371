"""The ``metahpo`` command.

Each subcommand lives in a small ``_cmd_*`` function (in :mod:`metahpo.cli.studies`: tune,
demo, ask, tell, studies; in :mod:`metahpo.cli.research`: meta-train, bench, report, portfolio,
optimizers) that parses nothing itself and wires the public API together. A
:class:`~metahpo.errors.MetaHPOError` (a mistake the user can fix) prints one line
``metahpo: error: ...`` and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from metahpo.cli import research, studies
from metahpo.errors import MetaHPOError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metahpo",
        description="Hyperparameter optimization for deep learning with a meta-learned optimizer.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    studies.add_commands(sub)
    research.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is not None and hasattr(args, "argv"):
        args.argv = list(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        args.func(args)
    except MetaHPOError as exc:
        print(f"metahpo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metahpo: interrupted; finished trials are recorded", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (``metahpo optimizers | head``): stop quietly, as
        # the Python documentation advises (stdout to devnull, so that the exit flush cannot
        # fail again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
