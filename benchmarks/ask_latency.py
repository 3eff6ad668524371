"""Suggestion latency by trial number: how long ``ask`` takes at trial t, on one core.

The benchmark summaries report the median over all asks of a run; this one answers "what does
a suggestion cost late in a search", where history-based methods are slowest. Each optimizer
runs ``--runs`` searches of ``--budget`` trials on lcbench test instances (surrogate, so the
evaluations are cheap); the ask time of trial t is collected over runs. "One core" means one
torch thread and one BLAS thread (the GP screen's linear algebra); the optimizers take turns
within each run, so that a change in the machine's load touches all of them alike. The
machine's speed drifts over minutes, and a run's medians move with it (compare the ``tpe`` rows
of two runs): the default policy's median at trial 50 ranged over 0.92-1.00 ms in four runs of
one commit with 44 searches (four per test instance, half a minute each) and over 0.89-0.96 ms
in three runs with 220 (twenty per instance, two minutes), the default since, which at least
takes the sampling noise of a median of 44 out of that spread.

    .venv/bin/python benchmarks/ask_latency.py --out benchmarks/results/ask_latency

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from summary_files import save_summary, this_command
from threadpoolctl import threadpool_limits

from metahpo import create_optimizer
from metahpo.tasks.registry import make_tasks

OPTIMIZERS = {
    "meta (lcbench policy)": ("meta", {"policy": "lcbench"}),
    "meta (default policy)": ("meta", {"policy": "default"}),
    "meta (default policy, screen=0)": ("meta", {"policy": "default", "screen": 0}),
    "tpe": ("tpe", {}),
    "random": ("random", {}),
}
REPORTED = (1, 10, 25, 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=220,
                        help="searches per optimizer (220: twenty per test instance)")
    parser.add_argument("--budget", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = make_tasks("yahpo:lcbench", instances="test")
    reported = [t for t in REPORTED if t <= args.budget]
    times = {label: np.zeros((args.runs, args.budget)) for label in OPTIMIZERS}
    with threadpool_limits(1):
        for run in range(args.runs):
            task = tasks[run % len(tasks)]
            for label, (name, options) in OPTIMIZERS.items():
                opt = create_optimizer(name, task.space, direction=task.direction, seed=run, **options)
                for t in range(args.budget):
                    start = time.perf_counter()
                    trial = opt.ask()
                    times[label][run, t] = (time.perf_counter() - start) * 1e3
                    opt.tell(trial, task.evaluate(trial.params))
    results = {label: {str(t): {"median_ms": float(np.median(ms[:, t - 1])),
                                "p95_ms": float(np.percentile(ms[:, t - 1], 95))}
                       for t in reported}
               for label, ms in times.items()}
    command = this_command()
    header = "| optimizer | " + " | ".join(f"ask ms at trial {t} (median / p95)" for t in reported) + " |"
    lines = [header, "|" + "---|" * (len(reported) + 1)]
    for label, row in results.items():
        cells = [f"{row[str(t)]['median_ms']:.2f} / {row[str(t)]['p95_ms']:.2f}" for t in reported]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    text = (f"# Suggestion latency\n\n{table}\n\n{args.runs} searches of {args.budget} trials on "
            f"the lcbench test instances, one torch thread and one BLAS thread.\n\nProduced by:\n\n    {command}\n")
    save_summary(args.out, text, {"command": command, "results": results})


if __name__ == "__main__":
    main()
