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
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    for label, (name, options) in OPTIMIZERS.items():
        failed, best = [], []
        for seed in range(args.seeds):
            opt = metahpo.create_optimizer(name, SPACE, seed=seed, **options)
            for _ in range(args.budget):
                trial = opt.ask()
                opt.tell(trial, objective(trial.params))
            failed.append(sum(r.error is not None for r in opt.history))
            best.append(opt.best.value)
        results[label] = {"failed_mean": float(np.mean(failed)),
                          "best_mean": float(np.mean(best)), "best_median": float(np.median(best))}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    command = "python benchmarks/failure_region.py " + shlex.join(sys.argv[1:])
    lines = ["| optimizer | failed trials per search | best value (mean) | best value (median) |",
             "|---|---|---|---|"]
    for label, r in results.items():
        lines.append(f"| {label} | {r['failed_mean']:.2f} of {args.budget} | {r['best_mean']:.4f} | "
                     f"{r['best_median']:.4f} |")
    table = "\n".join(lines)
    text = (f"# Searching beside a region of failures\n\n{table}\n\n{args.seeds} searches of "
            f"{args.budget} trials per optimizer (seeds 0..{args.seeds - 1}); commit {commit}.\n\n"
            f"Produced by:\n\n    {command}\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({"command": command, "commit": commit,
                                                  "results": results}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
