"""The tasks of a benchmark script, chosen on its command line as ``metahpo bench`` chooses them:
``--tasks`` (default: the lcbench surrogate), ``--instances``, ``--dims`` and ``--yahpo-data``,
with ``--out``, ``--seeds`` and ``--budget``."""

from __future__ import annotations

import argparse
from typing import Any

from metahpo.tasks.registry import make_tasks


def parser_with_tasks(description: str, dims: str, budget: int = 50) -> argparse.ArgumentParser:
    """A parser of the task options above, ``dims`` the default dimensions of synthetic tasks
    (``"7,12"``) and ``budget`` the default trials per search."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=budget)
    parser.add_argument("--tasks", default="yahpo:lcbench",
                        help="tasks as for metahpo bench (default: the lcbench surrogate)")
    parser.add_argument("--instances", default="test")
    parser.add_argument("--dims", default=dims, help="dimensions of synthetic tasks")
    parser.add_argument("--yahpo-data", default=None)
    return parser


def tasks_of(args: argparse.Namespace) -> list[Any]:
    """The tasks the parsed options of :func:`parser_with_tasks` name."""
    return make_tasks(args.tasks, instances=args.instances, data_path=args.yahpo_data,
                      dims=[int(d) for d in args.dims.split(",")])
