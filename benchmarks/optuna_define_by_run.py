"""Define-by-run conditional parameters in Optuna studies: what each sampler makes of them.

An Optuna objective suggests parameters as it runs: momentum only for SGD and RMSprop, Nesterov
only for SGD, a width per layer for as many layers as it drew. The objective here is a smooth
stand-in for a training's validation loss in that form (each optimizer its own best learning
rate and base loss, a best depth and a best width per layer, a best dropout; the optimum is 0),
with the optimum drawn afresh for each seed, so the searches cover a family of functions rather
than one. Each sampler runs ``--seeds`` studies of ``--budget`` trials; the table gives the mean
best loss (± standard error) after t trials. ``meta, space declared`` is the sampler given the
conditional space as ``search_space``; the other rows see only what the objective suggests.
``tpe (multivariate, group)`` is Optuna's own sampler for such spaces.

    .venv/bin/python benchmarks/optuna_define_by_run.py --out benchmarks/results/optuna_define_by_run

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import math
import warnings
from typing import Any, Callable

import numpy as np
import optuna
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary

from metahpo import Categorical, Condition, Float, Int, SearchSpace
from metahpo.integrations.optuna import MetaHPOSampler

OPTIMIZERS = ["adam", "sgd", "rmsprop"]
MAX_LAYERS = 4
DECLARED = SearchSpace(
    [Categorical("optimizer", OPTIMIZERS), Float("lr", 1e-5, 1.0, log=True),
     Float("momentum", 0.0, 0.99), Categorical("nesterov", [False, True]),
     Int("n_layers", 1, MAX_LAYERS)]
    + [Int(f"width_{i}", 16, 512, log=True) for i in range(MAX_LAYERS)]
    + [Float("dropout", 0.0, 0.5)],
    conditions={"momentum": Condition("optimizer", ["sgd", "rmsprop"]),
                "nesterov": Condition("optimizer", "sgd"),
                **{f"width_{i}": Condition("n_layers", list(range(i + 1, MAX_LAYERS + 1)))
                   for i in range(1, MAX_LAYERS)}},
)
SAMPLERS: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "meta": lambda seed: MetaHPOSampler("meta", seed=seed),
    "meta, space declared": lambda seed: MetaHPOSampler("meta", seed=seed, search_space=DECLARED),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "tpe (multivariate, group)": lambda seed: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, group=True),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}
REPORTED = (10, 20, 30, 50)


def make_objective(seed: int) -> Callable[[optuna.Trial], float]:
    """The define-by-run objective of one seed (its optimum drawn from ``seed``; loss 0 there)."""
    rng = np.random.default_rng(10_000 + seed)
    base = dict(zip(OPTIMIZERS, rng.permutation([0.0, 0.05, 0.1])))
    best_log_lr = dict(zip(OPTIMIZERS, rng.uniform(-4.0, -1.0, size=3)))
    best_momentum = rng.uniform(0.5, 0.99)
    best_layers = int(rng.integers(1, MAX_LAYERS + 1))
    best_log_width = rng.uniform(5.0, 9.0, size=MAX_LAYERS)
    best_dropout = rng.uniform(0.0, 0.5)

    def objective(trial: optuna.Trial) -> float:
        optimizer = trial.suggest_categorical("optimizer", OPTIMIZERS)
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        loss = base[optimizer] + 0.05 * (math.log10(lr) - best_log_lr[optimizer]) ** 2
        if optimizer != "adam":
            loss += 0.3 * (trial.suggest_float("momentum", 0.0, 0.99) - best_momentum) ** 2
        if optimizer == "sgd":
            loss += 0.0 if trial.suggest_categorical("nesterov", [False, True]) else 0.02
        n_layers = trial.suggest_int("n_layers", 1, MAX_LAYERS)
        loss += 0.02 * abs(n_layers - best_layers)
        for i in range(n_layers):
            width = trial.suggest_int(f"width_{i}", 16, 512, log=True)
            loss += 0.01 * (math.log2(width) - best_log_width[i]) ** 2 / n_layers
        return loss + 0.2 * (trial.suggest_float("dropout", 0.0, 0.5) - best_dropout) ** 2

    return objective


def best_curve(make: Callable[[int], Any], seed: int, budget: int) -> np.ndarray:
    """Best loss after each trial of one study, shape ``(budget,)``."""
    study = optuna.create_study(sampler=make(seed))
    study.optimize(make_objective(seed), n_trials=budget)
    values = np.array([t.value for t in study.trials], dtype=float)
    return np.minimum.accumulate(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budget", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    reported = [t for t in REPORTED if t <= args.budget]
    results = {}
    for label, make in SAMPLERS.items():
        curves = np.stack([best_curve(make, seed, args.budget) for seed in range(args.seeds)])
        results[label] = mean_and_stderr(curves[:, [t - 1 for t in reported]], reported)
        print(label, mean_cells(results[label], reported), flush=True)
    lines = ["| sampler | " + " | ".join(f"best loss t={t}" for t in reported) + " |",
             "|---|" + "---|" * len(reported)]
    lines += [f"| {label} | {mean_cells(row, reported)} |" for label, row in results.items()]
    note = (f"{args.seeds} studies per sampler (seed s: the objective's optimum drawn from s, the "
            "sampler seeded with s), mean ± standard error of the best loss after t trials")
    save_run_summary(args.out, "Define-by-run conditional parameters in Optuna studies", lines,
                     note, {"seeds": args.seeds, "budget": args.budget, "results": results})


if __name__ == "__main__":
    main()
