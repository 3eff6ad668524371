"""Warm starting from past studies: does a new study gain from the studies of related tasks?

The situation of a user who tuned the same model on other data sets before: each lcbench
training instance gets a past study (``--past-optimizer``, ``--past-trials`` trials, seeded by
the instance's position). Each optimizer then tunes every held-out instance (``--instances``:
the test instances by default; ``train`` for validation, each training instance held out in
turn), ``--seeds`` searches of ``--budget`` trials, cold and with ``--points`` configurations
that :func:`metahpo.warm_start_points` chose from the past studies of the other instances
first (``points_to_evaluate``). On the test instances the shipped ``lcbench`` portfolio (built
with every candidate evaluated on every training instance, which past studies do not give)
runs cold for reference. Normalized regret at 1, 5, 10 and 20 trials, mean ± standard error.

``--tasks`` takes synthetic families in ``--dim`` dimensions instead, past studies on ten
training seeds and held-out functions on ten others: ``sphere_near``, sphere functions whose
optima lie near a common point (related tasks, as lcbench's data sets are for one MLP), and
``gp``, draws from a Gaussian-process prior, each with its optimum elsewhere (unrelated tasks:
what a warm start from the wrong studies costs).

``--past-fixed NAME=VALUE,...`` runs the past studies in a smaller space: those parameters held
at those values, as a model tuned before some of its settings were (no weight decay and no
dropout, say), so the new studies search a space that has grown since (see "a past study of
another search space" in :mod:`metahpo.warm_start`).

    .venv/bin/python benchmarks/warm_start.py --out benchmarks/results/warm_start
    .venv/bin/python benchmarks/warm_start.py --tasks gp --out benchmarks/results/warm_start/synthetic_gp
    .venv/bin/python benchmarks/warm_start.py --past-fixed weight_decay=1e-05,max_dropout=0 --out benchmarks/results/warm_start/grown_space

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np
import optuna
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary

import metahpo
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import HELD_OUT_SEED, make_tasks
from metahpo.tasks.synthetic import SyntheticTask

OPTIMIZERS = {
    "random": ("random", {}),
    "tpe": ("tpe", {}),
    "meta": ("meta", {}),
}
REFERENCE = {"portfolio (shipped lcbench)": ("portfolio", {"portfolio": "lcbench"})}
REPORTED = (1, 5, 10, 20)
#: Where the optima of the ``sphere_near`` family lie (sd 0.05 around it in every dimension): away
#: from the middle of the space, where the searches start.
NEAR = 0.3


def held_out_and_past(tasks: str, instances: str, dim: int) -> tuple[list, list]:
    """The held-out tasks and the tasks of the past studies for ``--tasks``."""
    if tasks == "lcbench":
        return (make_tasks("yahpo:lcbench", instances=instances),
                make_tasks("yahpo:lcbench", instances="train"))
    family, options = ("sphere", {"center": NEAR, "spread": 0.05}) if tasks == "sphere_near" else ("gp", {})
    return ([SyntheticTask(family, dim, HELD_OUT_SEED + i, **options) for i in range(10)],
            [SyntheticTask(family, dim, i, **options) for i in range(10)])


def with_fixed(task: Any, fixed: dict[str, float]) -> Callable[[dict], float]:
    """``task``'s objective with the parameters ``fixed`` held at their values."""
    return lambda params: task.evaluate({**params, **fixed})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="lcbench", choices=["lcbench", "sphere_near", "gp"])
    parser.add_argument("--dim", type=int, default=5, help="dimensions of synthetic tasks")
    parser.add_argument("--instances", default="test", help="held-out lcbench instances: test or ID,ID,...")
    parser.add_argument("--past-optimizer", default="tpe")
    parser.add_argument("--past-trials", type=int, default=30)
    parser.add_argument("--points", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--past-fixed", default="", metavar="NAME=VALUE,...",
                        help="parameters the past studies did not tune, held at these values")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tasks, past_tasks = held_out_and_past(args.tasks, args.instances, args.dim)
    fixed = {name: float(value) for name, value in
             (item.split("=") for item in args.past_fixed.split(",") if item)}
    past = {task.name: metahpo.tune(with_fixed(task, fixed), task.space.without(*fixed),
                                    optimizer=args.past_optimizer,
                                    n_trials=args.past_trials, direction=task.direction, seed=i,
                                    show_progress=False)
            for i, task in enumerate(past_tasks)}
    points = {task.name: metahpo.warm_start_points(
        [study for name, study in past.items() if name != task.name], task.space, n=args.points)
        for task in tasks}
    reported = [t for t in REPORTED if t <= args.budget]
    runs = {f"{label}, cold": (name, options, False) for label, (name, options) in OPTIMIZERS.items()}
    runs.update({f"{label}, warm": (name, options, True) for label, (name, options) in OPTIMIZERS.items()})
    if args.tasks == "lcbench" and not any(task.name in past for task in tasks):
        runs.update({label: (name, options, False) for label, (name, options) in REFERENCE.items()})
    results = {}
    for label, (name, options, warm) in runs.items():
        regrets = []
        for task in tasks:
            bounds = task_bounds(task)
            sign = 1.0 if task.direction == "minimize" else -1.0
            for seed in range(args.seeds):
                study = metahpo.tune(task.evaluate, task.space, optimizer=name, n_trials=args.budget,
                                     direction=task.direction, seed=seed, show_progress=False,
                                     points_to_evaluate=points[task.name] if warm else None,
                                     **options)
                best = sign * np.minimum.accumulate([sign * t.value for t in study.trials])
                regrets.append([bounds.regret(best[t - 1]) for t in reported])
        results[label] = mean_and_stderr(np.array(regrets), reported)
        print(label, {t: round(v["mean"], 4) for t, v in results[label].items()}, flush=True)
    lines = ["| optimizer | " + " | ".join(f"regret t={t}" for t in reported) + " |",
             "|---" * (len(reported) + 1) + "|"]
    lines += [f"| {label} | {mean_cells(row, reported)} |" for label, row in results.items()]
    held_out = ("lcbench instances" if args.tasks == "lcbench" else
                f"{args.tasks} functions in {args.dim} dimensions")
    note = (f"{len(tasks)} held-out {held_out} x {args.seeds} seeds; warm: the "
            f"{args.points} configurations `warm_start_points` chose from the past "
            f"{args.past_optimizer} studies ({args.past_trials} trials, one per training "
            f"{'instance other than the held-out one' if args.tasks == 'lcbench' else 'function'})"
            " evaluated first"
            + (f"; the past studies held {args.past_fixed} fixed" if fixed else ""))
    save_run_summary(args.out, "Warm starting from past studies", lines, note,
                     {"points": points, "instances": [t.name for t in tasks], "results": results})


if __name__ == "__main__":
    main()
