"""Define-by-run conditional parameters in Optuna studies: what each sampler makes of them.

An Optuna objective suggests parameters as it runs: momentum only for SGD, a width per layer
for as many layers as it drew, a kernel size only for a CNN. Two families of smooth stand-ins for
a training's validation loss in that form, each with its optimum (loss 0) drawn afresh for each
seed, so the searches cover families of functions rather than one:

* ``training``: an optimizer (each its own best learning rate and base loss; momentum for SGD
  and RMSprop, Nesterov for SGD), a depth with a width per layer, dropout. The optimizer and the
  learning rate carry most of the loss; the conditional parameters little.
* ``architectures``: a model family (MLP: depth and a width per layer; CNN: kernel size and
  channels; transformer: heads, width and dropout) and a shared learning rate. The conditional
  parameters carry most of the loss.

Each sampler runs ``--seeds`` studies of ``--budget`` trials per family; the table gives the
mean best loss (± standard error) after t trials. ``meta, space declared`` is the sampler given
the conditional space as ``search_space``; the other rows see only what the objective suggests.
``tpe (multivariate, group)`` is Optuna's own sampler for such spaces.

    .venv/bin/python benchmarks/optuna_define_by_run.py --out benchmarks/results/optuna_define_by_run

With ``--compare FOLDER`` (an earlier run's output, e.g. at another commit) the table also gives,
for each sampler of both runs whose results differ, the difference this run makes, paired by seed
(the same objective and sampler seed in both). Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary

from metahpo import Categorical, Condition, Float, Int, SearchSpace
from metahpo.integrations.optuna import MetaHPOSampler

OPTIMIZERS = ["adam", "sgd", "rmsprop"]
MAX_LAYERS = 4
TRAINING_SPACE = SearchSpace(
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
MODELS = ["mlp", "cnn", "transformer"]
ARCHITECTURES_SPACE = SearchSpace(
    [Categorical("model", MODELS), Float("lr", 1e-5, 1.0, log=True), Int("n_layers", 1, MAX_LAYERS)]
    + [Int(f"width_{i}", 16, 1024, log=True) for i in range(MAX_LAYERS)]
    + [Categorical("kernel", [3, 5, 7]), Int("channels", 8, 256, log=True),
       Categorical("heads", [1, 2, 4, 8]), Int("dim", 32, 512, log=True),
       Float("dropout", 0.0, 0.5)],
    conditions={"n_layers": Condition("model", "mlp"), "width_0": Condition("model", "mlp"),
                **{f"width_{i}": Condition("n_layers", list(range(i + 1, MAX_LAYERS + 1)))
                   for i in range(1, MAX_LAYERS)},
                "kernel": Condition("model", "cnn"), "channels": Condition("model", "cnn"),
                "heads": Condition("model", "transformer"),
                "dim": Condition("model", "transformer"),
                "dropout": Condition("model", "transformer")},
)
SAMPLERS: dict[str, Callable[[int, SearchSpace], optuna.samplers.BaseSampler]] = {
    "meta": lambda seed, space: MetaHPOSampler("meta", seed=seed),
    "meta (switch_choices)": lambda seed, space: MetaHPOSampler("meta", seed=seed,
                                                                switch_choices=True),
    "meta (switch_choices=False)": lambda seed, space: MetaHPOSampler("meta", seed=seed,
                                                                      switch_choices=False),
    "meta, space declared": lambda seed, space: MetaHPOSampler("meta", seed=seed,
                                                               search_space=space),
    "tpe": lambda seed, space: optuna.samplers.TPESampler(seed=seed),
    "tpe (multivariate, group)": lambda seed, space: optuna.samplers.TPESampler(
        seed=seed, multivariate=True, group=True),
    "random": lambda seed, space: optuna.samplers.RandomSampler(seed=seed),
}
REPORTED = (10, 20, 30, 50)


def training_objective(seed: int) -> Callable[[optuna.Trial], float]:
    """The ``training`` objective of one seed (its optimum drawn from ``seed``; loss 0 there)."""
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


def architectures_objective(seed: int) -> Callable[[optuna.Trial], float]:
    """The ``architectures`` objective of one seed (its optimum drawn from ``seed``; loss 0)."""
    rng = np.random.default_rng(20_000 + seed)
    base = dict(zip(MODELS, rng.permutation([0.0, 0.1, 0.2])))
    best_log_lr = rng.uniform(-4.0, -1.0)
    best_layers = int(rng.integers(1, MAX_LAYERS + 1))
    best_log_width = rng.uniform(5.0, 9.0, size=MAX_LAYERS)
    best_kernel = int(rng.choice([3, 5, 7]))
    best_log_channels = rng.uniform(4.0, 7.0)
    best_log_heads = int(rng.integers(0, 4))
    best_log_dim = rng.uniform(6.0, 8.0)
    best_dropout = rng.uniform(0.0, 0.5)

    def objective(trial: optuna.Trial) -> float:
        model = trial.suggest_categorical("model", MODELS)
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        loss = base[model] + 0.05 * (math.log10(lr) - best_log_lr) ** 2
        if model == "mlp":
            n_layers = trial.suggest_int("n_layers", 1, MAX_LAYERS)
            loss += 0.05 * abs(n_layers - best_layers)
            for i in range(n_layers):
                width = trial.suggest_int(f"width_{i}", 16, 1024, log=True)
                loss += 0.05 * (math.log2(width) - best_log_width[i]) ** 2 / n_layers
        elif model == "cnn":
            loss += 0.0 if trial.suggest_categorical("kernel", [3, 5, 7]) == best_kernel else 0.1
            channels = trial.suggest_int("channels", 8, 256, log=True)
            loss += 0.05 * (math.log2(channels) - best_log_channels) ** 2
        else:
            heads = trial.suggest_categorical("heads", [1, 2, 4, 8])
            loss += 0.05 * abs(math.log2(heads) - best_log_heads)
            loss += 0.05 * (math.log2(trial.suggest_int("dim", 32, 512, log=True)) - best_log_dim) ** 2
            loss += 0.5 * (trial.suggest_float("dropout", 0.0, 0.5) - best_dropout) ** 2
        return loss

    return objective


FAMILIES = {"training": (training_objective, TRAINING_SPACE),
            "architectures": (architectures_objective, ARCHITECTURES_SPACE)}


def best_curve(make: Callable[[int, SearchSpace], Any], family: str, seed: int,
               budget: int) -> np.ndarray:
    """Best loss after each trial of one study of ``family``, shape ``(budget,)``."""
    objective, space = FAMILIES[family]
    study = optuna.create_study(sampler=make(seed, space))
    study.optimize(objective(seed), n_trials=budget)
    values = np.array([t.value for t in study.trials], dtype=float)
    return np.minimum.accumulate(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--compare", help="an earlier run's --out folder: paired differences")
    args = parser.parse_args()
    earlier = (json.loads((Path(args.compare) / "summary.json").read_text())["per_seed"]
               if args.compare else {})
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    reported = [t for t in REPORTED if t <= args.budget]
    results: dict[str, dict[str, Any]] = {}
    per_seed: dict[str, dict[str, list[list[float]]]] = {}
    differences: dict[str, dict[str, Any]] = {}
    for family in FAMILIES:
        results[family], per_seed[family], differences[family] = {}, {}, {}
        for label, make in SAMPLERS.items():
            curves = np.stack([best_curve(make, family, seed, args.budget)
                               for seed in range(args.seeds)])[:, [t - 1 for t in reported]]
            results[family][label] = mean_and_stderr(curves, reported)
            per_seed[family][label] = curves.tolist()
            print(family, label, mean_cells(results[family][label], reported), flush=True)
            before = earlier.get(family, {}).get(label)
            if (before is not None and np.shape(before) == curves.shape
                    and not np.array_equal(before, curves)):
                differences[family][label] = mean_and_stderr(curves - np.array(before), reported)
    lines = ["| family | sampler | " + " | ".join(f"best loss t={t}" for t in reported) + " |",
             "|---|---|" + "---|" * len(reported)]
    lines += [f"| {family} | {label} | {mean_cells(row, reported)} |"
              for family, rows in results.items() for label, row in rows.items()]
    lines += [f"| {family} | {label}: this run - {args.compare} (paired) | "
              f"{mean_cells(row, reported, signed=True)} |"
              for family, rows in differences.items() for label, row in rows.items()]
    note = (f"{args.seeds} studies per sampler and family (seed s: the objective's optimum drawn "
            "from s, the sampler seeded with s), mean ± standard error of the best loss after t "
            "trials")
    save_run_summary(args.out, "Define-by-run conditional parameters in Optuna studies", lines,
                     note, {"seeds": args.seeds, "budget": args.budget, "results": results,
                            "differences": differences, "per_seed": per_seed})


if __name__ == "__main__":
    main()
