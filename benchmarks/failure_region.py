"""Searches next to a region where trials fail: how many trials does each optimizer waste there?

Real trainings fail in regions (out of memory above some batch size and width, divergence above
some learning rate), often right next to good configurations. The function here is a 3-D
quadratic with its optimum at (0.3, 0.6, 0.5) whose evaluation fails (returns ``None``) for
x in [0.35, 0.55], just beside the optimum. Each optimizer runs ``--seeds`` searches of
``--budget`` trials; the table gives the failed trials per search and the best value found
(mean and median over searches; the optimum is 0).

    .venv/bin/python benchmarks/failure_region.py --out benchmarks/results/failure_region

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np
import torch
from summary_files import save_run_summary

import metahpo
from metahpo import Float, SearchSpace

SPACE = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0), Float("z", 0.0, 1.0)])
OPTIMIZERS = {
    "meta": ("meta", {}),
    "meta (screen=0)": ("meta", {"screen": 0}),
    "tpe": ("tpe", {}),
    "random": ("random", {}),
}


def objective(params: dict) -> float | None:
    if 0.35 <= params["x"] <= 0.55:
        return None
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2 + (params["z"] - 0.5) ** 2


def run_searches(objective, space: SearchSpace, seeds: int, budget: int,
                 optimizers: dict[str, tuple[str, dict]] = OPTIMIZERS) -> dict[str, dict]:
    """Per optimizer of ``optimizers`` (label -> name, options): ``seeds`` searches of
    ``budget`` trials on ``objective``; failed trials, repeated configurations (per search),
    best values and the best configuration of each search."""
    results = {}
    for label, (name, options) in optimizers.items():
        failed, repeated, best, best_params = [], [], [], []
        for seed in range(seeds):
            opt = metahpo.create_optimizer(name, space, seed=seed, **options)
            for _ in range(budget):
                trial = opt.ask()
                opt.tell(trial, objective(trial.params))
            failed.append(sum(r.error is not None for r in opt.history))
            configs = [tuple(r.params.values()) for r in opt.history]
            repeated.append(len(configs) - len(set(configs)))
            best.append(opt.best.value)
            best_params.append(dict(opt.best.params))
        results[label] = {"failed_mean": float(np.mean(failed)),
                          "repeated_mean": float(np.mean(repeated)),
                          "best_mean": float(np.mean(best)), "best_median": float(np.median(best)),
                          "best_params": best_params}
    return results


def run_benchmark(doc: str, budget: int, objective, space: SearchSpace, title: str,
                  columns: dict[str, Callable[[dict, int], str]]) -> None:
    """Parse the options (:func:`arguments`), run :func:`run_searches` and write its summary
    (:func:`write_summary`); ``columns`` maps a table header to the cell of an optimizer's
    results, given them and the budget."""
    args = arguments(doc, budget)
    write_summary(args, title, run_searches(objective, space, args.seeds, args.budget), columns)


def write_summary(args: argparse.Namespace, title: str, results: dict,
                  columns: dict[str, Callable[[dict, int], str]]) -> None:
    """``summary.md`` (title, a table of ``results`` with the ``columns`` of
    :func:`run_benchmark`, the searches run, the commit, the command) and ``summary.json`` in
    ``args.out``."""
    lines = ["| optimizer | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label, r in results.items():
        cells = [cell(r, args.budget) for cell in columns.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    footer = (f"{args.seeds} searches of {args.budget} trials per optimizer "
              f"(seeds 0..{args.seeds - 1})")
    save_run_summary(args.out, title, lines, footer, {"results": results})


def arguments(doc: str, budget: int) -> argparse.Namespace:
    """The options these search benchmarks share (``--out``, ``--seeds``, ``--budget``); also
    limits torch to one thread."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=budget)
    torch.set_num_threads(1)
    return parser.parse_args()


def main() -> None:
    run_benchmark(__doc__, 30, objective, SPACE, "Searching beside a region of failures", {
        "failed trials per search": lambda r, budget: f"{r['failed_mean']:.2f} of {budget}",
        "best value (mean)": lambda r, budget: f"{r['best_mean']:.4f}",
        "best value (median)": lambda r, budget: f"{r['best_median']:.4f}",
    })


if __name__ == "__main__":
    main()
