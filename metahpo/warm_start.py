"""Warm starting a new study from past studies of related tasks (the same model on other data
sets, last month's runs): the configurations to evaluate first.

The past studies are the only evidence, and each configuration in them was evaluated on one
task only. So each past study gets a model of its own landscape, the screen's plain GP
(:func:`metahpo.screening.posterior`: losses as normal scores of their ranks, a fixed kernel in
the unit cube), and every candidate is scored on every study by that study's posterior mean,
read as a quantile (``Φ(mean)``: 0 the best of that study, 1 its worst, 0.5 where the study
knows nothing). The candidates are the configurations the studies hold and ``candidates``
uniform ones. From them a greedy portfolio is chosen, as ``metahpo portfolio build`` does on
benchmark tasks: first the candidate with the lowest mean quantile over the studies, then each
time the one that most lowers the mean over studies of the best quantile chosen so far, so that
later points cover the studies that earlier ones serve badly; among candidates that lower it as
much (not at all, once every study is served as well as any candidate can: always so with one
past study), the one with the lowest mean quantile of its own, so that a single study gives its
best configurations rather than whichever came first. Scale-free throughout: studies
whose objectives differ in units, or in direction, weigh the same.

Why uniform candidates too: a configuration between the good regions of several studies can
serve them all better than any configuration one of them tried. With lcbench training instances
held out in turn (`benchmarks/results/warm_start_validation` and its
`studies_configurations_only`, one 30-trial TPE study per other instance), the regret of ``meta`` after the warm start at 5 / 10 / 20 trials was 0.126 / 0.091 /
0.064 from the studies' configurations alone and 0.092 / 0.060 / 0.042 with 20,000 uniform
candidates beside them (the first point alone was worse, 0.245 against 0.191).

A past study of several objectives (accuracy against training time) has no one value to rank
its trials by: its trials are ranked by their Pareto layer instead (0 on the front, 1 on the
front of the others, ...; :func:`~metahpo.scalarization.pareto_depth`), as scale-free as the
values' ranks are for one objective, so the configurations near its front count as its good
ones. From one 30-trial TPE study of validation accuracy against training time per lcbench
training instance, five warm-start points lifted ``meta``'s hypervolume on the test instances
from 0.578 / 0.851 to 0.706 / 0.911 at 5 / 50 trials
(``benchmarks/results/tune_multi_objective_warm_start``).

Pass the result as ``points_to_evaluate`` (``metahpo tune --warm-start NAME``). Only trials that
fit the new space (in range, its conditions) are read; a past study with fewer than
``MIN_TRIALS`` completed fitting trials is not used. Measured on the held-out lcbench instances:
``benchmarks/results/warm_start``.

A past study need not have the new space's parameters, which is how a search space usually
grows: the model tuned again with weight decay added, a parameter dropped. Each study is
modelled in the parameters it shares with the new space alone (its GP reads those coordinates
of its trials and of the candidates): it says nothing about a parameter it never varied, so
candidates that differ only there score the same on it. Its own configurations become
candidates with each parameter it lacks at the new space's middle (:meth:`SearchSpace.middle`:
a range's midpoint, a categorical's first choice), the same start the meta-learned optimizer
takes; parameters the new space dropped are ignored. Studies of the new space itself are read
exactly as before this existed.
"""

from __future__ import annotations

from typing import Any, Sequence, cast

import numpy as np
from scipy.special import ndtr

from metahpo.errors import MetaHPOError
from metahpo.scalarization import as_losses, pareto_depth
from metahpo.scalars import python_scalar
from metahpo.screening import normal_scores, posterior
from metahpo.space import SearchSpace, check_space
from metahpo.study import Study
from metahpo.trial import TrialRecord, TrialState

#: Completed trials (that fit the new space) a past study needs to be used.
MIN_TRIALS = 3


