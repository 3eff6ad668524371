"""Optimizers built again for every trial: does a search lose where each proposal comes from a
fresh optimizer told the study's trials?

That is how ``metahpo ask`` (one process per trial, a job queue), a resumed ``tune`` and a worker
that takes in other workers' trials run an optimizer. Optuna's samplers keep their state in the
system attributes of their study and its trials (CMA-ES its distribution and generation, QMC its
place in the sequence, NSGA-II its generations), which a study now stores with each trial as
its ``optimizer_attrs``. Rows, per optimizer: one optimizer for the whole search; an optimizer
rebuilt for every trial and told the trials with their ``optimizer_attrs`` (as a study tells
them); rebuilt and told parameters and values only (as before, and as any trial from elsewhere
without them). Each rebuilt optimizer has the search's seed, and its draws restart from the
seed and the trial count (:meth:`metahpo.Optimizer.restart_draws`), as in a study. Tasks: the
lcbench surrogate's 11 held-out test instances by default; normalized regret (strong best and
worst, as ``metahpo bench`` reports it), mean ± standard error over instances x seeds, and the
configurations a search proposed again (mean per search).

    .venv/bin/python benchmarks/rebuilt_optimizers.py --out benchmarks/results/rebuilt_optimizers

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary
from task_arguments import parser_with_tasks, tasks_of

from metahpo import Optimizer, create_optimizer
from metahpo.tasks.bounds import task_bounds

REPORTED = (5, 10, 20, 50)
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "cmaes": ("cmaes", {}),
    "qmc (Sobol)": ("optuna.samplers:QMCSampler", {}),
    "nsga2 (generations of 10)": ("optuna.samplers:NSGAIISampler", {"population_size": 10}),
    "tpe": ("tpe", {}),
}
MODES = ("one optimizer", "rebuilt, told optimizer_attrs", "rebuilt, told params and values")


def rebuilt(name: str, options: dict[str, Any], task: Any, seed: int,
            history: list[tuple[dict[str, Any], float | None, dict[str, Any]]],
            with_attrs: bool) -> Optimizer:
    """A new optimizer told ``history`` (params, value, optimizer_attrs) as a study tells it."""
    opt = create_optimizer(name, task.space, direction=task.direction, seed=seed, **options)
    for params, value, attrs in history:
        opt.add_trial(params, value, optimizer_attrs=attrs if with_attrs else None)
    return opt


def search(name: str, options: dict[str, Any], task: Any, seed: int, budget: int,
           mode: str) -> tuple[np.ndarray, int]:
    """The values of one search of ``budget`` trials in ``mode`` (one of :data:`MODES`), and
    how many of its configurations repeated an earlier one."""
    history: list[tuple[dict[str, Any], float | None, dict[str, Any]]] = []
    opt = create_optimizer(name, task.space, direction=task.direction, seed=seed, **options)
    for _ in range(budget):
        if mode != MODES[0]:
            opt = rebuilt(name, options, task, seed, history, mode == MODES[1])
        trial = opt.ask()
        value = task.evaluate(trial.params)
        opt.tell(trial, value)
        history.append((dict(trial.params), value, dict(trial.optimizer_attrs)))
    configs = [tuple(sorted(params.items())) for params, _, _ in history]
    return np.array([v for _, v, _ in history], dtype=float), len(configs) - len(set(configs))


def main() -> None:
    args = parser_with_tasks(__doc__.split("\n")[0], dims="7").parse_args()
    torch.set_num_threads(1)
    tasks = tasks_of(args)
    reported = [t for t in REPORTED if t <= args.budget]
    results: dict[str, dict[str, Any]] = {}
    for label, (name, options) in OPTIMIZERS.items():
        for mode in MODES:
            regrets, repeats = [], []
            for task in tasks:
                bounds = task_bounds(task)
                running = np.fmin if task.direction == "minimize" else np.fmax
                for seed in range(args.seeds):
                    values, repeated = search(name, options, task, seed, args.budget, mode)
                    regret = bounds.regret(running.accumulate(values))
                    regrets.append([regret[t - 1] for t in reported])
                    repeats.append(repeated)
            results[f"{label}, {mode}"] = {
                "regret": mean_and_stderr(np.array(regrets), reported),
                "repeated_mean": float(np.mean(repeats))}
    lines = ["| optimizer, how it runs | " + " | ".join(f"regret t={t}" for t in reported)
             + " | repeated configurations |", "|---" * (len(reported) + 2) + "|"]
    lines += [f"| {label} | {mean_cells(row['regret'], reported)} | {row['repeated_mean']:.1f} |"
              for label, row in results.items()]
    save_run_summary(args.out, f"Optimizers built again for every trial ({args.tasks})", lines,
                     f"{len(tasks)} tasks ({args.tasks}, instances {args.instances}) x "
                     f"{args.seeds} seeds, {args.budget} trials",
                     {"results": results, "reported": reported})


if __name__ == "__main__":
    main()
