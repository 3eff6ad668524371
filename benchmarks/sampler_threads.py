"""The Optuna sampler under parallel trials: ``study.optimize(objective, n_jobs=K)``.

With several trials running at once, trials finish out of order and start while others have not
stored their parameters yet; the sampler must keep its optimizer in step with the study without
replaying the whole study for every suggestion, and must not lose quality doing so. Each study
tunes one lcbench test instance (the surrogate's validation accuracy) through ``MetaHPOSampler``
with the instance's space declared, or through Optuna's multivariate TPE; each trial also sleeps
a random 0-20 ms (trainings of uneven length, scaled down) so that trials finish out of order.
Reported per setting, over the studies: wall time of a study (median), the sampler's time per
trial in the study's last 50 trials (median; it includes waiting for the sampler, which one
lock serializes), normalized regret after 50 and ``--trials`` completed trials (mean ± standard
error; regret as in ``metahpo bench``, trials in the order they completed), and for ``meta``
the studies in which the sampler kept through the run and one built afresh from the finished
study disagree on the next proposal (the order in which it read the trials).

    .venv/bin/python benchmarks/sampler_threads.py --out benchmarks/results/sampler_threads

Writes ``summary.md`` (with this command and commit) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import optuna
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary

from metahpo.distributions import space_to_optuna, suggest
from metahpo.integrations.optuna import MetaHPOSampler
from metahpo.reports.summary import regret_curves
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import make_tasks

SLEEP_S = 0.02


def timed(sampler: optuna.samplers.BaseSampler, times: list[tuple[int, float]]) -> None:
    """Record ``(trial number, seconds)`` of every ``sample_relative`` call of ``sampler``."""
    inner = sampler.sample_relative

    def sample_relative(study, trial, search_space):
        start = time.perf_counter()
        try:
            return inner(study, trial, search_space)
        finally:
            times.append((trial.number, time.perf_counter() - start))

    sampler.sample_relative = sample_relative


def run_study(task, sampler_name: str, jobs: int, n_trials: int, seed: int) -> dict:
    """One study; its record (``metahpo bench``'s format) and timings."""
    distributions = space_to_optuna(task.space)
    if sampler_name == "meta":
        sampler = MetaHPOSampler("meta", seed=seed, search_space=distributions)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    times: list[tuple[int, float]] = []
    timed(sampler, times)
    pause = random.Random(seed)

    def objective(trial: optuna.Trial) -> float:
        params = {name: suggest(trial, name, dist) for name, dist in distributions.items()}
        time.sleep(pause.random() * SLEEP_S)
        return task.evaluate(params)

    direction = "maximize" if task.direction == "maximize" else "minimize"
    study = optuna.create_study(direction=direction, sampler=sampler)
    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, n_jobs=jobs)
    wall = time.perf_counter() - start
    done = sorted(study.trials, key=lambda t: t.datetime_complete)
    bounds = task_bounds(task)
    record = {"task": task.name, "direction": task.direction, "values": [t.value for t in done],
              "bounds": {"best": bounds.best, "worst": bounds.worst}}
    late = [s for number, s in times if number >= n_trials - 50]
    disagree = None
    if sampler_name == "meta":
        fresh = optuna.create_study(direction=direction,
                                    sampler=MetaHPOSampler("meta", seed=seed,
                                                           search_space=distributions))
        fresh.add_trials(study.trials)
        kept_next = study.ask(distributions).params
        fresh_next = fresh.ask(distributions).params
        disagree = kept_next != fresh_next
    return {"record": record, "wall_s": wall, "sample_ms": float(np.median(late)) * 1e3,
            "disagree": disagree}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--studies", type=int, default=11, help="one per test instance")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tasks = make_tasks("yahpo:lcbench", instances="test")
    reported = [50, args.trials]
    rows = {}
    for sampler_name in ("meta", "tpe"):
        for jobs in args.jobs:
            runs = [run_study(tasks[i % len(tasks)], sampler_name, jobs, args.trials, seed=i)
                    for i in range(args.studies)]
            curves = np.stack(regret_curves([r["record"] for r in runs]))
            label = f"{sampler_name}, n_jobs={jobs}"
            rows[label] = {
                "wall_s": float(np.median([r["wall_s"] for r in runs])),
                "sample_ms": float(np.median([r["sample_ms"] for r in runs])),
                "regret": mean_and_stderr(curves[:, [t - 1 for t in reported]], reported),
                "kept_vs_fresh_disagree": (None if sampler_name != "meta"
                                           else sum(r["disagree"] for r in runs)),
            }
            print(label, rows[label], flush=True)
    lines = ["| sampler | study wall s (median) | sampler ms per trial, last 50 (median) | "
             + " | ".join(f"regret t={t}" for t in reported) + " | kept vs fresh disagree |",
             "|" + "---|" * (4 + len(reported))]
    for label, row in rows.items():
        disagree = row["kept_vs_fresh_disagree"]
        lines.append(f"| {label} | {row['wall_s']:.2f} | {row['sample_ms']:.2f} | "
                     f"{mean_cells(row['regret'], reported)} | "
                     f"{'-' if disagree is None else f'{disagree} of {args.studies}'} |")
    note = (f"{args.studies} studies per setting (one per lcbench test instance) of "
            f"{args.trials} trials, each trial sleeping a random 0-{SLEEP_S * 1e3:.0f} ms; "
            "regret mean ± standard error, trials in completion order")
    save_run_summary(args.out, "The Optuna sampler with parallel trials", lines, note,
                     {"trials": args.trials, "studies": args.studies, "rows": rows})


if __name__ == "__main__":
    main()
