"""A search space with no continuous parameter: how many trials repeat a configuration?

Optimizer, depth and activation are often all a search has left to decide, and such a space
holds few configurations: here 3 optimizers x 4 depths x 2 activations = 24. A deterministic
objective gains nothing from evaluating a configuration twice. Each optimizer runs ``--seeds``
searches of ``--budget`` trials; the table gives the trials per search that repeat an earlier
configuration and the best loss found (the optimum is 0).

    .venv/bin/python benchmarks/discrete_space.py --out benchmarks/results/discrete_space

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

from failure_region import run_benchmark

from metahpo import Categorical, Int, SearchSpace

SPACE = SearchSpace([Categorical("optimizer", ["adam", "sgd", "rmsprop"]), Int("layers", 1, 4),
                     Categorical("activation", ["relu", "tanh"])])


def objective(params: dict) -> float:
    return ({"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}[params["optimizer"]]
            + 0.05 * abs(params["layers"] - 2) + (0.0 if params["activation"] == "relu" else 0.1))


def main() -> None:
    run_benchmark(__doc__, 12, objective, SPACE, "Searching a space of 24 configurations", {
        "repeated configurations per search":
            lambda r, budget: f"{r['repeated_mean']:.2f} of {budget}",
        "best loss (mean)": lambda r, budget: f"{r['best_mean']:.4f}",
    })


if __name__ == "__main__":
    main()
