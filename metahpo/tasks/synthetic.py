"""Synthetic task families of any dimension, for space-agnostic meta-training and for tests.

Each family draws random functions on the unit cube ``[0, 1]^d`` (minimized; parameters
``x0 .. x{d-1}`` in ``[0, 1]``); a seed fixes one function. All are vectorised: ``evaluate_unit``
scores ``(n, d)`` points in one call.

* ``sphere``: ``Σ_j s_j (x_j - c_j)^2`` with scales ``s_j`` log-uniform in ``[0.1, 10]`` and
  the optimum ``c`` uniform in ``[0.15, 0.85]^d`` — or, with ``center`` given, normal around it
  (sd ``spread``), a family whose good region a learned prior can find.
* ``gp``: a draw from a Gaussian-process prior (RBF kernel, random lengthscales per dimension,
  a quarter of the dimensions irrelevant), approximated by 128 random Fourier features, plus
  a bowl around a random centre, so that every draw has one large basin of attraction.
* ``rosenbrock``: ``log(1 + f)`` of a shifted, rescaled Rosenbrock valley (curved,
  ill-conditioned).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.space import Float, SearchSpace
from metahpo.tasks.base import Task

FAMILIES = ("sphere", "gp", "rosenbrock")


def unit_space(dim: int) -> SearchSpace:
    return SearchSpace([Float(f"x{i}", 0.0, 1.0) for i in range(dim)])


class SyntheticTask(Task):
    """One random function of a synthetic family.

    Args:
        family: ``"sphere"``, ``"gp"`` or ``"rosenbrock"``.
        dim: number of dimensions (>= 1).
        seed: fixes the draw.
        center, spread: for ``sphere``, draw the optimum around ``center`` (one number or one
            per dimension) with standard deviation ``spread`` instead of uniformly.
    """

    direction = "minimize"
    cheap = True

    def __init__(self, family: str, dim: int, seed: int, *, center: float | Sequence[float] | None = None,
                 spread: float = 0.05) -> None:
        if family not in FAMILIES:
            raise MetaHPOError(f"unknown synthetic family {family!r}; known: {', '.join(FAMILIES)}")
        if not isinstance(dim, int) or dim < 1:
            raise MetaHPOError(f"synthetic dim must be a positive int, got {dim!r}")
        self.family, self.dim, self.seed = family, dim, seed
        self.space = unit_space(dim)
        self.name = f"synthetic:{family}/{dim}d/{seed}"
        rng = np.random.default_rng([seed, dim, FAMILIES.index(family)])
        if center is None:
            self.optimum = rng.uniform(0.15, 0.85, dim)
        else:
            c = np.broadcast_to(np.asarray(center, dtype=float), (dim,))
            self.optimum = np.clip(c + spread * rng.normal(size=dim), 0.02, 0.98)
        self.scales = np.exp(rng.uniform(np.log(0.1), np.log(10.0), dim))
        if family == "gp":
            lengths = np.exp(rng.uniform(np.log(0.1), np.log(0.6), dim))
            lengths[rng.random(dim) < 0.25] = np.inf
            m = 128
            self._w = rng.normal(size=(m, dim)) / lengths
            self._b = rng.uniform(0, 2 * np.pi, m)
            self._a = rng.normal(size=m) * np.sqrt(2.0 / m)
            self._bowl = rng.uniform(0.5, 2.0)

    def evaluate_unit(self, u: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(u, dtype=float))
        d = x - self.optimum
        if self.family == "sphere":
            return (self.scales * d**2).sum(axis=1)
        if self.family == "gp":
            rff = np.cos(x @ self._w.T + self._b) @ self._a
            rff0 = np.cos(self.optimum @ self._w.T + self._b) @ self._a
            return rff - rff0 + self._bowl * (d**2).sum(axis=1)
        z = 4.0 * d + 1.0
        if self.dim == 1:
            return np.log1p((z[:, 0] - 1.0) ** 2)
        valley = (100.0 * (z[:, 1:] - z[:, :-1] ** 2) ** 2 + (1.0 - z[:, :-1]) ** 2).sum(axis=1)
        return np.log1p(valley / self.dim)

    def evaluate(self, params: Mapping[str, Any]) -> float:
        return float(self.evaluate_unit(self.space.encode(params)[None, :])[0])


def sample_tasks(family: str, dims: Sequence[int], n: int, seed: int, **kwargs: Any) -> list[SyntheticTask]:
    """``n`` tasks of a family, dimensions cycling through ``dims``, seeds ``seed, seed+1, ...``."""
    return [SyntheticTask(family, int(dims[i % len(dims)]), seed + i, **kwargs) for i in range(n)]
