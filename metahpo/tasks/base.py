"""The task contract: a search space, a direction and a way to score configurations.

A task is what meta-training samples and what benchmarks run: a data set and a model (or a
surrogate or synthetic function standing in for one) with its hyperparameter space. Optimizers
never see tasks; the tune loop and the benchmark runner call them.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping

import numpy as np

from metahpo.space import SearchSpace


class Task(abc.ABC):
    """A tunable objective.

    Attributes:
        name: a short unique name, e.g. ``"digits-cnn"`` or ``"lcbench/7593"``.
        space: the hyperparameter search space.
        direction: ``"minimize"`` or ``"maximize"`` the value returned by :meth:`evaluate`.
    """

    name: str
    space: SearchSpace
    direction: str
    #: True where ``evaluate_unit`` is cheap and vectorised (surrogates, synthetic functions), so
    #: that a strong best value can be computed for normalized regret (see ``tasks.bounds``).
    cheap: bool = False

    @abc.abstractmethod
    def evaluate(self, params: Mapping[str, Any]) -> float:
        """The objective value (e.g. validation accuracy) of one configuration."""

    def __call__(self, params: Mapping[str, Any]) -> float:
        return self.evaluate(params)

    def evaluate_unit(self, u: np.ndarray) -> np.ndarray:
        """Objective values of unit-cube points ``(n, dim)``, shape ``(n,)``.

        Vectorised tasks (surrogates, synthetic functions) override this to score many
        configurations in one call; the default decodes and evaluates one by one.
        """
        u = np.atleast_2d(np.asarray(u, dtype=float))
        return np.array([self.evaluate(self.space.decode(row)) for row in u], dtype=float)

    def test_score(self, params: Mapping[str, Any]) -> float | None:
        """Held-out test score of a configuration, where the task has a test split."""
        return None
