"""Tuning with pruning on lcbench learning curves: how good a configuration each optimizer finds
per epoch of training spent, with and without Optuna's pruners.

Each trial "trains" an lcbench MLP: it reports the surrogate's validation accuracy after every
epoch (1..52, :meth:`metahpo.tasks.yahpo.YahpoTask.learning_curve`) to the running trial of
:func:`metahpo.tune` and stops when the pruner says so. A search ends once it has spent
``--budget`` full trainings' worth of epochs (52 each). The table gives the normalized regret of
the best *final* accuracy among the completed trials (a pruned trial has none) after 5, 10, 20...
full trainings' worth of epochs, and the trials started and completed per search. Pruners:
``none``, and those of ``metahpo tune --pruner`` (Optuna's, default settings). Studies are named
by seed, so that Hyperband's brackets (drawn from the study name) repeat.

    .venv/bin/python benchmarks/pruning.py --instances test --out benchmarks/results/pruning

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse

import numpy as np
import optuna
import torch
from epoch_budgets import EPOCHS, REPORTED, regrets_at, summary_row, table_lines
from summary_files import save_run_summary

import metahpo
from metahpo.cli.studies import PRUNERS, make_pruner
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import make_tasks
from metahpo.trial import TrialState

OPTIMIZERS = {
    "meta": ("meta", {}),
    "meta (lcbench policy)": ("meta", {"policy": "lcbench"}),
    "tpe": ("tpe", {}),
    "random": ("random", {}),
}


def search(task, name: str, options: dict, pruner: str, seed: int, budget: int
           ) -> tuple[np.ndarray, int, int]:
    """One search; the best final value found after each epoch spent ``(budget * EPOCHS,)``
    (NaN before the first completed trial), and the trials started and completed."""
    spent = 0
    best = np.full(budget * EPOCHS, np.nan)
    sign = 1.0 if task.direction == "maximize" else -1.0
    incumbent = -np.inf

    def objective(params, trial):
        nonlocal spent, incumbent
        curve = task.learning_curve(params)
        for epoch, value in enumerate(curve, 1):
            if spent >= budget * EPOCHS:
                raise metahpo.TrialPruned()  # out of budget: never counted as completed
            spent += 1
            trial.report(epoch, float(value))
            if epoch < len(curve) and trial.should_prune():
                raise metahpo.TrialPruned()
        incumbent = max(incumbent, sign * float(curve[-1]))
        best[spent - 1:] = sign * incumbent
        return float(curve[-1])

    def stop_when_spent(study, record):
        if spent >= budget * EPOCHS:
            study.stop()

    study = metahpo.tune(objective, task.space, optimizer=name, n_trials=100_000,
                         direction=task.direction, seed=seed, study_name=f"pruning-{seed}",
                         show_progress=False, callbacks=[stop_when_spent],
                         pruner=make_pruner(None if pruner == "none" else pruner), **options)
    completed = sum(r.state is TrialState.COMPLETE for r in study.trials)
    return best, len(study.trials), completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", default="test", help="lcbench instances: test or ID,ID,...")
    parser.add_argument("--pruners", default="none,hyperband,median")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=30, help="full trainings' worth of epochs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruners = args.pruners.split(",")
    unknown = [p for p in pruners if p != "none" and p not in PRUNERS]
    if unknown:
        parser.error(f"unknown pruners {unknown}; known: none, {', '.join(PRUNERS)}")
    tasks = make_tasks("yahpo:lcbench", instances=args.instances)
    reported = [c for c in REPORTED if c <= args.budget]
    results = {}
    for pruner in pruners:
        for label, (name, options) in OPTIMIZERS.items():
            regrets, started, completed = [], [], []
            for task in tasks:
                bounds = task_bounds(task)
                for seed in range(args.seeds):
                    best, n, done = search(task, name, options, pruner, seed, args.budget)
                    regrets.append(regrets_at(bounds, best, reported))
                    started.append(n)
                    completed.append(done)
            results[f"{label}, {pruner}"] = summary_row(regrets, started, completed, reported)
            print(label, pruner, results[f"{label}, {pruner}"]["regret"], flush=True)
    write_summary(args, tasks, reported, results)


def write_summary(args: argparse.Namespace, tasks: list, reported: list[int],
                  results: dict) -> None:
    lines = table_lines("optimizer, pruner", results, reported)
    note = (f"{len(tasks)} lcbench instances x {args.seeds} seeds; normalized regret of the "
            f"best final validation accuracy among completed trials (mean ± standard error; 1 "
            f"before the first completed trial)")
    save_run_summary(args.out, "Tuning with pruning on lcbench learning curves", lines, note,
                     {"instances": [t.name for t in tasks], "results": results})


if __name__ == "__main__":
    main()
