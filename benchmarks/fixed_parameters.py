"""Fixed parameters beside the searched ones: does an optimizer that searches them too lose?

A search space may pin parameters (``epochs: {type: int, low: 50, high: 50}``, a categorical of
one choice). Here three such parameters join the space of each task (which ignores them): by
default the lcbench surrogate's 11 held-out test instances, or ``--tasks`` as ``metahpo bench``
takes them (``synthetic:sphere,gp,rosenbrock --instances 4 --dims 7,12``). Rows: ``meta`` as every metahpo study runs it
(:func:`metahpo.optimizers.multi_objective.optimizer_for`, which keeps the fixed parameters out
of the optimizer's space); ``meta`` built on the whole space, so that it searches the fixed
parameters too; ``meta`` on the lcbench space alone (the same
proposals as the first row, by construction); and random search. Normalized regret (the
surrogate's strong best and worst, as ``metahpo bench`` reports it), mean ± standard error over
instances x seeds.

    .venv/bin/python benchmarks/fixed_parameters.py --out benchmarks/results/fixed_parameters
    .venv/bin/python benchmarks/fixed_parameters.py --tasks synthetic:sphere,gp,rosenbrock \
        --instances 4 --budget 20 --out benchmarks/results/fixed_parameters_synthetic

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import numpy as np
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary
from task_arguments import parser_with_tasks, tasks_of

from metahpo import Categorical, Float, Int, SearchSpace, create_optimizer
from metahpo.optimizers.multi_objective import optimizer_for
from metahpo.tasks.bounds import task_bounds

FIXED = [Int("epochs", 50, 50), Categorical("activation", ["relu"]),
         Float("label_smoothing", 0.1, 0.1)]
REPORTED = (5, 10, 20, 50)


def searches(task, space: SearchSpace, build, seeds: int, budget: int) -> np.ndarray:
    """Regret after each of ``REPORTED`` trials, ``(seeds, len(REPORTED))``, of the optimizers
    ``build(space, direction, seed)`` on ``task`` with its parameters inside ``space``."""
    bounds = task_bounds(task)
    names = task.space.names
    out = []
    for seed in range(seeds):
        opt = build(space, task.direction, seed)
        values = []
        for _ in range(budget):
            trial = opt.ask()
            value = task.evaluate({n: trial.params[n] for n in names})
            opt.tell(trial, value)
            values.append(value)
        running = np.minimum if task.direction == "minimize" else np.maximum
        regret = bounds.regret(running.accumulate(np.array(values)))
        out.append([regret[t - 1] for t in REPORTED if t <= budget])
    return np.array(out)


ROWS = {
    "meta, fixed parameters kept out (metahpo studies)":
        (True, lambda space, d, seed: optimizer_for("meta", space, [d], seed=seed)),
    "meta searching the fixed parameters too":
        (True, lambda space, d, seed: create_optimizer("meta", space, direction=d, seed=seed)),
    "meta on the space without them":
        (False, lambda space, d, seed: create_optimizer("meta", space, direction=d, seed=seed)),
    "random": (True, lambda space, d, seed: create_optimizer("random", space, direction=d,
                                                             seed=seed)),
}


def main() -> None:
    args = parser_with_tasks(__doc__.split("\n")[0], dims="7,12").parse_args()
    torch.set_num_threads(1)
    tasks = tasks_of(args)
    reported = [t for t in REPORTED if t <= args.budget]
    results = {}
    for label, (with_fixed, build) in ROWS.items():
        rows = []
        for task in tasks:
            space = (SearchSpace(list(task.space.parameters) + FIXED) if with_fixed
                     else task.space)
            rows.append(searches(task, space, build, args.seeds, args.budget))
        results[label] = mean_and_stderr(np.concatenate(rows), reported)
    lines = ["| optimizer | " + " | ".join(f"regret t={t}" for t in reported) + " |",
             "|---" * (len(reported) + 1) + "|"]
    lines += [f"| {label} | {mean_cells(row, reported)} |" for label, row in results.items()]
    save_run_summary(args.out, f"Fixed parameters beside the searched ones ({args.tasks})",
                     lines, f"{len(tasks)} tasks ({args.tasks}, instances {args.instances}) x "
                     f"{args.seeds} seeds, "
                     f"{args.budget} trials, fixed parameters: "
                     + ", ".join(f"{p.name}={p.to_dict()}" for p in FIXED),
                     {"results": results, "reported": reported})


if __name__ == "__main__":
    main()
