"""Task specs as the CLI writes them, turned into task lists.

* ``yahpo:SCENARIO`` — instances of a YAHPO scenario: ``all``, a named split (``train`` /
  ``test`` for lcbench: the fixed published split) or ``ID,ID,...``.
* ``synthetic:FAMILY`` — functions of a synthetic family in the dimensions ``dims``; instances
  ``test`` (seeds from 1,000,000: never drawn by meta-training, which uses seeds below that),
  ``train``, or a count ``N`` (test seeds).
* ``digits``, ``mnist1d``, ``tabular`` — real PyTorch trainings (see :mod:`metahpo.tasks.training`).
* ``objective:MODULE:FUNCTION`` — the user's own objective over the search space file ``space``
  (see :mod:`metahpo.tasks.objective`).
* ``command:TEMPLATE`` — the user's training command (see :mod:`metahpo.tasks.command`), over
  ``space`` as well.
"""

from __future__ import annotations

import os
from typing import Sequence

from metahpo.errors import MetaHPOError
from metahpo.tasks.base import Task

# The fixed LCBench split used for everything published: test instances are never used to train
# anything shipped or reported.
LCBENCH_TEST = ("7593", "126026", "167104", "167161", "167184", "167200", "168330", "168868",
                "189354", "189866", "189906")
HELD_OUT_SEED = 1_000_000
TRAINING_TASKS = {
    "digits": "metahpo.tasks.digits:DigitsCNN",
    "mnist1d": "metahpo.tasks.mnist1d:MNIST1DCNN",
    "tabular": "metahpo.tasks.tabular:TabularMLP",
}


def lcbench_split(scenario_instances: Sequence[str]) -> dict[str, list[str]]:
    test = [i for i in scenario_instances if i in LCBENCH_TEST]
    return {"test": test, "train": [i for i in scenario_instances if i not in LCBENCH_TEST]}


def parse_dims(text: str) -> list[int]:
    """Dimensions of synthetic tasks as the command line gives them (``--dims 2,4,8``):
    comma-separated whole numbers >= 1."""
    try:
        dims = [int(d) for d in text.split(",")]
    except ValueError:
        dims = []
    if not dims or min(dims) < 1:
        raise MetaHPOError(f"--dims expects dimensions as whole numbers >= 1, such as 3 or "
                           f"2,4,8, got {text!r}")
    return dims


def make_tasks(spec: str, *, instances: str | None = None, dims: Sequence[int] = (3,),
               data_path: str | os.PathLike | None = None, n_default: int = 10,
               space: str | os.PathLike | None = None, direction: str | None = None) -> list[Task]:
    """Tasks named by a spec (see the module docstring); ``space`` and ``direction`` (default
    ``"minimize"``) are those of an ``objective:`` or ``command:`` spec, which has one task
    (as do the training tasks): such a task takes no ``instances`` but ``test`` (it is held out
    of every training), and other tasks take no ``space`` or ``direction``; each is refused by
    name rather than ignored."""
    kind, _, name = spec.partition(":")
    single = kind in ("objective", "command") or kind in TRAINING_TASKS
    if single and instances not in (None, "test"):
        raise MetaHPOError(f"task {spec!r} is one task, without instances to choose; leave out "
                           f"--instances {instances}")
    given = [flag for flag, value in (("--space", space), ("--direction", direction)) if value]
    if given and kind not in ("objective", "command"):
        verb = "belongs" if len(given) == 1 else "belong"
        raise MetaHPOError(f"{' and '.join(given)} {verb} to objective: and command: tasks; "
                           f"task {spec!r} has its own")
    if kind in ("objective", "command"):
        from metahpo.tasks.command import CommandTask
        from metahpo.tasks.objective import ObjectiveTask

        if space is None:
            raise MetaHPOError(f"task {spec!r} needs a search space (--space FILE, or inline "
                               "JSON)")
        user_task = ObjectiveTask if kind == "objective" else CommandTask
        return [user_task(name, os.fspath(space), direction or "minimize")]
    if kind == "yahpo":
        from metahpo.tasks.yahpo import YahpoScenario, parse_instances

        scenario = YahpoScenario(name, data_path)
        named = lcbench_split(scenario.instances) if name == "lcbench" else None
        return [scenario.task(i) for i in parse_instances(instances, scenario, named)]
    if kind == "synthetic":
        from metahpo.tasks.synthetic import FAMILIES, SyntheticTask

        families = name.split(",") if name else list(FAMILIES)
        if instances in (None, "test"):
            seeds = [HELD_OUT_SEED + i for i in range(n_default)]
        elif instances == "train":
            seeds = list(range(n_default))
        elif instances.isdigit() and int(instances) >= 1:
            seeds = [HELD_OUT_SEED + i for i in range(int(instances))]
        else:
            try:
                seeds = [int(s) for s in instances.split(",")]
            except ValueError:
                seeds = []
            if not seeds or min(seeds) < 0 or instances.isdigit():
                raise MetaHPOError(f"synthetic instances must be test, train, a count N >= 1 or "
                                   f"seeds >= 0 (ID,ID,...), got {instances!r}")
        return [SyntheticTask(f, int(d), s) for f in families for d in dims for s in seeds]
    if kind in TRAINING_TASKS:
        module, cls = TRAINING_TASKS[kind].split(":")
        import importlib

        return [getattr(importlib.import_module(module), cls)()]
    raise MetaHPOError(
        f"unknown task spec {spec!r}; use yahpo:SCENARIO, synthetic:FAMILY[,FAMILY], "
        f"objective:MODULE:FUNCTION or one of {', '.join(TRAINING_TASKS)}"
    )
