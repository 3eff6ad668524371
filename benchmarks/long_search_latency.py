"""Suggestion latency of long searches: ``meta``'s ask at trial 100 to 2000, on one core.

The default policy's GP screen fits nothing, so the Gram matrix of a search's first trials
never changes; past ``metahpo.screening.FRESH_FACTOR_UP_TO`` finished trials the search keeps
its Cholesky factor and extends it as trials finish, instead of factoring the whole matrix for
every proposal (cubic in the trials). This runs ``--runs`` searches of ``--budget`` trials on
lcbench test instances (surrogate: cheap evaluations) twice from the same seed, with the kept
factor (as shipped) and with a fresh factor for every proposal (the limit raised past the
budget), and reports the median ask time over the last ten asks before each reported trial,
and the first trial at which the two searches' proposals differ (rounding: the two factors agree
to about 1e-12, so an argmax among near-equal candidates can fall either way).

    .venv/bin/python benchmarks/long_search_latency.py --out benchmarks/results/long_search_latency

Writes ``summary.md`` (with this command and the commit) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from summary_files import save_summary, this_command, this_commit
from threadpoolctl import threadpool_limits

import metahpo.screening as screening
from metahpo import create_optimizer
from metahpo.tasks.registry import make_tasks

REPORTED = (100, 250, 500, 1000, 2000)
WINDOW = 10


def search(task, seed: int, budget: int) -> tuple[np.ndarray, list[dict]]:
    """Ask times (ms) and proposals of one search of the default ``meta``."""
    opt = create_optimizer("meta", task.space, direction=task.direction, seed=seed)
    times, proposals = np.zeros(budget), []
    for t in range(budget):
        start = time.perf_counter()
        trial = opt.ask()
        times[t] = (time.perf_counter() - start) * 1e3
        proposals.append(dict(trial.params))
        opt.tell(trial, task.evaluate(trial.params))
    return times, proposals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=3, help="searches per variant")
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = make_tasks("yahpo:lcbench", instances="test")
    reported = [t for t in REPORTED if t <= args.budget]
    shipped_limit = screening.FRESH_FACTOR_UP_TO
    variants = {"kept factor (shipped)": shipped_limit, "fresh factor per proposal": args.budget + 1}
    times = {label: np.zeros((args.runs, args.budget)) for label in variants}
    first_difference: list[int | None] = []
    with threadpool_limits(1):
        for run in range(args.runs):
            task = tasks[run % len(tasks)]
            proposals = {}
            for label, limit in variants.items():
                screening.FRESH_FACTOR_UP_TO = limit
                times[label][run], proposals[label] = search(task, run, args.budget)
            kept, fresh = proposals.values()
            first_difference.append(next((t + 1 for t, (a, b) in enumerate(zip(kept, fresh))
                                          if a != b), None))
    screening.FRESH_FACTOR_UP_TO = shipped_limit
    results = {label: {str(t): float(np.median(ms[:, t - WINDOW:t])) for t in reported}
               for label, ms in times.items()}
    command = this_command()
    header = "| screen's factor | " + " | ".join(f"ask ms at trial {t}" for t in reported) + " |"
    lines = [header, "|" + "---|" * (len(reported) + 1)]
    for label, row in results.items():
        lines.append(f"| {label} | " + " | ".join(f"{row[str(t)]:.2f}" for t in reported) + " |")
    differ = ", ".join("none" if d is None else f"trial {d}" for d in first_difference)
    text = (f"# Suggestion latency of long searches\n\n" + "\n".join(lines) + "\n\n"
            f"`meta` with its default policy, {args.runs} searches of {args.budget} trials on "
            f"lcbench test instances, one torch thread and one BLAS thread; median of the "
            f"{WINDOW} asks up to each trial over the searches. The kept factor starts past "
            f"{shipped_limit} finished trials. First proposal that differs between the two "
            f"variants, per search: {differ}.\n\nCommit {this_commit()}. Produced by:\n\n"
            f"    {command}\n")
    save_summary(args.out, text, {"command": command, "commit": this_commit(),
                                  "fresh_factor_up_to": shipped_limit, "results": results,
                                  "first_difference": first_difference})


if __name__ == "__main__":
    main()
