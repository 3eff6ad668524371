"""Combinations that cannot run: declared as forbidden clauses, or left to fail as trials?

A user whose large model runs out of memory above batch size 64, and whose learning-rate
schedule refuses a warm-up as long as the training, can declare both
(``forbidden=[{"model": "large", "batch_size": [128, 256]}, "warmup_epochs >= epochs"]``)
or let those trials fail. This compares the two on the README's example space with a
synthetic validation error whose optimum lies beside both forbidden regions, as real optima
often do (the largest model with the largest batch that fits; a warm-up just shorter than the
training): ``large``, batch 64, learning rate 3e-3, 10 epochs, 9 warm-up epochs, error 0.14.
The forbidden region's configurations would be better still, were they allowed.

Each optimizer runs ``--seeds`` searches of ``--budget`` trials both ways. Declared: the
proposals the optimizer made and had discarded (``Optimizer.ask`` proposes again; counted by
wrapping the optimizer's proposal method) and the trials that fell back to a uniformly drawn
allowed configuration after ten forbidden proposals in a row. Undeclared: the trials that
failed. Both: regret of the best trial (its error minus 0.14; mean ± standard error, and
median) and seconds per search.

    .venv/bin/python benchmarks/forbidden_combinations.py --out benchmarks/results/forbidden_combinations

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from failure_region import arguments
from summary_files import save_run_summary

import metahpo
from metahpo import Categorical, Float, Int, SearchSpace
from metahpo.forbidden import MAX_PROPOSALS

PARAMETERS = [Categorical("model", ["small", "large"]),
              Categorical("batch_size", [64, 128, 256]), Float("lr", 1e-4, 1e-1, log=True),
              Int("epochs", 5, 50), Int("warmup_epochs", 0, 10)]
FORBIDDEN = [{"model": "large", "batch_size": [128, 256]}, "warmup_epochs >= epochs"]
DECLARED = SearchSpace(PARAMETERS, forbidden=FORBIDDEN)
UNDECLARED = SearchSpace(PARAMETERS)
OPTIMUM = 0.14
#: label -> (optimizer, options); ``switch_choices`` lets ``meta`` try the other model (see the
#: README's "Categorical choices").
OPTIMIZERS = {"meta": ("meta", {}), "meta (switch_choices)": ("meta", {"switch_choices": True}),
              **{name: (name, {}) for name in ("tpe", "gp", "cmaes", "evolution", "random")}}

_BASE = {"small": 0.30, "large": 0.12}
_BATCH = {"small": {64: 0.02, 128: 0.01, 256: 0.0}, "large": {64: 0.02, 128: 0.0, 256: 0.01}}


def validation_error(params: dict[str, Any]) -> float:
    """The synthetic error of a configuration, forbidden or not (minimum 0.13 at ``large``,
    batch 128, which cannot run; 0.14 among those that can)."""
    return (_BASE[params["model"]] + _BATCH[params["model"]][params["batch_size"]]
            + 0.04 * (math.log10(params["lr"]) + 2.5) ** 2
            + 0.004 * abs(params["epochs"] - 10) + 0.01 * abs(params["warmup_epochs"] - 9))


def crashing_objective(params: dict[str, Any]) -> float | None:
    """The undeclared way: a forbidden configuration's run fails (``None``)."""
    return None if DECLARED.forbids(params) is not None else validation_error(params)


def search(name: str, options: dict[str, Any], space: SearchSpace, seed: int, budget: int
           ) -> dict[str, float]:
    """One search of ``budget`` trials; its regret, failed trials, discarded proposals,
    fallback draws and seconds."""
    opt = metahpo.create_optimizer(name, space, seed=seed, **options)
    proposals, last_forbidden = 0, False
    propose = opt._propose

    def counted() -> dict[str, Any]:
        nonlocal proposals, last_forbidden
        proposals += 1
        params = propose()
        last_forbidden = DECLARED.forbids(params) is not None
        return params

    opt._propose = counted  # type: ignore[method-assign]
    fallbacks = 0
    start = time.perf_counter()
    for _ in range(budget):
        before = proposals
        trial = opt.ask()
        fallbacks += proposals - before == MAX_PROPOSALS and last_forbidden
        opt.tell(trial, crashing_objective(trial.params))
    seconds = time.perf_counter() - start
    return {"regret": opt.best.value - OPTIMUM, "failed": sum(r.error is not None for r in opt.history),
            "discarded": proposals - budget, "fallbacks": fallbacks, "seconds": seconds}


def main() -> None:
    args = arguments(__doc__, 30)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for label, (name, options) in OPTIMIZERS.items():
        results[label] = {}
        for way, space in (("declared", DECLARED), ("undeclared", UNDECLARED)):
            runs = [search(name, options, space, seed, args.budget) for seed in range(args.seeds)]
            regret = np.array([r["regret"] for r in runs])
            results[label][way] = {
                "regret_mean": float(regret.mean()),
                "regret_stderr": float(regret.std(ddof=1) / math.sqrt(len(regret))),
                "regret_median": float(np.median(regret)),
                **{f"{key}_mean": float(np.mean([r[key] for r in runs]))
                   for key in ("failed", "discarded", "fallbacks", "seconds")}}
    lines = ["| optimizer | declared: regret | median | discarded proposals | fallback draws "
             "| s | undeclared: regret | median | failed trials | s |", "|---" * 10 + "|"]
    for name, r in results.items():
        d, u = r["declared"], r["undeclared"]
        lines.append(
            f"| {name} | {d['regret_mean']:.4f} ± {d['regret_stderr']:.4f} | "
            f"{d['regret_median']:.4f} | {d['discarded_mean']:.1f} | {d['fallbacks_mean']:.1f} | "
            f"{d['seconds_mean']:.1f} | {u['regret_mean']:.4f} ± {u['regret_stderr']:.4f} | "
            f"{u['regret_median']:.4f} | {u['failed_mean']:.1f} of {args.budget} | "
            f"{u['seconds_mean']:.1f} |")
    note = (f"{args.seeds} searches of {args.budget} trials per optimizer and way "
            f"(seeds 0..{args.seeds - 1}); per search means")
    save_run_summary(args.out, "Forbidden combinations: declared, or failing as trials", lines,
                     note, {"results": results})


if __name__ == "__main__":
    main()
