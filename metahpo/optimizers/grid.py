"""Grid search that spreads its first points over the whole space.

The grid: ``resolution`` evenly spaced levels per continuous parameter (ends included), every
value of an integer or stepped parameter that has at most ``resolution`` values (else
``resolution`` evenly spaced ones), and every categorical choice.

The order: a farthest-point traversal. The first trial is the grid point nearest the centre of the
unit cube; each next one is the unvisited grid point farthest (Euclidean, unit cube) from every
trial asked or told so far. So a budget smaller than the grid still covers the space evenly instead
of sweeping one corner, and trials added from elsewhere (resume, other workers) are taken into
account. Grids of up to ``exact_limit`` points are traversed exactly; larger ones pick the best of
``n_candidates`` random grid points per trial.

In a conditional space, grid points that differ only in inactive parameters are one
configuration (see :mod:`metahpo.conditions`) and are proposed once; forbidden grid points (see
:mod:`metahpo.forbidden`) are not proposed.

When every point has been proposed, the grid is refined (``resolution -> 2 * resolution - 1``,
which keeps the old levels) and the traversal continues; a finite discrete space that cannot be
refined any further is proposed again from the start.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.space import Categorical, Float, SearchSpace


def grid_levels(space: SearchSpace, resolution: int) -> list[np.ndarray]:
    """Unit-cube coordinates of the grid levels of each parameter (sorted, unique)."""
    levels = []
    for p in space:
        if isinstance(p, Categorical) or (p.n_values is not None and p.n_values <= resolution):
            n = p.n_values
            levels.append((np.arange(n) + 0.5) / n)
        elif isinstance(p, Float) and p.step is None:
            levels.append(np.linspace(0.0, 1.0, resolution) if resolution > 1 else np.array([0.5]))
        else:
            raw = np.linspace(0.0, 1.0, resolution) if resolution > 1 else np.array([0.5])
            snapped = np.unique([p.encode(p.decode(u)) for u in raw])
            levels.append(snapped)
    return levels


#: Elements of the largest array of distances :func:`_nearest_distances` builds at once
#: (32 MB of float64).
_CHUNK_ELEMENTS = 2**22


def _nearest_distances(cands: np.ndarray, selected: list[np.ndarray]) -> np.ndarray:
    """Distance ``(k,)`` from each of ``cands`` ``(k, D)`` to the nearest of ``selected`` (unit
    cube points), ``inf`` without any.

    The squared differences are summed one coordinate at a time over a ``(k, block)`` array,
    for a block of ``selected`` at a time: built at once, ``(k, n, D)``, they took 490 MB per
    proposal at 100 trials of a 300-parameter space, growing with the trials, and their sum
    over the short last axis cost 40 ms per proposal at 1000 trials of lcbench's 7."""
    mindist = np.full(len(cands), np.inf)
    if not selected:
        return mindist
    sel = np.stack(selected)
    block = max(1, _CHUNK_ELEMENTS // len(cands))
    for start in range(0, len(sel), block):
        part = sel[start:start + block]
        squared = np.zeros((len(cands), len(part)))
        for j in range(cands.shape[1]):
            squared += (cands[:, j, None] - part[None, :, j]) ** 2
        mindist = np.minimum(mindist, np.sqrt(squared).min(axis=1))
    return mindist


class GridSearch(Optimizer):
    """Grid search in farthest-point order.

    Options:
        resolution: levels per continuous parameter (>= 1), default 5.
        exact_limit: largest grid traversed exactly, default 50,000 points.
        n_candidates: random grid points scored per trial on larger grids, default 2,048.
    """

    name = "grid"

    def __init__(self, space: SearchSpace, *, resolution: int = 5, exact_limit: int = 50_000,
                 n_candidates: int = 2048, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise MetaHPOError(f"grid: resolution must be an int >= 1, got {resolution!r}")
        self.resolution = resolution
        self.exact_limit = int(exact_limit)
        self.n_candidates = int(n_candidates)
        self._set_grid(resolution)

    def _set_grid(self, resolution: int) -> None:
        self._resolution_now = resolution
        self._levels = grid_levels(self.space, resolution)
        self._size = math.prod(len(lv) for lv in self._levels)
        self._points: np.ndarray | None = None
        if self._size <= self.exact_limit:
            mesh = np.meshgrid(*self._levels, indexing="ij")
            self._points = self._distinct(np.stack([m.reshape(-1) for m in mesh], axis=1))
        self._mindist: np.ndarray | None = None
        self._folded: set[int] = set()
        self._offset = 0

    def _withdrawn(self, trial: Any) -> None:
        """A withdrawn trial's point is free again: the distances are folded anew."""
        self._mindist = None

    def _selected(self) -> dict[int, np.ndarray]:
        out = {r.number: self.unit_point(r.number, r.params) for r in self._history}
        out.update({t.number: self.unit_point(t.number, t.params) for t in self._pending.values()})
        return {k: v for k, v in out.items() if k >= self._offset}

    def _propose(self) -> dict[str, Any]:
        for _ in range(64):
            u = self._next_point()
            if u is not None:
                return self.space.decode(u)
            finer = 2 * self._resolution_now - 1
            old_size = self._size
            offset = self._next_number
            self._set_grid(finer)
            if self._size == old_size:
                self._offset = offset
        raise MetaHPOError("grid: could not find an unvisited grid point")

    def _next_point(self) -> np.ndarray | None:
        selected = self._selected()
        if self._points is not None:
            cands = self._points
            if self._mindist is None:
                self._mindist = np.full(len(cands), np.inf)
                self._folded = set()
            for number, x in selected.items():
                if number not in self._folded:
                    d = np.sqrt(((cands - x) ** 2).sum(axis=1))
                    self._mindist = np.minimum(self._mindist, d)
                    self._folded.add(number)
            mindist = self._mindist
        else:
            idx = [self._rng.integers(len(lv), size=self.n_candidates) for lv in self._levels]
            cands = np.stack([lv[i] for lv, i in zip(self._levels, idx)], axis=1)
            centre = np.array([lv[np.argmin(np.abs(lv - 0.5))] for lv in self._levels])
            cands = self._distinct(np.vstack([centre[None, :], cands]))
            mindist = _nearest_distances(cands, list(selected.values()))
        if not len(cands):
            return None
        best = mindist.max()
        if best <= 1e-9:
            return None
        ties = np.flatnonzero(mindist >= best - 1e-9) if np.isfinite(best) else np.arange(len(cands))
        centre = np.abs(cands[ties] - 0.5).sum(axis=1)
        ties = ties[centre <= centre.min() + 1e-9]
        return cands[ties[self._rng.integers(len(ties))]]

    def _distinct(self, points: np.ndarray) -> np.ndarray:
        """Grid ``points`` ``(n, D)`` with those of one configuration merged (in a conditional
        space: inactive coordinates set to the space's middle, first occurrences kept in order)
        and the forbidden ones left out."""
        if self.space.is_conditional:
            snapped = self.space.snap(points)
            _, first = np.unique(snapped, axis=0, return_index=True)
            points = snapped[np.sort(first)]
        if self.space.forbidden:
            points = points[~self.space.forbidden_mask(self.space.snap(points))]
        return points

    def _extra_state(self) -> dict[str, Any]:
        return {"resolution_now": self._resolution_now, "offset": self._offset}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        if extra:
            self._set_grid(int(extra["resolution_now"]))
            self._offset = int(extra["offset"])
