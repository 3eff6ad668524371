"""Choices with their own optima: does a search find the best choice of a categorical?

Which optimizer (or architecture family) is best often depends on the other hyperparameters,
each choice having its own best learning rate: a search that settles on the first choice that
looks good can miss a better one. Each function of this family has a 3-way choice whose
choices have their own base loss (uniform in [0, 0.3]) and their own optimum in 4 continuous
parameters (uniform in [0.1, 0.9]^4, quadratic around it), and a 2-way choice that adds a
choice-dependent penalty (uniform in [0, 0.1]). Regret is the best loss found minus the
function's minimum. ``--functions`` functions (seeds 1000, 1001, ...), one search of
``--budget`` trials per optimizer and function (the search's seed is the function's index).

    .venv/bin/python benchmarks/categorical_choices.py --out benchmarks/results/categorical_choices

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from summary_files import save_summary, this_command, this_commit

import metahpo
from metahpo import Categorical, Float, SearchSpace

DIM = 4
CHOICES = ["a", "b", "c"]
ACTIVATIONS = ["relu", "tanh"]
SPACE = SearchSpace([Categorical("choice", CHOICES)] + [Float(f"x{i}", 0.0, 1.0) for i in range(DIM)]
                    + [Categorical("activation", ACTIVATIONS)])
OPTIMIZERS = {
    "meta": ("meta", {}),
    "meta (switch_choices)": ("meta", {"switch_choices": True}),
    "meta (screen=0)": ("meta", {"screen": 0}),
    "tpe": ("tpe", {}),
    "random": ("random", {}),
}
REPORTED = (10, 20, 30)


def make_function(index: int):
    """Function ``index`` of the family and its minimum."""
    rng = np.random.default_rng(1000 + index)
    optima = rng.uniform(0.1, 0.9, (len(CHOICES), DIM))
    base = rng.uniform(0.0, 0.3, len(CHOICES))
    penalty = rng.uniform(0.0, 0.1, (len(CHOICES), len(ACTIVATIONS)))

    def loss(params: dict) -> float:
        j = CHOICES.index(params["choice"])
        x = np.array([params[f"x{i}"] for i in range(DIM)])
        return float(base[j] + ((x - optima[j]) ** 2).sum()
                     + penalty[j, ACTIVATIONS.index(params["activation"])])

    return loss, float(min(base[j] + penalty[j].min() for j in range(len(CHOICES))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--functions", type=int, default=30)
    parser.add_argument("--budget", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    reported = [t for t in REPORTED if t <= args.budget]
    results = {}
    for label, (name, options) in OPTIMIZERS.items():
        regrets = np.zeros((args.functions, len(reported)))
        for index in range(args.functions):
            loss, minimum = make_function(index)
            opt = metahpo.create_optimizer(name, SPACE, seed=index, **options)
            values = []
            for _ in range(args.budget):
                trial = opt.ask()
                values.append(loss(trial.params))
                opt.tell(trial, values[-1])
            regrets[index] = [min(values[:t]) - minimum for t in reported]
        results[label] = {str(t): {"mean": float(regrets[:, k].mean()),
                                   "stderr": float(regrets[:, k].std(ddof=1) / np.sqrt(args.functions))}
                          for k, t in enumerate(reported)}
    lines = ["| optimizer | " + " | ".join(f"regret t={t}" for t in reported) + " |",
             "|---" * (len(reported) + 1) + "|"]
    for label, row in results.items():
        cells = [f"{row[str(t)]['mean']:.4f} ± {row[str(t)]['stderr']:.4f}" for t in reported]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    commit, command = this_commit(), this_command()
    text = (f"# Finding the best choice of a categorical\n\n" + "\n".join(lines)
            + f"\n\nMean ± standard error over {args.functions} functions; commit {commit}.\n\n"
            f"Produced by:\n\n    {command}\n")
    save_summary(args.out, text, {"command": command, "commit": commit, "results": results})


if __name__ == "__main__":
    main()
