"""Ray Tune's ASHA scheduler with ``MetaHPOSearcher`` on lcbench learning curves: how the trials
ASHA stops early are read changes what ``meta`` finds.

Ray Tune hands a searcher the trials its scheduler stops as finished, with the metric of their
last report (an early epoch's score). Told the scheduler's ``max_t``, ``MetaHPOSearcher`` reads
them as pruned at that report, as metahpo's optimizers read the trials Optuna's pruners stop.
Both readings are compared here.

Each trial "trains" an lcbench MLP: it reports the surrogate's validation accuracy after every
epoch (1..52, :meth:`metahpo.tasks.yahpo.YahpoTask.learning_curve`). Ray Tune's own
``ASHAScheduler`` (``max_t`` 52, grace period 1, reduction factor 3) decides after each report
whether the trial goes on, and the searcher gets the calls Ray Tune's controller makes:
``suggest``, ``on_trial_result`` for each result a trial goes on after, ``on_trial_complete``
with the result it ends at. Trials run one at a time in this process, without Ray's worker
processes (a Ray run of 60 trials takes 90 s here, and its order of events depends on timing),
so a rerun gives the same numbers. A search ends once it has spent ``--budget`` full trainings'
worth of epochs. The table gives the normalized regret of the best final accuracy among the
trials trained to epoch 52 after 5, 10, 20... trainings' worth of epochs, and the trials
started and trained to the end per search.

    .venv/bin/python benchmarks/ray_schedulers.py --instances test --out benchmarks/results/ray_schedulers

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import warnings
from types import SimpleNamespace

import numpy as np
import torch
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from epoch_budgets import EPOCHS, REPORTED, regrets_at, summary_row, table_lines
from summary_files import save_run_summary

from metahpo.integrations.ray import MetaHPOSearcher
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import make_tasks

READINGS = {
    "finished, at the last metric (Ray Tune's; no max_t)": {},
    "pruned, at the last report (max_t=52)": {"max_t": EPOCHS},
}


def search(task, reading: dict, seed: int, budget: int) -> tuple[np.ndarray, int, int]:
    """One search under ASHA; the best final value found after each epoch spent
    ``(budget * EPOCHS,)`` (NaN before the first trial trained to the end), and the trials
    started and trained to the end (completed)."""
    mode = "max" if task.direction == "maximize" else "min"
    searcher = MetaHPOSearcher(task.space, optimizer="meta", seed=seed, metric="acc", mode=mode,
                               **reading)
    scheduler = ASHAScheduler(time_attr="training_iteration", metric="acc", mode=mode,
                              max_t=EPOCHS, grace_period=1, reduction_factor=3)
    sign = 1.0 if mode == "max" else -1.0
    best = np.full(budget * EPOCHS, np.nan)
    spent, started, completed, incumbent = 0, 0, 0, -np.inf
    while spent < budget * EPOCHS:
        trial = SimpleNamespace(trial_id=str(started))
        config = searcher.suggest(trial.trial_id)
        scheduler.on_trial_add(None, trial)
        started += 1
        for epoch, value in enumerate(task.learning_curve(config), 1):
            if spent >= budget * EPOCHS:
                return best, started, completed
            spent += 1
            result = {"acc": float(value), "training_iteration": epoch}
            if epoch == EPOCHS:
                completed += 1
                incumbent = max(incumbent, sign * float(value))
                best[spent - 1:] = sign * incumbent
            if scheduler.on_trial_result(None, trial, result) == TrialScheduler.STOP:
                scheduler.on_trial_complete(None, trial, result)
                searcher.on_trial_complete(trial.trial_id, dict(result, done=True))
                break
            searcher.on_trial_result(trial.trial_id, result)
    return best, started, completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", default="test", help="lcbench instances: test or ID,ID,...")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=30, help="full trainings' worth of epochs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = make_tasks("yahpo:lcbench", instances=args.instances)
    reported = [c for c in REPORTED if c <= args.budget]
    results = {}
    for label, reading in READINGS.items():
        regrets, started, completed = [], [], []
        for task in tasks:
            bounds = task_bounds(task)
            for seed in range(args.seeds):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the searcher's warning without max_t
                    best, n, done = search(task, reading, seed, args.budget)
                regrets.append(regrets_at(bounds, best, reported))
                started.append(n)
                completed.append(done)
        results[label] = summary_row(regrets, started, completed, reported)
        print(label, results[label]["regret"], flush=True)
    lines = table_lines("ASHA's stopped trials read as", results, reported)
    note = (f"`meta` (default policy) under Ray Tune's ASHAScheduler; {len(tasks)} lcbench "
            f"instances x {args.seeds} seeds; normalized regret of the best final validation "
            "accuracy among trials trained to epoch 52, the completed ones (mean ± standard error; 1 "
            "before the first)")
    save_run_summary(args.out, "Ray Tune's ASHA and how its stopped trials are read", lines,
                     note, {"instances": [t.name for t in tasks], "results": results})


if __name__ == "__main__":
    main()
