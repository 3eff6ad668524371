"""Warm starting a new study from past studies of related tasks (the same model on other data
sets, last month's runs): the configurations to evaluate first.

The past studies are the only evidence, and each configuration in them was evaluated on one
task only. So each past study gets a model of its own landscape, the screen's plain GP
(:func:`metahpo.screening.posterior`: losses as normal scores of their ranks, a fixed kernel in
the unit cube), and every configuration the studies hold is scored on every study by that
study's posterior mean, read as a quantile (``Φ(mean)``: 0 the best of that study, 1 its worst,
0.5 where the study knows nothing). From these candidates a greedy portfolio is chosen, as
``metahpo portfolio build`` does on benchmark tasks: first the configuration with the lowest
mean quantile over the studies, then each time the one that most lowers the mean over studies
of the best quantile chosen so far, so that later points cover the studies that earlier ones
serve badly. Scale-free throughout: studies whose objectives differ in units, or in direction,
weigh the same.

Pass the result as ``points_to_evaluate`` (``metahpo tune --warm-start NAME``). Only
configurations that fit the new space (its names, in range, its conditions) are candidates; a
past study with fewer than ``MIN_TRIALS`` completed fitting trials is not used. Measured on the
held-out lcbench instances from TPE studies of the training instances:
``benchmarks/results/warm_start``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.special import ndtr

from metahpo.errors import MetaHPOError
from metahpo.screening import normal_scores, posterior
from metahpo.space import SearchSpace, check_space
from metahpo.study import Study
from metahpo.trial import TrialState

#: Completed trials (that fit the new space) a past study needs to be used.
MIN_TRIALS = 3


def warm_start_points(studies: Sequence[Study], space: SearchSpace, n: int = 5) -> list[dict[str, Any]]:
    """Up to ``n`` configurations of ``space`` to evaluate first in a new study, chosen from the
    completed trials of ``studies`` (see the module docstring), best first.

    Raises :class:`MetaHPOError` when no study holds ``MIN_TRIALS`` completed trials that fit
    ``space`` (naming, for each study, how many fit)."""
    check_space(space)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise MetaHPOError(f"n must be an int >= 1, got {n!r}")
    if isinstance(studies, Study) or not all(isinstance(s, Study) for s in studies):
        raise MetaHPOError("studies must be a list of metahpo Study objects (metahpo.load_study)")
    usable, counts, configs = [], {}, {}
    for study in studies:
        points, losses, params = _fitting_trials(study, space)
        counts[study.name] = len(losses)
        if len(losses) >= MIN_TRIALS:
            usable.append((points, normal_scores(losses)))
            for point, p in zip(points, params):
                configs.setdefault(point.tobytes(), (point, p))
    if not usable:
        raise MetaHPOError(f"no past study holds {MIN_TRIALS} completed trials that fit the search "
                           f"space (completed and fitting, per study: {counts})")
    candidates = np.array([point for point, _ in configs.values()])
    originals = [p for _, p in configs.values()]
    quantiles = np.column_stack([ndtr(posterior(p, y, candidates)[0]) for p, y in usable])
    chosen: list[int] = []
    covered = np.ones(quantiles.shape[1])
    for _ in range(min(n, len(candidates))):
        scores = np.minimum(quantiles, covered).mean(axis=1)
        scores[chosen] = np.inf
        best = int(np.argmin(scores))
        chosen.append(best)
        covered = np.minimum(covered, quantiles[best])
    return [dict(originals[i]) for i in chosen]


def _fitting_trials(study: Study, space: SearchSpace
                    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """The completed trials of ``study`` whose parameters fit ``space``: unit-cube points
    ``(m, D)``, losses ``(m,)`` (lower is better) and the parameters."""
    sign = 1.0 if study.direction == "minimize" else -1.0
    points, losses, params = [], [], []
    for t in study.trials:
        if t.state is not TrialState.COMPLETE:
            continue
        try:
            points.append(space.encode(t.params))
        except MetaHPOError:
            continue
        losses.append(sign * t.value)
        params.append(dict(t.params))
    return np.array(points).reshape(-1, space.dim), np.array(losses, dtype=float), params
