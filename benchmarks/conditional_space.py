"""A conditional search space: does declaring the conditions help the optimizers?

Momentum matters for SGD and RMSprop only, Nesterov for SGD only. Before metahpo read
conditions, a user declared every parameter and let the objective ignore the ones that do not
apply; with conditions the optimizers see only the active ones (see :mod:`metahpo.conditions`).
The objective here is a smooth stand-in for a training's validation loss: each optimizer has
its own best learning rate and a base loss (SGD best when tuned: momentum 0.9 with Nesterov),
plus terms for depth, width and dropout; the optimum is 0. Each optimizer runs ``--seeds``
searches of ``--budget`` trials on the same objective twice: with the conditions declared, and
with every parameter always active. The table gives the best loss found (mean and median) and
how many searches ended on Adam, whose floor (0.100) is what a search that never leaves it gets.

    .venv/bin/python benchmarks/conditional_space.py --out benchmarks/results/conditional_space

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import math

from failure_region import arguments, run_searches, write_summary

from metahpo import Categorical, Condition, Float, Int, SearchSpace

PARAMETERS = [
    Categorical("optimizer", ["adam", "sgd", "rmsprop"]),
    Float("lr", 1e-5, 1.0, log=True),
    Float("momentum", 0.0, 0.99),
    Categorical("nesterov", [False, True]),
    Int("layers", 1, 4),
    Int("width", 16, 512, log=True),
    Float("dropout", 0.0, 0.5),
]
CONDITIONAL = SearchSpace(PARAMETERS, conditions={
    "momentum": Condition("optimizer", ["sgd", "rmsprop"]),
    "nesterov": Condition("optimizer", "sgd"),
})
FLAT = SearchSpace(PARAMETERS)
BASE = {"adam": 0.10, "sgd": 0.0, "rmsprop": 0.05}
BEST_LOG_LR = {"adam": -3.0, "sgd": -1.5, "rmsprop": -2.5}
OPTIMIZERS = {
    "meta": ("meta", {}),
    "meta (switch_choices)": ("meta", {"switch_choices": True}),
    "meta (switch_choices=False)": ("meta", {"switch_choices": False}),
    "meta (screen=0)": ("meta", {"screen": 0}),
    "tpe": ("tpe", {}),
    "gp": ("gp", {}),
    "cmaes": ("cmaes", {}),
    "evolution": ("evolution", {}),
    "random": ("random", {}),
}


def objective(params: dict) -> float:
    """The loss of a configuration; parameters that do not apply to its optimizer are ignored
    (the flat space passes them anyway)."""
    opt = params["optimizer"]
    loss = BASE[opt] + 0.05 * (math.log10(params["lr"]) - BEST_LOG_LR[opt]) ** 2
    if opt != "adam":
        loss += 0.3 * (params["momentum"] - 0.9) ** 2
    if opt == "sgd":
        loss += 0.0 if params["nesterov"] else 0.02
    loss += 0.02 * abs(params["layers"] - 3) + 0.01 * (math.log2(params["width"]) - 7) ** 2
    return loss + 0.2 * (params["dropout"] - 0.2) ** 2


def on_adam(result: dict) -> int:
    """How many searches of a :func:`run_searches` result found their best with Adam."""
    return sum(p["optimizer"] == "adam" for p in result["best_params"])


def main() -> None:
    args = arguments(__doc__, 30)
    conditional = run_searches(objective, CONDITIONAL, args.seeds, args.budget, OPTIMIZERS)
    flat = run_searches(objective, FLAT, args.seeds, args.budget, OPTIMIZERS)
    results = {label: {"conditional": conditional[label], "flat": flat[label]} for label in OPTIMIZERS}
    write_summary(args, "Searching a conditional space", results, {
        "best loss, conditions declared (mean / median)":
            lambda r, budget: f"{r['conditional']['best_mean']:.4f} / {r['conditional']['best_median']:.4f}",
        "ended on Adam (conditions declared)":
            lambda r, budget: f"{on_adam(r['conditional'])} of {len(r['conditional']['best_params'])}",
        "best loss, every parameter active (mean / median)":
            lambda r, budget: f"{r['flat']['best_mean']:.4f} / {r['flat']['best_median']:.4f}",
    })



if __name__ == "__main__":
    main()
