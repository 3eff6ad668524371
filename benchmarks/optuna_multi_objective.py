"""Accuracy and training time at once: Optuna studies with two objectives on held-out lcbench.

Each of the 11 lcbench test instances (the YAHPO surrogate at its last epoch) is one task: an
Optuna study with ``directions=["maximize", "minimize"]`` over the validation accuracy (percent)
and the training time (seconds) of an MLP, where the quick configurations are not the accurate
ones. Every sampler runs ``--seeds`` studies of ``--budget`` trials per instance, seeded with the
seed. ``meta`` is :class:`~metahpo.integrations.optuna.MetaHPOSampler` with its default policy,
given only what the objective suggests, as a user would run it; NSGA-II is Optuna's default
sampler for several objectives, TPE and GP its model-based ones (GP: about 0.5 s per trial
here). ``meta-tune`` is not an Optuna sampler: the same optimizer through metahpo's own
``metahpo.tune(directions=...)`` over the scenario's declared space; ``meta-tune-warm`` is
``meta-tune`` warm-started (``metahpo.warm_start_points``, 5 configurations) from past studies
of the same two objectives, one 30-trial TPE study per lcbench *training* instance (the user who
tuned this MLP on other data sets before). ``--methods`` picks some of them; the ``meta-tune``
variants are not run by default, so the committed table's command reproduces it.

Score: the hypervolume of the trials so far — the share of the objective box that some trial
dominates, with accuracy and log10(time) scaled to [0, 1] by the range of 20,000 uniform random
configurations of the instance (the reference point is their worst accuracy and longest time;
time on a log scale, as it spans two orders of magnitude). A trial quicker or more accurate than
all 20,000 (most such by a few hundredths of the box) counts as the box's edge, not beyond, so
the best searches are scored conservatively; ``summary.json`` gives how many there were per
sampler (``beyond_the_box``). Higher is better; the hypervolume of
those 20,000 configurations' own front is given per instance in ``summary.json`` as a reference.
The table gives its mean ± standard error over instances and seeds after t trials, and the mean
rank among the samplers (1 = best); ``fronts.png`` shows the first seed's fronts on one instance.

    .venv/bin/python benchmarks/optuna_multi_objective.py --out benchmarks/results/optuna_multi_objective
    .venv/bin/python benchmarks/optuna_multi_objective.py --methods meta meta-tune random \
        --out benchmarks/results/tune_multi_objective
    .venv/bin/python benchmarks/optuna_multi_objective.py --methods meta-tune meta-tune-warm \
        random --out benchmarks/results/tune_multi_objective_warm_start
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
import torch
from scipy.stats import rankdata
from summary_files import mean_and_stderr, mean_cells, save_run_summary

import metahpo
from metahpo.distributions import space_to_optuna, suggest
from metahpo.integrations.optuna import MetaHPOSampler
from metahpo.tasks.registry import LCBENCH_TEST
from metahpo.tasks.yahpo import YahpoScenario

DIRECTIONS = ["maximize", "minimize"]
TARGETS = ("val_accuracy", "time")
REPORTED = (5, 10, 20, 50)
SAMPLERS: dict[str, Callable[[int, YahpoScenario], optuna.samplers.BaseSampler]] = {
    "meta": lambda seed, scenario: MetaHPOSampler("meta", seed=seed),
    "nsga2": lambda seed, scenario: optuna.samplers.NSGAIISampler(seed=seed),
    "tpe": lambda seed, scenario: optuna.samplers.TPESampler(seed=seed),
    "gp": lambda seed, scenario: optuna.samplers.GPSampler(seed=seed),
    "random": lambda seed, scenario: optuna.samplers.RandomSampler(seed=seed),
}
#: Optimizers run through ``metahpo.tune`` rather than as an Optuna sampler, by label, and
#: whether they are warm-started from past studies of the training instances.
TUNED = {"meta-tune": ("meta", False), "meta-tune-warm": ("meta", True)}
WARM_POINTS = 5
PAST_TRIALS = 30


def objectives(scenario: YahpoScenario, instance: str, u: np.ndarray) -> np.ndarray:
    """``(accuracy, time)`` ``(n, 2)`` of configurations given as unit-cube points ``(n, dim)``."""
    return scenario.predict(u, instance)[:, [scenario.meta.targets.index(t) for t in TARGETS]]


class Box:
    """One instance's objectives as [0, 1] losses (0 best): accuracy and log10(time), each
    scaled by its range over 20,000 uniform random configurations (:attr:`reference`, scaled)."""

    def __init__(self, scenario: YahpoScenario, instance: str) -> None:
        rng = np.random.default_rng(0)
        u = scenario.space.snap(rng.uniform(size=(20_000, len(scenario.space))))
        raw = self._raw(objectives(scenario, instance, u))
        self.low, self.span = raw.min(axis=0), np.ptp(raw, axis=0)
        self.reference = self.scale(objectives(scenario, instance, u))

    @staticmethod
    def _raw(values: np.ndarray) -> np.ndarray:
        return np.stack([-values[:, 0], np.log10(np.maximum(values[:, 1], 1e-9))], axis=1)

    def scale(self, values: np.ndarray) -> np.ndarray:
        """Trials' ``(accuracy, time)`` ``(n, 2)`` as losses in the box, unclipped (below 0:
        beyond the sample's best)."""
        return (self._raw(values) - self.low) / self.span


