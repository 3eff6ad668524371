"""What one proposal costs on a study that already holds many trials, from a fresh process.

A fresh optimizer reads every trial of the study before it proposes: ``metahpo ask`` does so
for every job of a queue, ``tune`` does when it resumes a study, and the jobs of ``tune(n_jobs)``
and other workers take each other's trials the same way, one at a time. This builds SQLite
studies of ``--sizes`` finished trials (random search on a three-parameter space) and times
``load_study(...).ask(optimizer)`` on a fresh copy of each: reading the study, the optimizer
taking in every trial, and its proposal. The median of ``--repeats`` copies per cell.

    .venv/bin/python benchmarks/resumed_study_ask.py --out benchmarks/results/resumed_study_ask

Writes ``summary.md`` (with this command and the commit) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from summary_files import save_run_summary

import metahpo
from metahpo import Float, Int, SearchSpace

SPACE = SearchSpace([Float("learning_rate", 1e-4, 1e-1, log=True),
                     Int("batch_size", 16, 256, log=True), Float("dropout", 0.0, 0.5)])


def build_study(path: Path, trials: int) -> None:
    """A SQLite study named ``resumed`` of ``trials`` finished random-search trials."""
    metahpo.tune(lambda p: p["dropout"] + p["learning_rate"], SPACE, optimizer="random",
                 n_trials=trials, storage=f"sqlite:///{path}", study_name="resumed", seed=0,
                 show_progress=False)


def ask_seconds(built: Path, optimizer: str, folder: Path) -> float:
    """Seconds of one ``ask`` by ``optimizer`` on a fresh copy of the study in ``built``."""
    copy = folder / "copy.db"
    shutil.copyfile(built, copy)
    started = time.perf_counter()
    metahpo.load_study("resumed", storage=f"sqlite:///{copy}").ask(optimizer, seed=0)
    seconds = time.perf_counter() - started
    copy.unlink()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="250,500,1000,2000")
    parser.add_argument("--optimizers", default="random,meta,tpe,cmaes,gp")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")]
    optimizers = args.optimizers.split(",")
    seconds: dict[str, dict[str, float]] = {name: {} for name in optimizers}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in sizes:
            built = folder / f"study{size}.db"
            build_study(built, size)
            for name in optimizers:
                runs = [ask_seconds(built, name, folder) for _ in range(args.repeats)]
                seconds[name][str(size)] = float(np.median(runs))
                print(f"{name} at {size} trials: {seconds[name][str(size)]:.2f} s", flush=True)
    lines = ["| optimizer | " + " | ".join(f"s at {size} trials" for size in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    lines += [f"| {name} | " + " | ".join(f"{row[str(size)]:.2f}" for size in sizes) + " |"
              for name, row in seconds.items()]
    note = (f"seconds of `load_study(...).ask(optimizer)` on a fresh copy of a SQLite study of that "
            f"many finished trials (reading it, taking in every trial, proposing), median of "
            f"{args.repeats}; one torch thread")
    save_run_summary(args.out, "One proposal on a study that holds many trials", lines, note,
                     {"sizes": sizes, "repeats": args.repeats, "seconds": seconds})


if __name__ == "__main__":
    main()
