"""What tuning costs beside the objective when a study lives in SQLite, early and late in a study.

Every trial of ``metahpo.tune`` reads the study's trials (other workers' results and running
trials), reserves and stores its own, and beats a heartbeat. This runs ``--trials`` trials of an
objective that does nothing (so all the time between two calls of it is overhead) into a fresh
SQLite file per optimizer and reports the median time between consecutive objective calls over
the first and the last 50 trials, and the SQL statements and transactions per trial over the
whole run (counted, so unlike the times they do not vary with the machine's load). The last row is
Optuna's own ``study.optimize`` with its random sampler, measured the same way, for scale (it
reads no other worker's trials before a proposal and reserves nothing in advance).

    .venv/bin/python benchmarks/storage_overhead.py --out benchmarks/results/storage_overhead

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from sqlalchemy import event
from sqlalchemy.engine import Engine
from summary_files import save_run_summary

import metahpo
from metahpo import Float, Int, SearchSpace

SPACE = SearchSpace([Float("learning_rate", 1e-4, 1e-1, log=True),
                     Int("batch_size", 16, 256, log=True), Float("dropout", 0.0, 0.5)])
WINDOW = 50


class SQLCounter:
    """Counts the SQL statements and the commits of every SQLAlchemy engine while active."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0

    def _statement(self, *args: object) -> None:
        self.statements += 1

    def _commit(self, *args: object) -> None:
        self.commits += 1

    def __enter__(self) -> SQLCounter:
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._statement)
        event.remove(Engine, "commit", self._commit)


def overhead_ms(optimizer: str, trials: int, folder: Path) -> tuple[float, float]:
    """Median ms between consecutive objective calls over the first and the last ``WINDOW``
    trials of one ``tune`` run of ``trials`` trials into ``folder/optimizer.db`` (the study is
    created by the run, so the counts include its creation: a trial's share of it is small)."""
    calls: list[float] = []

    def objective(params: dict) -> float:
        calls.append(time.perf_counter())
        return params["dropout"]

    metahpo.tune(objective, SPACE, optimizer=optimizer, n_trials=trials,
                 storage=f"sqlite:///{folder / optimizer}.db", study_name="overhead", seed=0,
                 show_progress=False)
    gaps = np.diff(calls) * 1e3
    return float(np.median(gaps[:WINDOW])), float(np.median(gaps[-WINDOW:]))


def optuna_overhead_ms(trials: int, folder: Path) -> tuple[float, float]:
    """The same as :func:`overhead_ms` for Optuna's ``optimize`` with ``RandomSampler``."""
    calls: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        calls.append(time.perf_counter())
        trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
        trial.suggest_int("batch_size", 16, 256, log=True)
        return trial.suggest_float("dropout", 0.0, 0.5)

    study = optuna.create_study(storage=f"sqlite:///{folder / 'optuna'}.db", study_name="overhead",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=trials)
    gaps = np.diff(calls) * 1e3
    return float(np.median(gaps[:WINDOW])), float(np.median(gaps[-WINDOW:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--optimizers", default="random,tpe,meta")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(name, lambda name=name: overhead_ms(name, args.trials, Path(tmp)))
                for name in args.optimizers.split(",")]
        runs.append(("optuna optimize (random sampler)",
                     lambda: optuna_overhead_ms(args.trials, Path(tmp))))
        for name, run in runs:
            with SQLCounter() as sql:
                first, last = run()
            results[name] = {"first_ms": first, "last_ms": last,
                             "statements_per_trial": sql.statements / args.trials,
                             "transactions_per_trial": sql.commits / args.trials}
    lines = [f"| optimizer | ms per trial, first {WINDOW} | ms per trial, last {WINDOW} of "
             f"{args.trials} | SQL statements per trial | transactions per trial |",
             "|---|---|---|---|---|"]
    lines += [f"| {name} | {row['first_ms']:.1f} | {row['last_ms']:.1f} | "
              f"{row['statements_per_trial']:.1f} | {row['transactions_per_trial']:.1f} |"
              for name, row in results.items()]
    note = (f"median time between consecutive calls of an objective that does nothing, one `tune` "
            f"run of {args.trials} trials per optimizer into a fresh SQLite file; SQL statements "
            "and transactions (commits) per trial over the whole run, study creation included")
    save_run_summary(args.out, "Tuning overhead with a SQLite study", lines, note,
                     {"trials": args.trials, "results": results})


if __name__ == "__main__":
    main()
