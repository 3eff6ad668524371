"""A past study as a cheap task: the GP model of its landscape, for meta-training on a user's own
studies.

Meta-training needs tasks it can evaluate thousands of times; a past study of the user's model
on another data set holds a few dozen evaluations. ``StudySurrogate`` stands in for that task
with the screen's scale-free GP (:func:`metahpo.screening.mean_predictor`) fitted to the study's
trials: the value of a configuration is the posterior mean of its normal score (the losses'
ranks through ``Φ⁻¹``, so lower is better and the study's units do not matter). The GP reverts
to the prior mean 0 (the study's median) far from the trials, so a policy trained on such tasks
learns where the studies found good configurations and how to refine there, not the landscape
outside what they tried.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.screening import mean_predictor, normal_scores
from metahpo.space import SearchSpace
from metahpo.tasks.base import Task

#: Candidates scored per GP evaluation (bounds the memory of the cross-kernel).
CHUNK = 4096


class StudySurrogate(Task):
    """The GP surrogate of one past study.

    Args:
        study_name: the study's name; the task's name adds a hash of its trials, so that
            cached regret bounds (:func:`metahpo.tasks.bounds.task_bounds`) follow the data.
        space: the search space the trials are encoded in.
        points: the study's completed trials as unit-cube points ``(n, D)``.
        losses: their losses, lower is better ``(n,)``.
    """

    cheap = True
    direction = "minimize"

    def __init__(self, study_name: str, space: SearchSpace, points: np.ndarray,
                 losses: np.ndarray) -> None:
        points = np.asarray(points, dtype=float).reshape(-1, space.dim)
        losses = np.asarray(losses, dtype=float)
        if len(points) != len(losses) or len(losses) < 2:
            raise MetaHPOError(f"study {study_name!r}: a surrogate needs at least 2 trials with "
                               f"one loss each, got {len(points)} points and {len(losses)} losses")
        digest = hashlib.sha1(points.tobytes() + losses.tobytes()).hexdigest()[:10]
        self.name = f"study:{study_name}:{digest}"
        self.study_name = study_name
        self.space = space
        self._mean = mean_predictor(points, normal_scores(losses))

    def evaluate(self, params: Mapping[str, Any]) -> float:
        return float(self.evaluate_unit(self.space.encode(params)[None, :])[0])

    def evaluate_unit(self, u: np.ndarray) -> np.ndarray:
        u = np.atleast_2d(np.asarray(u, dtype=float))
        return np.concatenate([self._mean(u[s:s + CHUNK]) for s in range(0, len(u), CHUNK)])
