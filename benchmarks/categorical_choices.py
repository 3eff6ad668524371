"""Choices with their own settings: does a search find the best choice of a categorical, and
what does trying other choices cost where the choice hardly matters?

Which optimizer (or architecture family) is best often depends on the other hyperparameters,
each choice having its own best learning rate: a search that settles on the first choice that
looks good can miss a better one. But many categoricals matter little (an activation function),
and a search that keeps trying their other choices spends trials on it. Four families of
functions, ``--functions`` of each (one search of ``--budget`` trials per optimizer and function,
the search's seed being the function's index; regret is the best loss found minus the
function's minimum):

- ``own optima``: a 3-way choice whose choices have their own base loss (uniform in [0, 0.3])
  and their own optimum in 4 continuous parameters (uniform in [0.1, 0.9]^4, quadratic around
  it), and a 2-way choice that adds a choice-dependent penalty (uniform in [0, 0.1]);
- ``shared optimum``: the same, but every choice has the first one's optimum (the choices differ
  only in their base loss and penalty);
- ``choice irrelevant``: the same space, where neither choice changes the loss;
- ``learning-rate shift``: 6 continuous parameters and a 2-way choice (Adam or SGD) whose second
  choice moves the optimum of the first parameter by 0.1 to 0.3 (a learning rate on a log scale)
  and whose base losses differ by up to 0.05; a weighted quadratic.

The last row of each family is the paired difference between ``meta`` with ``switch_choices``
and ``meta`` (the same functions and seeds; negative: the option found better configurations).

    .venv/bin/python benchmarks/categorical_choices.py --out benchmarks/results/categorical_choices

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary

import metahpo
from metahpo import Categorical, Float, SearchSpace

DIM = 4
CHOICES = ["a", "b", "c"]
ACTIVATIONS = ["relu", "tanh"]
SPACE = SearchSpace([Categorical("choice", CHOICES)] + [Float(f"x{i}", 0.0, 1.0) for i in range(DIM)]
                    + [Categorical("activation", ACTIVATIONS)])
SHIFT_DIM = 6
SHIFT_SPACE = SearchSpace([Float(f"x{i}", 0.0, 1.0) for i in range(SHIFT_DIM)]
                          + [Categorical("optimizer", ["adam", "sgd"])])
OPTIMIZERS = {
    "meta": ("meta", {}),
    "meta (switch_choices)": ("meta", {"switch_choices": True}),
    "meta (screen=0)": ("meta", {"screen": 0}),
    "tpe": ("tpe", {}),
    "random": ("random", {}),
}
REPORTED = (10, 20, 30)
Function = tuple[SearchSpace, Callable[[dict], float], float]


def choice_function(index: int, seed: int, shared: bool = False, irrelevant: bool = False) -> Function:
    """A function of the three families in :data:`SPACE`, its loss and minimum."""
    rng = np.random.default_rng(seed + index)
    optima = rng.uniform(0.1, 0.9, (len(CHOICES), DIM))
    base = rng.uniform(0.0, 0.3, len(CHOICES))
    penalty = rng.uniform(0.0, 0.1, (len(CHOICES), len(ACTIVATIONS)))
    if shared or irrelevant:
        optima[:] = optima[0]
    if irrelevant:
        base[:], penalty[:] = 0.0, 0.0

    def loss(params: dict) -> float:
        j = CHOICES.index(params["choice"])
        x = np.array([params[f"x{i}"] for i in range(DIM)])
        return float(base[j] + ((x - optima[j]) ** 2).sum()
                     + penalty[j, ACTIVATIONS.index(params["activation"])])

    return SPACE, loss, float(min(base[j] + penalty[j].min() for j in range(len(CHOICES))))


def shift_function(index: int) -> Function:
    """A function of the ``learning-rate shift`` family in :data:`SHIFT_SPACE`."""
    rng = np.random.default_rng(4000 + index)
    optimum = rng.uniform(0.2, 0.8, SHIFT_DIM)
    shift = rng.uniform(0.1, 0.3)
    base = rng.uniform(0.0, 0.05, 2)
    weights = rng.uniform(0.3, 1.5, SHIFT_DIM)

    def loss(params: dict) -> float:
        j = ["adam", "sgd"].index(params["optimizer"])
        x = np.array([params[f"x{i}"] for i in range(SHIFT_DIM)])
        target = optimum + np.eye(SHIFT_DIM)[0] * shift * j
        return float(base[j] + (weights * (x - target) ** 2).sum())

    return SHIFT_SPACE, loss, float(base.min())


FAMILIES: dict[str, Callable[[int], Function]] = {
    "own optima": lambda i: choice_function(i, 1000),
    "shared optimum": lambda i: choice_function(i, 2000, shared=True),
    "choice irrelevant": lambda i: choice_function(i, 3000, irrelevant=True),
    "learning-rate shift": shift_function,
}


def regrets(family: Callable[[int], Function], name: str, options: dict, functions: int,
            budget: int, reported: list[int]) -> np.ndarray:
    """Regret ``(functions, len(reported))`` of one optimizer on a family."""
    out = np.zeros((functions, len(reported)))
    for index in range(functions):
        space, loss, minimum = family(index)
        opt = metahpo.create_optimizer(name, space, seed=index, **options)
        values = []
        for _ in range(budget):
            trial = opt.ask()
            values.append(loss(trial.params))
            opt.tell(trial, values[-1])
        out[index] = [min(values[:t]) - minimum for t in reported]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--functions", type=int, default=150)
    parser.add_argument("--budget", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    reported = [t for t in REPORTED if t <= args.budget]

    results: dict = {}
    lines = ["| family | optimizer | " + " | ".join(f"regret t={t}" for t in reported) + " |",
             "|---" * (len(reported) + 2) + "|"]
    for family, make in FAMILIES.items():
        runs = {label: regrets(make, name, options, args.functions, args.budget, reported)
                for label, (name, options) in OPTIMIZERS.items()}
        results[family] = {label: mean_and_stderr(r, reported) for label, r in runs.items()}
        results[family]["switch_choices - meta (paired)"] = mean_and_stderr(
            runs["meta (switch_choices)"] - runs["meta"], reported)
        for label, row in results[family].items():
            lines.append(f"| {family} | {label} | {mean_cells(row, reported, 'paired' in label)} |")
    save_run_summary(args.out, "Finding the best choice of a categorical", lines,
                     f"Mean ± standard error over {args.functions} functions per family",
                     {"results": results})


if __name__ == "__main__":
    main()
