"""Task distributions p(T) for meta-training.

A distribution samples batches of :class:`TrainingTask` — a task with its normalization bounds
and per-dimension descriptors. Every task of one batch has the same dimension, so that episodes
batch into tensors.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.tasks.base import Task
from metahpo.tasks.bounds import Bounds, task_bounds
from metahpo.tasks.registry import HELD_OUT_SEED
from metahpo.tasks.synthetic import FAMILIES, SyntheticTask


@dataclass(frozen=True)
class TrainingTask:
    """A task ready for rollouts: losses (lower is better) and their normalization."""

    task: Task
    bounds: Bounds

    @property
    def sign(self) -> float:
        return 1.0 if self.task.direction == "minimize" else -1.0

    def losses(self, u: np.ndarray) -> np.ndarray:
        """Losses of unit-cube points ``(n, D)``, shape ``(n,)``."""
        return self.sign * self.task.evaluate_unit(u)

    def regret_of_losses(self, best_loss_so_far: np.ndarray) -> np.ndarray:
        return self.bounds.regret(self.sign * best_loss_so_far)


class TaskDistribution(abc.ABC):
    """A distribution over tasks."""

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> list[TrainingTask]:
        """``n`` tasks of one dimension."""

    @abc.abstractmethod
    def describe(self) -> list[str]:
        """Names of the training tasks or families, recorded in checkpoints."""


class FixedTasks(TaskDistribution):
    """Draws (with replacement) from a fixed list of tasks of one space, e.g. lcbench instances.

    Bounds use :func:`task_bounds` with its defaults (strong best, cached on disk) unless
    ``n_random`` is lowered for quick runs.
    """

    def __init__(self, tasks: Sequence[Task], *, n_random: int = 200_000) -> None:
        if not tasks:
            raise MetaHPOError("a task distribution needs at least one task")
        spaces = {t.space for t in tasks}
        if len(spaces) != 1:
            raise MetaHPOError("FixedTasks needs tasks that share one search space")
        kwargs: dict[str, Any] = {} if n_random >= 200_000 else {"n_random": n_random, "rounds": 10}
        self.tasks = [TrainingTask(t, task_bounds(t, **kwargs)) for t in tasks]
        self.space = tasks[0].space

    def sample(self, rng: np.random.Generator, n: int) -> list[TrainingTask]:
        return [self.tasks[i] for i in rng.integers(len(self.tasks), size=n)]

    def describe(self) -> list[str]:
        return [t.task.name for t in self.tasks]


class SyntheticFamily(TaskDistribution):
    """Fresh random functions of synthetic families; seeds stay below the held-out range.

    Args:
        families: names from :data:`metahpo.tasks.synthetic.FAMILIES`.
        dims: dimensions to draw from (one per batch).
        center, spread: see :class:`SyntheticTask` (``sphere`` only).
    """

    def __init__(self, families: Sequence[str] = FAMILIES, dims: Sequence[int] = (2, 3, 4, 6, 8),
                 *, center: float | None = None, spread: float = 0.05) -> None:
        unknown = set(families) - set(FAMILIES)
        if unknown:
            raise MetaHPOError(f"unknown synthetic families {sorted(unknown)}; known: "
                               f"{', '.join(FAMILIES)}")
        self.families = list(families)
        self.dims = [int(d) for d in dims]
        self.center, self.spread = center, spread

    def sample(self, rng: np.random.Generator, n: int) -> list[TrainingTask]:
        dim = int(rng.choice(self.dims))
        out = []
        for _ in range(n):
            family = self.families[int(rng.integers(len(self.families)))]
            kwargs: dict[str, Any] = ({"center": self.center, "spread": self.spread}
                                      if family == "sphere" else {})
            task = SyntheticTask(family, dim, int(rng.integers(HELD_OUT_SEED)), **kwargs)
            out.append(TrainingTask(task, task_bounds(task, n_random=4096, rounds=10, samples=50,
                                                      use_cache=False)))
        return out

    def describe(self) -> list[str]:
        return [f"synthetic:{f} dims={self.dims}" for f in self.families]


class Mixture(TaskDistribution):
    """Each batch comes from one component, chosen with the given weights."""

    def __init__(self, components: Sequence[TaskDistribution], weights: Sequence[float] | None = None):
        if not components:
            raise MetaHPOError("a mixture needs at least one component")
        self.components = list(components)
        w = np.ones(len(components)) if weights is None else np.asarray(weights, dtype=float)
        self.weights = w / w.sum()

    def sample(self, rng: np.random.Generator, n: int) -> list[TrainingTask]:
        k = int(rng.choice(len(self.components), p=self.weights))
        return self.components[k].sample(rng, n)

    def describe(self) -> list[str]:
        return [name for c in self.components for name in c.describe()]
