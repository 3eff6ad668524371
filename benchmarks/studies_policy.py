"""Meta-training on your own past studies: does a policy learned from them beat the default
policy warm-started from the same studies?

The situation of a user who tuned the same model on other data sets before: each lcbench
training instance not in ``--fold`` gets a past study (TPE, ``--past-trials`` trials, seeded by
the instance's position), stored in a SQLite file. Then, as the README says:

    metahpo meta-train --tasks studies:sqlite:///past.db --out mine.safetensors \\
        --reward log_regret --incumbent-clip 0.001 --initial-design 5 --iterations 600

(the ``lcbench`` policy's settings, with a fixed number of iterations instead of its time limit,
about 4 minutes on one core). Each fold instance is tuned ``--seeds`` times for ``--budget``
trials: by the default policy cold, the default policy after :func:`metahpo.warm_start_points`
of the same studies, and the learned policy (with and without the GP screen). ``--fold``: the
held-out lcbench instances (``test``, or training instances for validation folds).

    .venv/bin/python benchmarks/studies_policy.py --fold test --out benchmarks/results/studies_policy/test

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import optuna
import torch
from summary_files import mean_and_stderr, mean_cells, save_run_summary

import metahpo
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import make_tasks

REPORTED = (1, 5, 10, 20, 50)
META_TRAIN = ["--reward", "log_regret", "--incumbent-clip", "0.001", "--initial-design", "5"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fold", default="test", help="held-out lcbench instances: test or ID,ID,...")
    parser.add_argument("--past-trials", type=int, default=30)
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tasks = make_tasks("yahpo:lcbench", instances=args.fold)
    held_out = {t.name for t in tasks}
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{Path(work) / 'past.db'}"
        past = [metahpo.tune(t.evaluate, t.space, optimizer="tpe", n_trials=args.past_trials,
                             direction=t.direction, seed=i, storage=url,
                             study_name=t.name.replace("/", "-"), show_progress=False)
                for i, t in enumerate(make_tasks("yahpo:lcbench", instances="train"))
                if t.name not in held_out]
        policy = str(Path(work) / "mine.safetensors")
        subprocess.run([sys.executable, "-m", "metahpo", "meta-train", "--tasks", f"studies:{url}",
                        "--out", policy, *META_TRAIN, "--iterations", str(args.iterations),
                        "--quiet"], check=True)
        warm = metahpo.warm_start_points(past, tasks[0].space)
        variants = {
            "default policy, cold": ({}, None),
            "default policy, warm start": ({}, warm),
            "policy meta-trained on the studies": ({"policy": policy}, None),
            "policy meta-trained on the studies, screen=64": ({"policy": policy, "screen": 64}, None),
        }
        reported = [t for t in REPORTED if t <= args.budget]
        results = {}
        for label, (options, first) in variants.items():
            regrets = []
            for task in tasks:
                bounds = task_bounds(task)
                sign = 1.0 if task.direction == "minimize" else -1.0
                for seed in range(args.seeds):
                    study = metahpo.tune(task.evaluate, task.space, n_trials=args.budget,
                                         direction=task.direction, seed=seed, show_progress=False,
                                         points_to_evaluate=first, **options)
                    best = sign * np.minimum.accumulate([sign * t.value for t in study.trials])
                    regrets.append([bounds.regret(best[t - 1]) for t in reported])
            results[label] = mean_and_stderr(np.array(regrets), reported)
            print(label, {t: round(v["mean"], 4) for t, v in results[label].items()}, flush=True)
    lines = ["| optimizer | " + " | ".join(f"regret t={t}" for t in reported) + " |",
             "|---" * (len(reported) + 1) + "|"]
    lines += [f"| {label} | {mean_cells(row, reported)} |" for label, row in results.items()]
    note = (f"{len(tasks)} held-out lcbench instances x {args.seeds} seeds; {len(past)} past TPE "
            f"studies of {args.past_trials} trials (one per other training instance), a policy "
            f"meta-trained on them for {args.iterations} iterations")
    save_run_summary(args.out, "Meta-training on past studies", lines, note,
                     {"instances": [t.name for t in tasks], "results": results,
                      "meta_train": META_TRAIN + ["--iterations", str(args.iterations)]})


if __name__ == "__main__":
    main()
