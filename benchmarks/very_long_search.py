"""Very long searches: ``meta``'s ask time, memory and best value up to trial 5000, one core.

Past ``metahpo.screening.SCREENED_UP_TO`` finished trials the default policy's GP screen reads
only the ``NEAREST_SCREENED`` trials nearest the incumbent, factored afresh per proposal;
before, it read every trial through its kept factor, whose time grows with the square of the
trials and whose memory with them. This runs ``--runs`` searches of ``--budget`` trials on
lcbench test instances (surrogate: cheap evaluations) from the same seeds, as shipped and with
the limit raised past the budget, each search in a process of its own, and reports the median
ask time over the ten asks before each reported trial, the process's peak memory, the best
accuracy found by each reported trial, and the first trial at which the two variants'
proposals differ.

    .venv/bin/python benchmarks/very_long_search.py --out benchmarks/results/very_long_search

Writes ``summary.md`` (with this command and the commit) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time

import numpy as np
from summary_files import save_summary, this_command, this_commit

REPORTED = (1000, 2000, 3000, 4000, 5000)
WINDOW = 10


def search(run: int, budget: int, limit: int | None) -> dict:
    """One search of the default ``meta`` on test instance ``run``, with the screen's limit
    ``limit`` (``None``: as shipped): ask times (ms), proposals, best values, peak memory."""
    import torch
    from threadpoolctl import threadpool_limits

    import metahpo.screening as screening
    from metahpo import create_optimizer
    from metahpo.tasks.registry import make_tasks

    torch.set_num_threads(1)
    if limit is not None:
        screening.SCREENED_UP_TO = limit
    tasks = make_tasks("yahpo:lcbench", instances="test")
    task = tasks[run % len(tasks)]
    opt = create_optimizer("meta", task.space, direction=task.direction, seed=run)
    times, proposals, values = np.zeros(budget), [], np.zeros(budget)
    with threadpool_limits(1):
        for t in range(budget):
            start = time.perf_counter()
            trial = opt.ask()
            times[t] = (time.perf_counter() - start) * 1e3
            proposals.append(dict(trial.params))
            values[t] = task.evaluate(trial.params)
            opt.tell(trial, values[t])
    best = np.maximum.accumulate(values) if task.direction == "maximize" else \
        np.minimum.accumulate(values)
    return {"times": times, "proposals": proposals, "best": best,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=3, help="searches per variant")
    parser.add_argument("--budget", type=int, default=5000)
    args = parser.parse_args()
    import metahpo.screening as screening

    reported = [t for t in REPORTED if t <= args.budget]
    variants = {f"nearest {screening.NEAREST_SCREENED} past {screening.SCREENED_UP_TO} "
                "(shipped)": None, "every trial": args.budget + 1}
    found: dict[str, list[dict]] = {label: [] for label in variants}
    context = multiprocessing.get_context("spawn")
    for run in range(args.runs):
        for label, limit in variants.items():
            with context.Pool(1) as pool:
                found[label].append(pool.apply(search, (run, args.budget, limit)))
    first_difference = [
        next((t + 1 for t, (a, b) in enumerate(zip(ours["proposals"], theirs["proposals"]))
              if a != b), None)
        for ours, theirs in zip(*found.values())]
    results = {}
    for label, runs in found.items():
        times = np.array([r["times"] for r in runs])
        results[label] = {
            "ask_ms": {str(t): float(np.median(times[:, t - WINDOW:t])) for t in reported},
            "best": {str(t): [float(r["best"][t - 1]) for r in runs] for t in reported},
            "peak_mib": [r["peak_mib"] for r in runs]}
    command = this_command()
    lines = ["| screen reads | " + " | ".join(f"ask ms at trial {t}" for t in reported)
             + " | peak memory MiB |", "|" + "---|" * (len(reported) + 2)]
    for label, row in results.items():
        lines.append(f"| {label} | " + " | ".join(f"{row['ask_ms'][str(t)]:.2f}" for t in reported)
                     + f" | {max(row['peak_mib']):.0f} |")
    lines += ["", "| screen reads | " + " | ".join(f"best at trial {t}" for t in reported) + " |",
              "|" + "---|" * (len(reported) + 1)]
    for label, row in results.items():
        lines.append(f"| {label} | " + " | ".join(
            " / ".join(f"{v:.3f}" for v in row["best"][str(t)]) for t in reported) + " |")
    differ = ", ".join("none" if d is None else f"trial {d}" for d in first_difference)
    text = (f"# Very long searches\n\n" + "\n".join(lines) + "\n\n"
            f"`meta` with its default policy, {args.runs} searches of {args.budget} trials on "
            f"lcbench test instances (best validation accuracy found, per search), one torch "
            f"thread and one BLAS thread, each search in a process of its own; ask time: median "
            f"of the {WINDOW} asks up to each trial over the searches; peak memory: the largest "
            f"resident size of a search's process. First proposal that differs between the two "
            f"variants, per search: {differ}.\n\nCommit {this_commit()}. Produced by:\n\n"
            f"    {command}\n")
    save_summary(args.out, text, {"command": command, "commit": this_commit(),
                                  "results": results, "first_difference": first_difference})


if __name__ == "__main__":
    main()