def hypervolume(losses: np.ndarray) -> float:
    """Share of the unit square dominated by two-objective ``losses`` ``(n, 2)`` (reference
    point (1, 1): points beyond it count for nothing, below 0 as 0)."""
    area, lowest = 0.0, 1.0
    inside = np.maximum(losses[(losses < 1.0).all(axis=1)], 0.0)
    for a, b in sorted(map(tuple, inside)):
        if b < lowest:
            area, lowest = area + (1.0 - a) * (lowest - b), b
    return area


def run_study(make: Callable[[int, YahpoScenario], Any], scenario: YahpoScenario, instance: str,
              seed: int, budget: int) -> np.ndarray:
    """``(accuracy, time)`` of each trial of one study, ``(budget, 2)`` (NaN for a failed one)."""
    distributions = space_to_optuna(scenario.space)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        params = {name: suggest(trial, name, dist) for name, dist in distributions.items()}
        y = objectives(scenario, instance, scenario.space.encode(params)[None, :])[0]
        return float(y[0]), float(y[1])

    study = optuna.create_study(directions=DIRECTIONS, sampler=make(seed, scenario))
    study.optimize(objective, n_trials=budget)
    return np.array([t.values if t.values is not None else [np.nan, np.nan]
                     for t in study.trials], dtype=float)


def tuned(optimizer: str, scenario: YahpoScenario, instance: str, seed: int, budget: int,
          points: list[dict[str, Any]] | None = None) -> metahpo.Study:
    """A ``metahpo.tune`` study of ``instance``'s two objectives, first evaluating
    ``points``."""
    def objective(params: dict[str, Any]) -> tuple[float, float]:
        y = objectives(scenario, instance, scenario.space.encode(params)[None, :])[0]
        return float(y[0]), float(y[1])

    return metahpo.tune(objective, scenario.space, optimizer=optimizer, n_trials=budget,
                        directions=DIRECTIONS, seed=seed, show_progress=False,
                        points_to_evaluate=points)


def warm_points(scenario: YahpoScenario) -> list[dict[str, Any]]:
    """The warm start of every test instance's study: ``WARM_POINTS`` configurations chosen
    from a ``PAST_TRIALS``-trial TPE study of the two objectives per training instance."""
    train = [i for i in scenario.instances if i not in LCBENCH_TEST]
    past = [tuned("tpe", scenario, instance, k, PAST_TRIALS) for k, instance in enumerate(train)]
    return metahpo.warm_start_points(past, scenario.space, n=WARM_POINTS)


def run_tune(optimizer: str, scenario: YahpoScenario, instance: str, seed: int,
             budget: int, points: list[dict[str, Any]] | None = None) -> np.ndarray:
    """As :func:`run_study`, through ``metahpo.tune`` with ``optimizer`` and ``directions``,
    first evaluating ``points``."""
    study = tuned(optimizer, scenario, instance, seed, budget, points)
    return np.array([t.values if t.values is not None else [np.nan, np.nan]
                     for t in study.trials], dtype=float)