def warm_start_points(studies: Sequence[Study], space: SearchSpace, n: int = 5, *,
                      candidates: int = 20_000, seed: int = 0) -> list[dict[str, Any]]:
    """Up to ``n`` configurations of ``space`` to evaluate first in a new study, chosen by what
    the completed trials of ``studies`` say (see the module docstring), best first.

    Args:
        studies: past studies of related tasks (:func:`metahpo.load_study`; any Optuna study).
        space: the new study's search space.
        n: how many configurations.
        candidates: uniform configurations of ``space`` considered beside the studies' own.
        seed: seed of the uniform candidates.

    Raises :class:`MetaHPOError` when no study holds ``MIN_TRIALS`` completed trials that fit
    ``space`` (naming, for each study, how many fit)."""
    check_space(space)
    n, candidates = python_scalar(n), python_scalar(candidates)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise MetaHPOError(f"n must be an int >= 1, got {n!r}")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 0:
        raise MetaHPOError(f"candidates must be an int >= 0, got {candidates!r}")
    if isinstance(studies, Study) or not all(isinstance(s, Study) for s in studies):
        raise MetaHPOError("studies must be a list of metahpo Study objects (metahpo.load_study)")
    usable: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    counts: dict[str, int] = {}
    configs: dict[str, Any] = {}
    for study in studies:
        points, losses, params, shared = _fitting_trials(study, space)
        counts[study.name] = sum(p is not None for p in params)
        if counts[study.name] >= MIN_TRIALS:
            usable.append((points[:, shared], normal_scores(losses), shared))
            for point, p in zip(points, params):
                if p is not None:
                    configs.setdefault(point.tobytes(), (point, p))
    if not usable:
        raise MetaHPOError(f"no past study holds {MIN_TRIALS} completed trials that fit the search "
                           f"space (with a parameter of it, in its range; completed and fitting, "
                           f"per study: {counts})")
    uniform = space.snap(np.random.default_rng(seed).random((candidates, space.dim)))
    for point in uniform:
        configs.setdefault(point.tobytes(), (point, None))
    entries = list(configs.values())
    if space.forbidden:
        allowed = ~space.forbidden_mask(np.array([point for point, _ in entries]))
        entries = [entry for entry, keep in zip(entries, allowed) if keep]
    pool = np.array([point for point, _ in entries])
    quantiles = np.column_stack([_quantiles(p, y, pool[:, shared]) for p, y, shared in usable])
    chosen: list[int] = []
    points_out: list[dict[str, Any]] = []
    covered = np.ones(quantiles.shape[1])
    own = quantiles.mean(axis=1)
    while len(points_out) < n and len(chosen) < len(pool):
        scores = np.minimum(quantiles, covered).mean(axis=1)
        scores[chosen] = np.inf
        tied = np.flatnonzero(scores == scores.min())
        best = int(tied[np.argmin(own[tied])])
        chosen.append(best)
        covered = np.minimum(covered, quantiles[best])
        point, params = entries[best]
        config = dict(params) if params is not None else space.decode(point)
        if config not in points_out:  # a candidate a rounding away from one already chosen
            points_out.append(config)
    return points_out


def _quantiles(points: np.ndarray, y: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``Φ`` of the GP posterior mean at ``pool`` ``(m, D)`` given one study's trials, in
    chunks (bounded memory for large pools)."""
    return np.concatenate([ndtr(posterior(points, y, pool[s:s + 4096])[0])
                           for s in range(0, len(pool), 4096)])


def _fitting_trials(study: Study, space: SearchSpace
                    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any] | None], np.ndarray]:
    """The completed trials of ``study`` that fit ``space`` once completed for it (see the
    module docstring): unit-cube points ``(m, D)``, losses ``(m,)`` (lower is better), their
    configurations of ``space`` (``None`` for a trial that broke one of its constraints, which
    is no candidate and enters the model with the worst loss of the others, as the screen
    takes a failed trial), and the indices of the coordinates of the parameters the study
    shares with ``space``."""
    trials = [t for t in study.trials if t.state is TrialState.COMPLETE]
    known = set(study.space.names) if study.space is not None else {
        name for t in trials for name in t.params}
    shared = np.array([i for i, name in enumerate(space.names) if name in known], dtype=int)
    middle = {p.name: p.decode(float(u)) for p, u in zip(space.parameters, space.middle())}
    loss = _losses(study, [t for t in trials if t.feasible])
    points, losses, params = [], [], []
    for t in trials if len(shared) else []:
        config = _completed(t.params, space, known, middle)
        try:
            points.append(space.encode(config))
        except MetaHPOError:
            continue
        losses.append(loss[t.number] if t.feasible else np.nan)
        params.append(config if t.feasible else None)
    y = np.array(losses, dtype=float)
    y[np.isnan(y)] = np.nanmax(y) if not np.isnan(y).all() else 0.0
    return np.array(points).reshape(-1, space.dim), y, params, shared


def _losses(study: Study, trials: list[TrialRecord]) -> dict[int, float]:
    """``{number: loss}`` of a study's complete, feasible ``trials`` (lower is better): the
    value, negated for a maximized objective; with several objectives, the trial's Pareto layer
    (:func:`~metahpo.scalarization.pareto_depth`: 0 on the front), so that the configurations
    of a study of trade-offs near its front count as its good ones."""
    directions = study.directions
    if len(directions) == 1:
        sign = 1.0 if directions[0] == "minimize" else -1.0
        return {t.number: sign * cast(float, t.value) for t in trials}
    depth = pareto_depth(as_losses([t.values for t in trials], directions))
    return dict(zip((t.number for t in trials), depth.astype(float)))


def _completed(params: dict[str, Any], space: SearchSpace, known: set[str],
               middle: dict[str, Any]) -> dict[str, Any]:
    """A past trial's ``params`` as a configuration of ``space``: its own values of the
    parameters its study had (``known``), the space's ``middle`` values of those it lacked, and
    only those ``space`` makes active (the dropped ones and inactive children left out)."""
    config = {name: params[name] if name in known else middle[name]
              for name in space.names if name in params or name not in known}
    active = set(space.active_names(config))
    return {name: value for name, value in config.items() if name in active}
