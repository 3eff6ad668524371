"""Best and worst values of a task, for normalized regret.

Normalized regret of a search = (best - best found so far) / (best - worst), clipped at 0 (for
minimization the signs flip). Its quality depends on ``best``: with only 20,000 random
configurations, strong optimizers beat the "best" on lcbench in most runs and late differences
vanish on the clip-at-0 floor. So ``best`` is the best of ``n_random`` uniform configurations
(default 200,000) refined by a Gaussian local search in the unit cube around the top
``n_starts`` of them; ``worst`` is the worst of the random sample. Computed once with a fixed
seed and cached as JSON (``$METAHPO_CACHE`` or ``~/.cache/metahpo``), keyed by task name and
settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from metahpo.tasks.base import Task


@dataclass(frozen=True)
class Bounds:
    """Best and worst objective values of a task (in the task's own units and direction)."""

    best: float
    worst: float
    direction: str

    def regret(self, values: ArrayLike) -> np.ndarray:
        """Normalized regret of best-so-far values (any shape), clipped to ``[0, 1]``."""
        values = np.asarray(values, dtype=float)
        span = self.worst - self.best
        if span == 0:
            return np.zeros_like(values)
        return np.clip((values - self.best) / span, 0.0, 1.0)


def cache_dir() -> Path:
    return Path(os.environ.get("METAHPO_CACHE", Path.home() / ".cache" / "metahpo"))


def local_search(task: Task, starts: np.ndarray, rng: np.random.Generator, rounds: int,
                 samples: int, sign: float) -> tuple[np.ndarray, np.ndarray]:
    """Improve each start ``(k, dim)`` by Gaussian perturbations in the unit cube with a
    shrinking step; returns the final points ``(k, dim)`` and their losses ``(k,)``
    (``sign * value``)."""
    points = starts.copy()
    values = sign * task.evaluate_unit(points)
    sigma = np.full(len(points), 0.1)
    for _ in range(rounds):
        cand = points[:, None, :] + sigma[:, None, None] * rng.normal(size=(len(points), samples, points.shape[1]))
        cand = task.space.snap(np.clip(cand, 0.0, 1.0).reshape(-1, points.shape[1]))
        cand = cand.reshape(len(points), samples, -1)
        v = sign * task.evaluate_unit(cand.reshape(-1, points.shape[1])).reshape(len(points), samples)
        j = v.argmin(axis=1)
        better = v[np.arange(len(points)), j] < values
        points[better] = cand[np.arange(len(points)), j][better]
        values[better] = v[np.arange(len(points)), j][better]
        sigma = np.where(better, sigma, np.maximum(sigma * 0.7, 1e-3))
    return points, values


def task_bounds(task: Task, *, n_random: int = 200_000, n_starts: int = 20, rounds: int = 40,
                samples: int = 100, seed: int = 0, use_cache: bool = True) -> Bounds:
    """Best and worst values of ``task`` (see the module docstring); cached on disk."""
    key = json.dumps([task.name, n_random, n_starts, rounds, samples, seed])
    path = cache_dir() / "bounds" / (hashlib.sha1(key.encode()).hexdigest()[:16] + ".json")
    if use_cache and path.exists():
        try:
            data = json.loads(path.read_text())
            return Bounds(**data["bounds"])
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    rng = np.random.default_rng(seed)
    sign = 1.0 if task.direction == "minimize" else -1.0
    values = []
    points_top: list[np.ndarray] = []
    vals_top: list[np.ndarray] = []
    chunk = 50_000
    for start in range(0, n_random, chunk):
        u = task.space.snap(rng.random((min(chunk, n_random - start), task.space.dim)))
        v = sign * task.evaluate_unit(u)
        values.append(v)
        top = np.argsort(v)[:n_starts]
        points_top.append(u[top])
        vals_top.append(v[top])
    allv = np.concatenate(values)
    cand, cv = np.concatenate(points_top), np.concatenate(vals_top)
    starts = cand[np.argsort(cv)[:n_starts]]
    _, refined = local_search(task, starts, rng, rounds, samples, sign)
    best = sign * min(float(allv.min()), float(refined.min()))
    worst = sign * float(allv.max())
    bounds = Bounds(best=best, worst=worst, direction=task.direction)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": json.loads(key), "bounds": asdict(bounds)}))
        os.replace(tmp, path)
    return bounds
