"""Accuracy and model size at once, on a real training: several objectives through metahpo.tune.

The digits CNN of the deep-learning benchmarks (``metahpo.tasks.digits.DigitsCNN``: learning
rate, batch size, depth, width, dropout, weight decay and optimizer; 10 epochs per training, on
one torch thread) tuned for validation accuracy (up) and weight count (down) with
``metahpo.tune(directions=["maximize", "minimize"])``: each optimizer proposes for one random
Chebyshev trade-off per trial (``metahpo.optimizers.multi_objective``). ``--seeds`` studies of
``--budget`` trainings per optimizer, seeded with the seed.

Score: the hypervolume of the trials so far in the box of log10(validation error) against
log10(weight count), each scaled to [0, 1] by the range every training of the run spans (all
optimizers and seeds; log scales, since an error of 0.02 against 0.03 matters as much as 0.2
against 0.3), reference point (1, 1). Higher is better; the table gives its mean ± standard
error over seeds after t trainings, the mean rank among the optimizers (1 = best) and the
seconds per study (trainings included).

    .venv/bin/python benchmarks/deep_learning_multi_objective.py --seeds 10 --out benchmarks/results/deep_learning_multi_objective
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import optuna
import torch
from optuna_multi_objective import hypervolume
from scipy.stats import rankdata
from summary_files import mean_and_stderr, mean_cells, save_run_summary

import metahpo
from metahpo.tasks.digits import DigitsCNN

DIRECTIONS = ["maximize", "minimize"]
OPTIMIZERS = ("meta", "tpe", "gp", "random")
REPORTED = (5, 10, 20)


def weight_count(task: DigitsCNN, params: dict[str, Any]) -> int:
    """The number of weights of the CNN ``params`` build."""
    return sum(p.numel() for p in task._build(params, 10).parameters())


def logs(values: np.ndarray) -> np.ndarray:
    """``(accuracy, weights)`` ``(n, 2)`` as ``(log10 error, log10 weights)`` (errors below
    0.001 count as 0.001)."""
    return np.stack([np.log10(np.maximum(1.0 - values[:, 0], 1e-3)), np.log10(values[:, 1])],
                    axis=1)


def run(task: DigitsCNN, optimizer: str, seed: int, budget: int) -> np.ndarray:
    """``(accuracy, weights)`` of each training of one study, ``(budget, 2)`` (NaN: failed)."""
    def objective(params: dict[str, Any]) -> tuple[float, int]:
        return task.evaluate(params), weight_count(task, params)

    study = metahpo.tune(objective, task.space, optimizer=optimizer, n_trials=budget,
                         directions=DIRECTIONS, seed=seed, show_progress=False)
    return np.array([t.values if t.values is not None else [np.nan, np.nan]
                     for t in study.trials], dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = DigitsCNN()
    reported = [t for t in REPORTED if t <= args.budget]
    studies: dict[str, list[np.ndarray]] = {name: [] for name in args.optimizers}
    seconds: dict[str, float] = {}
    for name in args.optimizers:
        start = time.perf_counter()
        for seed in range(args.seeds):
            studies[name].append(logs(run(task, name, seed, args.budget)))
        seconds[name] = (time.perf_counter() - start) / args.seeds
        print(name, f"{seconds[name]:.1f} s per study", flush=True)
    every = np.concatenate([v for runs in studies.values() for v in runs])
    low, high = np.nanmin(every, axis=0), np.nanmax(every, axis=0)
    curves = {name: [[hypervolume(losses[:t][~np.isnan(losses[:t]).any(axis=1)])
                      for t in reported]
                     for losses in ((v - low) / (high - low) for v in runs)]
              for name, runs in studies.items()}
    stacked = np.stack([np.array(curves[name]) for name in args.optimizers])
    ranks = rankdata(-stacked, axis=0)
    results = {name: mean_and_stderr(stacked[k], reported)
               for k, name in enumerate(args.optimizers)}
    lines = ["| optimizer | " + " | ".join(f"hypervolume t={t}" for t in reported) + " | "
             + " | ".join(f"rank t={t}" for t in reported) + " | s per study |",
             "|---|" + "---|" * (2 * len(reported) + 1)]
    for k, name in enumerate(args.optimizers):
        rank_cells = " | ".join(f"{ranks[k, :, j].mean():.2f}" for j in range(len(reported)))
        lines.append(f"| {name} | {mean_cells(results[name], reported)} | {rank_cells} | "
                     f"{seconds[name]:.1f} |")
    note = (f"digits CNN (10 epochs per training) x {args.seeds} seeds, two objectives "
            "(validation accuracy up, weight count down) through metahpo.tune; hypervolume of "
            "the trainings so far in the box of log10 validation error "
            f"({10 ** low[0]:.4f} to {10 ** high[0]:.4f}) and log10 weight count "
            f"({10 ** low[1]:.0f} to {10 ** high[1]:.0f}) that all trainings of the run span, "
            "mean ± standard error; rank 1 = best")
    save_run_summary(args.out, "Two objectives on a real training: accuracy and model size",
                     lines, note, {"seeds": args.seeds, "budget": args.budget,
                                   "results": results, "per_run": curves,
                                   "box": {"low": low.tolist(), "high": high.tolist()},
                                   "seconds_per_study": seconds})


if __name__ == "__main__":
    main()