def plot_fronts(path: Path, box: Box, studies: dict[str, np.ndarray], instance: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    reference = box.reference
    ax.scatter(reference[:, 1], 1 - reference[:, 0], s=1, color="0.85",
               label="20,000 random configurations")
    for label, values in studies.items():
        losses = box.scale(values)
        order = np.argsort(losses[:, 1])
        best = np.minimum.accumulate(losses[order, 0])
        ax.step(losses[order, 1], 1 - best, where="post", label=label)
    ax.set_xlabel("log10(training time), scaled (0 = quickest)")
    ax.set_ylabel("validation accuracy, scaled (1 = best)")
    ax.set_title(f"fronts after {len(next(iter(studies.values())))} trials, lcbench {instance}")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--methods", nargs="+", choices=[*SAMPLERS, *TUNED],
                        default=list(SAMPLERS), help="default: every Optuna sampler")
    parser.add_argument("--data-path", help="YAHPO data folder (default: ../shared/data/yahpo "
                        "or $METAHPO_YAHPO_DATA)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    scenario = YahpoScenario("lcbench", args.data_path)
    reported = [t for t in REPORTED if t <= args.budget]
    boxes = {i: Box(scenario, i) for i in LCBENCH_TEST}
    methods = list(dict.fromkeys(args.methods))
    warm = warm_points(scenario) if any(TUNED.get(m, ("", False))[1] for m in methods) else None
    curves: dict[str, list[list[float]]] = {label: [] for label in methods}
    beyond = {label: 0 for label in methods}
    seconds: dict[str, float] = {}
    first: dict[str, np.ndarray] = {}
    for label in methods:
        start = time.perf_counter()
        for instance in LCBENCH_TEST:
            for seed in range(args.seeds):
                values = (run_tune(TUNED[label][0], scenario, instance, seed, args.budget,
                                   warm if TUNED[label][1] else None)
                          if label in TUNED else
                          run_study(SAMPLERS[label], scenario, instance, seed, args.budget))
                losses = boxes[instance].scale(values)
                beyond[label] += int((losses < 0).any(axis=1).sum())
                curves[label].append([hypervolume(losses[:t][~np.isnan(losses[:t]).any(axis=1)])
                                      for t in reported])
                if instance == LCBENCH_TEST[0] and seed == 0:
                    first[label] = values
        seconds[label] = (time.perf_counter() - start) / (len(LCBENCH_TEST) * args.seeds)
        print(label, mean_cells(mean_and_stderr(np.array(curves[label]), reported), reported),
              f"{seconds[label]:.1f} s per study", flush=True)
    stacked = np.stack([np.array(curves[label]) for label in methods])  # (methods, runs, t)
    ranks = rankdata(-stacked, axis=0)  # ties (the same first random trials) share a rank
    results = {label: mean_and_stderr(stacked[k], reported) for k, label in enumerate(methods)}
    lines = ["| sampler | " + " | ".join(f"hypervolume t={t}" for t in reported) + " | "
             + " | ".join(f"rank t={t}" for t in reported) + " | s per study |",
             "|---|" + "---|" * (2 * len(reported) + 1)]
    for k, label in enumerate(methods):
        rank_cells = " | ".join(f"{ranks[k, :, j].mean():.2f}" for j in range(len(reported)))
        lines.append(f"| {label} | {mean_cells(results[label], reported)} | {rank_cells} | "
                     f"{seconds[label]:.2f} |")
    reference = {i: hypervolume(b.reference) for i, b in boxes.items()}
    note = (f"{len(LCBENCH_TEST)} lcbench test instances x {args.seeds} seeds, two objectives "
            "(validation accuracy up, training time down); hypervolume of the trials so far in "
            "the box of 20,000 random configurations (accuracy and log10 time scaled to [0, 1]; "
            f"that sample's own front: {np.mean(list(reference.values())):.4f} on average), "
            "mean ± standard error; rank 1 = best")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    plot_fronts(Path(args.out) / "fronts.png", boxes[LCBENCH_TEST[0]], first, LCBENCH_TEST[0])
    save_run_summary(args.out, "Two objectives on held-out lcbench: accuracy and training time",
                     lines, note, {"seeds": args.seeds, "budget": args.budget,
                                   "results": results, "per_run": curves,
                                   "random_front_hypervolume": reference,
                                   "beyond_the_box": beyond,
                                   "seconds_per_study": seconds})


if __name__ == "__main__":
    main()
